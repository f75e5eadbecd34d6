"""A real Prometheus (Debian's) scrapes the portal (gunicorn with two workers), the worker and
the policy service, and its HTTP API tells what happened: a submission, a delivered mail, a
confirmation and a rejection."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time

from app.policy.check import ask
from tests.helpers import BASE_CONFIG, free_port
from tests.helpers_browser import portal_with_mail
from tests.helpers_mta import require
from tests.helpers_prometheus import (
    Browser,
    flask_process,
    prometheus_server,
    targets_up,
    wait_for_values,
)

LISTED = "203.0.113.7"


def leave_stale_figures(folder) -> None:
    """What a portal that crashed would leave: a thousand requests of a dead process."""
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from prometheus_client import Counter\n"
            "Counter('delist_portal_http_requests', '', ['endpoint', 'status'])"
            ".labels('health.healthz', '200').inc(1000)",
        ],
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)},
        check=True,
    )


def workers_with_figures(folder) -> set[str]:
    """The processes that wrote request figures (multiprocess mode: a file per process)."""
    return {path.stem.split("_")[1] for path in folder.glob("counter_*.db")}


def hit_until_both_workers_counted(url: str, folder) -> int:
    """GET /healthz until each of gunicorn's two workers has answered some; how many sent."""
    browser, sent = Browser(url), 0
    while len(workers_with_figures(folder)) < 2 and sent < 500:
        browser.get("/healthz")
        sent += 1
    assert len(workers_with_figures(folder)) == 2, "one gunicorn worker answered everything"
    return sent


def wait_for_mail(sink, timeout: float = 30) -> str:
    """The confirmation link of the first mail the worker delivers."""
    deadline = time.monotonic() + timeout
    while not sink.messages and time.monotonic() < deadline:
        time.sleep(0.2)
    assert sink.messages, "the worker delivered no mail"
    text = sink.messages[0].get_body(("plain",)).get_content()
    return re.search(r"http://127\.0\.0\.1:\d+/confirm/\S+", text).group(0)


def test_prometheus_reads_the_portal_the_worker_and_the_policy_service(database_url, tmp_path):
    require("prometheus")  # skipped without it (failed on CI)
    figures = tmp_path / "portal-metrics"
    figures.mkdir()
    leave_stale_figures(figures)
    with portal_with_mail(
        database_url,
        LISTED,
        workers=2,
        CHALLENGE_ENABLED="false",
        PROMETHEUS_MULTIPROC_DIR=str(figures),
    ) as (app, url, sink):
        env = {
            **os.environ,
            "SECRET_KEY": BASE_CONFIG["SECRET_KEY"],
            "DATABASE_URL": database_url,
            "PUBLIC_BASE_URL": url,
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(app.config["MAIL_PORT"]),
        }
        worker_metrics, policy_port, policy_metrics = free_port(), free_port(), free_port()
        worker = ["worker", "--interval", "1", "--metrics-listen", f"127.0.0.1:{worker_metrics}"]
        policy = ["policy-server", "--listen", f"127.0.0.1:{policy_port}", "--processes", "1"]
        policy += ["--metrics-listen", f"127.0.0.1:{policy_metrics}"]
        targets = {
            "portal": url.removeprefix("http://"),
            "worker": f"127.0.0.1:{worker_metrics}",
            "policy": f"127.0.0.1:{policy_metrics}",
        }
        with (
            flask_process(worker, env, worker_metrics),
            flask_process(policy, env, policy_port),
            prometheus_server(targets) as prometheus,
        ):
            probes = hit_until_both_workers_counted(url, figures)
            browser = Browser(url)
            assert "Check your inbox" in browser.submit("sender@example.org", LISTED)
            browser.press_delist(wait_for_mail(sink))
            with socket.create_connection(("127.0.0.1", policy_port), timeout=10) as sock:
                assert ask(sock, LISTED).startswith("550 5.7.606")

            timed_form = (
                'delist_portal_http_request_duration_seconds_count{endpoint="portal.index"}'
            )
            wait_for_values(
                prometheus,
                {
                    'count(up{job=~"portal|worker|policy"} == 1)': 3,
                    # both workers' figures added up; the stale file's thousand are gone
                    'sum(delist_portal_http_requests_total{endpoint="health.healthz"})': probes,
                    'sum(delist_portal_submissions_total{outcome="check_inbox"})': 1,
                    "sum(delist_portal_confirmations_total)": 1,
                    f"sum({timed_form})": 2,  # the form, loaded and sent
                    "delist_worker_mail_attempts_total": 1,
                    "delist_worker_mail_failures_total": 0,
                    'delist_worker_outbox_messages{status="queued"}': 0,
                    "delist_policy_requests_total": 1,
                    "delist_policy_rejections_total": 1,
                    "delist_policy_malformed_requests_total": 0,
                    "delist_policy_answer_seconds_count": 1,
                    "delist_policy_index_listings": 1,
                },
            )
            assert set(targets_up(prometheus).values()) == {"up"}
