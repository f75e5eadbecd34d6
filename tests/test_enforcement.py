"""Enforcement points: policy servers and exports report their copy of the list, the sender's
status page says whether a removal has reached them all, the dashboard shows their age."""

from __future__ import annotations

import logging
import re
import socket
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.delisting import confirmation
from app.extensions import db
from app.models import DelistRequest, EnforcementPoint
from app.policy import index as policy_index
from app.policy.check import policy_request
from tests.helpers import T0, running_policy_server
from tests.helpers_admin import signed_in
from tests.helpers_delisting import SENDER, link_of, list_networks, mails, submit

# Refreshes happen when a test calls refresh_once(), never on their own.
pytestmark = pytest.mark.parametrize("app_overrides", [{"POLICY_REFRESH_SECONDS": 3600}])

EFFECTIVE = T0 + timedelta(seconds=3600)  # confirmed at T0, DELIST_DELAY_SECONDS later


def points(app) -> dict[str, EnforcementPoint]:
    with app.app_context():
        found = db.session.scalars(sa.select(EnforcementPoint)).all()
        db.session.expunge_all()
        return {point.name: point for point in found}


def confirmed_request(app) -> str:
    """203.0.113.7 listed and its removal confirmed at T0; the status page's id."""
    with app.app_context():
        list_networks("203.0.113.7")
        delist_request = submit("203.0.113.7").delist_request
        confirmation.confirm(link_of(mails()[0]), actor=SENDER, now=T0)
        db.session.commit()
        return delist_request.public_id


def export(runner, tmp_path, name: str, fmt: str = "rbldnsd"):
    output = str(tmp_path / f"copy.{fmt}")
    args = ["blocklist", "export", "--format", fmt, "--output", output, "--name", name]
    return runner.invoke(args=args)


def at(time_machine, moment) -> None:
    time_machine.move_to(moment, tick=False)


def answer(server, address: str) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(policy_request(address))
        reply = b""
        while not reply.endswith(b"\n\n"):
            reply += sock.recv(4096)
        return reply


def test_a_policy_server_reports_its_copy_when_it_starts_and_after_refreshes(app, time_machine):
    with app.app_context():
        list_networks("203.0.113.7", "192.0.2.0/24")
        db.session.commit()
    with running_policy_server(app) as server:
        name = f"{socket.gethostname()}:{server.port}"
        started = points(app)[name]
        assert (started.kind, started.listings, started.refreshed_at) == ("policy", 2, T0)
        assert (started.up_since, started.refresh_seconds) == (T0, 3600)
        at(time_machine, T0 + timedelta(seconds=10))
        server.refresh_once()
        assert points(app)[name].refreshed_at == T0 + timedelta(seconds=10)
        at(time_machine, T0 + timedelta(seconds=12))  # within a few seconds: no write
        server.refresh_once()
        beat = points(app)[name]
        assert (beat.refreshed_at, beat.up_since) == (T0 + timedelta(seconds=10), T0)


def test_after_a_database_outage_the_heartbeat_begins_a_new_run(app, time_machine, monkeypatch):
    with running_policy_server(app, "mx1") as server:

        def unreachable(*args, **kwargs):
            raise sa.exc.OperationalError("SELECT", {}, Exception("connection refused"))

        real_refresh = policy_index.refresh
        monkeypatch.setattr(policy_index, "refresh", unreachable)
        at(time_machine, T0 + timedelta(seconds=30))
        server.refresh_once()
        assert points(app)["mx1"].refreshed_at == T0  # nothing new to report
        monkeypatch.setattr(policy_index, "refresh", real_refresh)
        at(time_machine, T0 + timedelta(seconds=60))
        server.refresh_once()
        beat = points(app)["mx1"]
        assert beat.refreshed_at == beat.up_since == T0 + timedelta(seconds=60)


def test_a_heartbeat_the_database_cannot_take_never_stops_the_answers(app, time_machine, caplog):
    caplog.set_level(logging.INFO, logger="delist.policy")
    with app.app_context():
        list_networks("203.0.113.7")
        db.session.commit()
    rename = "ALTER TABLE {} RENAME TO {}"
    with running_policy_server(app, "mx1") as server:
        with app.app_context():
            db.session.execute(sa.text(rename.format("enforcement_point", "away")))
            db.session.commit()
        try:
            for seconds in (10, 20):
                at(time_machine, T0 + timedelta(seconds=seconds))
                server.refresh_once()
            assert answer(server, "203.0.113.7").startswith(b"action=550 ")
            assert answer(server, "203.0.113.8") == b"action=DUNNO\n\n"
        finally:
            with app.app_context():
                db.session.execute(sa.text(rename.format("away", "enforcement_point")))
                db.session.commit()
        failures = [r for r in caplog.records if "cannot record the heartbeat" in r.message]
        assert len(failures) == 1  # once, not at every refresh
        at(time_machine, T0 + timedelta(seconds=30))
        server.refresh_once()
        assert points(app)["mx1"].refreshed_at == T0 + timedelta(seconds=30)
        assert any("recorded again" in r.message for r in caplog.records)


@pytest.mark.parametrize("fmt", ["rbldnsd", "postfix-cidr"])
def test_an_export_for_mail_servers_reports_when_it_was_written(app, runner, tmp_path, fmt):
    with app.app_context():
        list_networks("203.0.113.7", "2001:db8::7")
        db.session.commit()
    result = runner.invoke(
        args=["blocklist", "export", "--format", fmt, "--output", str(tmp_path / "copy")]
    )
    assert result.exit_code == 0, result.output
    point = points(app)[f"{socket.gethostname()}:{tmp_path / 'copy'}"]
    assert (point.kind, point.listings, point.refreshed_at, point.refresh_seconds) == (
        fmt,
        2,
        T0,
        None,
    )


def test_a_csv_export_is_no_copy_mail_servers_use(app, runner, tmp_path):
    assert export(runner, tmp_path, "csv-copy", fmt="csv").exit_code == 0
    assert points(app) == {}


def test_an_export_name_too_long_is_refused_before_writing(app, runner, tmp_path):
    result = export(runner, tmp_path, "x" * 201)
    assert result.exit_code == 2
    assert "--name must be 1 to 200 characters" in result.output
    assert not (tmp_path / "copy.rbldnsd").exists()


def status_text(client, public_id: str, **headers) -> str:
    """The status page's HTML, white space folded, times in their sentence."""
    page = client.get(f"/requests/{public_id}", headers=headers)
    assert page.status_code == 200
    return " ".join(re.sub(r"</?time[^>]*>", "", page.text).split())


def test_the_status_page_says_which_mail_servers_apply_the_removal(
    app, client, runner, tmp_path, time_machine
):
    public_id = confirmed_request(app)
    with running_policy_server(app, "mx1") as one, running_policy_server(app, "mx2") as two:
        at(time_machine, EFFECTIVE - timedelta(seconds=10))
        one.refresh_once()
        two.refresh_once()
        assert export(runner, tmp_path, "dns1").exit_code == 0
        assert "apply the removal" not in status_text(client, public_id)  # not in effect yet

        at(time_machine, EFFECTIVE + timedelta(seconds=5))
        one.refresh_once()
        text = status_text(client, public_id)
        assert "1 of 3 of our mail servers apply the removal so far. Not yet:" in text
        assert "<code>dns1</code>: its copy of the list is from Mar 2, 2026, 9:59:50" in text
        assert "<code>mx2</code>" in text and "<code>mx1</code>" not in text

        assert export(runner, tmp_path, "dns1").exit_code == 0
        at(time_machine, EFFECTIVE + timedelta(seconds=20))
        two.refresh_once()
        text = status_text(client, public_id)
        assert "All 3 of our mail servers apply the removal since Mar 2, 2026, 10:00:20" in text
        assert "Not yet" not in text

        ja = status_text(client, public_id, **{"Accept-Language": "ja"})
        assert "当社のメールサーバー 3 台すべてが" in ja


def test_a_server_that_stopped_reporting_is_left_out(app, client, time_machine):
    public_id = confirmed_request(app)
    with running_policy_server(app, "mx1") as one, running_policy_server(app, "mx2"):
        at(time_machine, EFFECTIVE + timedelta(seconds=400))  # mx2's copy: 400 s old, stale
        one.refresh_once()
        text = status_text(client, public_id)
        assert "Our mail server applies the removal since Mar 2, 2026, 10:06:40" in text
        assert "mx2" not in text


def test_a_removal_in_a_running_servers_copy_applies_by_the_next_refresh(app, client, time_machine):
    """Refreshing without a break since before the removal, a server applied it at its
    first refresh after it: at most one refresh interval later, however late it reports."""
    public_id = confirmed_request(app)
    with running_policy_server(app, "mx1") as server:
        at(time_machine, EFFECTIVE + timedelta(seconds=4000))
        server.refresh_once()  # up since T0, refreshing every hour (3600 s) in this test
        text = status_text(client, public_id)
        assert "applies the removal since Mar 2, 2026, 11:00:00" in text  # 10:00 + an hour
        at(time_machine, EFFECTIVE + timedelta(seconds=4100))
        server.refresh_once()
        text = status_text(client, public_id)
        assert "applies the removal since Mar 2, 2026, 11:00:00" in text  # not moving on


def test_no_server_reporting_means_nothing_said_about_them(app, client, time_machine):
    public_id = confirmed_request(app)
    at(time_machine, EFFECTIVE + timedelta(seconds=5))
    text = status_text(client, public_id)
    assert "Removed from the list" in text
    assert "mail servers apply" not in text and "mail server applies" not in text
    with app.app_context():
        assert db.session.scalars(sa.select(DelistRequest)).one().public_id == public_id


def test_the_dashboard_shows_each_copy_of_the_list_and_flags_stale_ones(
    app, runner, tmp_path, time_machine
):
    with running_policy_server(app, "mx1") as server:
        assert export(runner, tmp_path, "dns1").exit_code == 0
        at(time_machine, T0 + timedelta(seconds=600))
        server.refresh_once()
        page = signed_in(app).get("/admin/")
    text = " ".join(page.text.split())
    assert "<tr><td><code>mx1</code></td><td>policy</td><td>0</td>" in text
    assert "current" in text
    assert '<tr class="stale"><td><code>dns1</code></td><td>rbldnsd</td>' in text
    assert "10 minutes <strong>stale</strong>" in text
