"""Metrics for Prometheus: who may read the portal's /metrics, what the portal, the worker and
the policy service count. (tests/test_prometheus.py has a real Prometheus read them.)"""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY, CollectorRegistry

from app import create_app
from app.cli.metrics import WorkerMetrics
from app.policy.check import ask
from app.policy.metrics import LATENCY_BOUNDS, PolicyMetrics
from tests.helpers import (
    BASE_CONFIG,
    CONFIRM_LINK_RE,
    T0,
    SmtpSink,
    add_listings,
    press_delist,
    run_worker,
    running_policy_server,
    submit_form,
)

TOKEN = "metrics-token-0123456789"


def portal_figure(name: str, **labels: str) -> float:
    """One sample of this process's portal metrics (0 before the first count)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scraped(collector) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(collector)
    return registry


def metrics_app(tmp_path, **settings):
    return create_app({**BASE_CONFIG, "DATABASE_URL": f"sqlite:///{tmp_path}/x.db", **settings})


def get_metrics(app, address: str = "127.0.0.1", **headers: str):
    return app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": address}, headers=headers)


# --- who may read /metrics ---------------------------------------------------------------


def test_loopback_reads_metrics_without_a_cookie_or_a_rate_limit(tmp_path, limit_on_every_page):
    app = metrics_app(tmp_path, **limit_on_every_page)
    for address in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
        for _ in range(3):  # more than the default limit of every other page
            response = get_metrics(app, address)
            assert response.status_code == 200
            assert "Set-Cookie" not in response.headers
    assert response.mimetype == "text/plain"
    assert "# TYPE delist_portal_http_requests_total counter" in response.text


@pytest.mark.parametrize("address", ["192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1"])
def test_other_networks_are_refused_unless_allowed(tmp_path, address):
    response = get_metrics(metrics_app(tmp_path), address)
    assert (response.status_code, response.text) == (403, "metrics: not served to this address\n")
    allowed = metrics_app(tmp_path, METRICS_ALLOW=["192.0.2.0/24", "2001:db8::/32"])
    assert get_metrics(allowed, address).status_code == 200


def test_the_bearer_token_opens_metrics_from_anywhere_and_only_the_right_one(tmp_path):
    app = metrics_app(tmp_path, METRICS_TOKEN=TOKEN)
    assert get_metrics(app, "192.0.2.1", Authorization=f"Bearer {TOKEN}").status_code == 200
    for wrong in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        response = get_metrics(app, "192.0.2.1", **wrong)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert get_metrics(app, "127.0.0.1").status_code == 200  # loopback still needs none
    assert get_metrics(app, "127.0.0.1", Authorization="Bearer wrong").status_code == 401


# --- what the portal counts ----------------------------------------------------------------


def portal_figures() -> dict[str, float]:
    return {
        "form": portal_figure(
            "delist_portal_http_requests_total", endpoint="portal.index", status="200"
        ),
        "timed": portal_figure(
            "delist_portal_http_request_duration_seconds_count", endpoint="portal.index"
        ),
        "unmatched": portal_figure(
            "delist_portal_http_requests_total", endpoint="none", status="404"
        ),
        "submitted": portal_figure("delist_portal_submissions_total", outcome="check_inbox"),
        "not_listed": portal_figure("delist_portal_submissions_total", outcome="not_listed"),
        "confirmed": portal_figure("delist_portal_confirmations_total", status="scheduled"),
    }


def test_requests_submissions_and_confirmations_are_counted(app, client, smtp_sink):
    add_listings(app, "203.0.113.7")
    before = portal_figures()
    submit_form(client, "sender@example.org", "203.0.113.7")
    submit_form(client, "sender@example.org", "198.51.100.99")
    client.get("/no-such-page")
    run_worker(app)
    [link] = CONFIRM_LINK_RE.findall(smtp_sink.messages[0].get_body(("plain",)).get_content())
    assert press_delist(client, link).status_code == 303

    after = portal_figures()
    assert {name: after[name] - before[name] for name in before} == {
        "form": 4,  # two forms loaded, two sent
        "timed": 4,
        "unmatched": 1,
        "submitted": 1,
        "not_listed": 1,
        "confirmed": 1,
    }


def test_rate_limit_hits_are_counted_by_endpoint(app, client):
    app.config["API_RATE_LIMIT"] = "1 per hour"
    before = portal_figure("delist_portal_rate_limit_hits_total", endpoint="api.lookup")
    assert [client.get("/api/v1/lookup/192.0.2.1").status_code for _ in range(2)] == [200, 429]
    assert portal_figure("delist_portal_rate_limit_hits_total", endpoint="api.lookup") == (
        before + 1
    )


# --- the worker ------------------------------------------------------------------------------


def test_the_worker_reports_its_passes_and_the_outbox(app, client, time_machine):
    add_listings(app, "203.0.113.7")
    figures = WorkerMetrics(app)
    registry = scraped(figures)
    submit_form(client, "sender@example.org", "203.0.113.7")  # queues a mail, due now
    time_machine.move_to(T0 + timedelta(seconds=90))
    assert registry.get_sample_value("delist_worker_outbox_messages", {"status": "queued"}) == 1
    assert registry.get_sample_value("delist_worker_outbox_oldest_due_age_seconds") == 90
    assert registry.get_sample_value("delist_worker_last_success_timestamp_seconds") is None

    figures.passed(run_worker(app))  # no mail server listens: the attempt fails
    assert registry.get_sample_value("delist_worker_mail_attempts_total") == 1
    assert registry.get_sample_value("delist_worker_mail_failures_total") == 1
    assert registry.get_sample_value("delist_worker_outbox_oldest_due_age_seconds") == 0
    assert registry.get_sample_value("delist_worker_last_success_timestamp_seconds") == (
        (T0 + timedelta(seconds=90)).timestamp()
    )

    sink = SmtpSink(app.config["MAIL_PORT"])
    sink.start()
    try:
        time_machine.move_to(T0 + timedelta(hours=1))  # after the retry's backoff
        figures.passed(run_worker(app))
    finally:
        sink.stop()
    assert len(sink.messages) == 1
    assert registry.get_sample_value("delist_worker_mail_attempts_total") == 2
    assert registry.get_sample_value("delist_worker_mail_failures_total") == 1
    assert registry.get_sample_value("delist_worker_mail_given_up_total") == 0
    assert registry.get_sample_value("delist_worker_outbox_messages", {"status": "queued"}) == 0


def test_the_worker_answers_a_scrape_while_the_database_is_away(tmp_path):
    app = create_app({**BASE_CONFIG, "DATABASE_URL": f"sqlite:///{tmp_path}/none/x.db"})
    figures = WorkerMetrics(app)
    figures.failed()
    registry = scraped(figures)
    assert registry.get_sample_value("delist_worker_passes_failed_total") == 1
    assert registry.get_sample_value("delist_worker_outbox_messages", {"status": "queued"}) is None


def test_metrics_listen_is_refused_with_once_and_on_a_taken_port(runner):
    result = runner.invoke(args=["worker", "--once", "--metrics-listen", "127.0.0.1:9101"])
    assert result.exit_code == 2
    assert "--metrics-listen serves the loop's figures: leave out --once" in result.output
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        for command in ("worker", "policy-server"):
            result = runner.invoke(args=[command, "--metrics-listen", address])
            assert result.exit_code == 1
            assert f"cannot listen on {address} for metrics: Address already in use" in (
                result.output
            )
    result = runner.invoke(args=["policy-server", "--metrics-listen", "9101"])
    assert result.exit_code == 2
    assert "--metrics-listen '9101': expected HOST:PORT" in result.output


# --- the policy service -------------------------------------------------------------------------


def test_the_policy_service_counts_requests_rejections_and_malformed_ones(app):
    add_listings(app, "203.0.113.7", "192.0.2.0/24", permanent=True)
    with running_policy_server(app) as server:
        registry = scraped(PolicyMetrics(server))
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            assert ask(sock, "203.0.113.7").startswith("550")
            assert ask(sock, "198.51.100.1") == "DUNNO"
            sock.sendall(b"request=something_else\n\n")
            assert sock.recv(4096) == b"action=DUNNO\n\n"
            assert registry.get_sample_value("delist_policy_connections_open") == 1
        sample = registry.get_sample_value
        assert sample("delist_policy_requests_total") == 3
        assert sample("delist_policy_rejections_total") == 1
        assert sample("delist_policy_malformed_requests_total") == 1
        assert sample("delist_policy_index_listings") == 2
        buckets = [
            sample("delist_policy_answer_seconds_bucket", {"le": repr(bound)})
            for bound in LATENCY_BOUNDS
        ]
        assert buckets == sorted(buckets)  # cumulative
        assert sample("delist_policy_answer_seconds_bucket", {"le": "+Inf"}) == 3
        assert sample("delist_policy_answer_seconds_count") == 3
        assert sample("delist_policy_answer_seconds_sum") > 0


def test_the_index_age_starts_again_at_each_successful_refresh(app):
    with running_policy_server(app) as server:
        registry = scraped(PolicyMetrics(server))
        server.refreshed_at -= 600  # as if the database had been away for ten minutes
        assert registry.get_sample_value("delist_policy_index_age_seconds") >= 600
        server.refresh_once()
        assert registry.get_sample_value("delist_policy_index_age_seconds") < 600
