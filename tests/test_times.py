"""Times a sender can read: the reader's zone where we know it, UTC beside it, the zone named."""

import re
from datetime import timedelta

import pytest

from app.web.security import CONTENT_SECURITY_POLICY
from tests.helpers import CONFIRM_LINK_RE, T0, add_listings, press_delist, run_worker, submit_form

JA = {"Accept-Language": "ja"}


@pytest.mark.parametrize(
    ("headers", "shown"),
    [
        ({}, "Mar 2, 2026, 9:00:00\u202fAM UTC"),
        (JA, "2026/03/02 18:00:00 JST（9:00:00 UTC）"),
    ],
)
def test_a_page_carries_each_time_in_iso_utc_and_in_the_readers_zone(client, app, headers, shown):
    add_listings(app, "203.0.113.7")
    page = client.get("/lookup?ip=203.0.113.7", headers=headers).text
    assert f'<time datetime="2026-03-02T09:00:00Z">{shown}</time>' in page


def test_japan_time_gives_the_utc_date_too_when_the_day_differs(bare_app):
    from flask_babel import force_locale

    from app.web.formatting import time_text

    with bare_app.test_request_context(), force_locale("ja"):
        # 01:00 the next day in Japan
        text = time_text(T0 + timedelta(hours=7))
    assert text == "2026/03/03 1:00:00 JST（2026/03/02 16:00:00 UTC）"


def test_pages_load_the_time_script_from_our_own_site_under_the_strict_policy(client):
    response = client.get("/help", headers=JA)
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    scripts = re.findall(r"<script[^>]*>", response.text)
    assert scripts == ['<script src="/static/times.js" data-pattern="{local}（{utc}）" defer>']
    assert re.search(r"<script[^>]*>\s*[^<\s]", response.text) is None  # nothing inline
    with client.get("/static/times.js") as script:
        assert script.status_code == 200


def test_mails_say_times_as_text_in_the_senders_zone(app, client, smtp_sink, time_machine):
    add_listings(app, "203.0.113.7", "203.0.113.8")
    submit_form(client, "en@example.com", "203.0.113.7")
    submit_form(client, "ja@example.com", "203.0.113.8", **JA)
    run_worker(app)
    for message in smtp_sink.messages:
        text = message.get_body(preferencelist=("plain",)).get_content()
        press_delist(client, CONFIRM_LINK_RE.findall(text)[0])
    time_machine.move_to(T0 + timedelta(hours=1))
    run_worker(app)
    removed = {m["To"]: m for m in smtp_sink.messages[2:]}
    english = removed["en@example.com"].get_body(preferencelist=("plain",)).get_content()
    japanese = removed["ja@example.com"].get_body(preferencelist=("plain",)).get_content()
    assert "Mar 2, 2026, 10:00:00\u202fAM UTC" in english  # CLDR's narrow space
    assert "2026/03/02 19:00:00 JST（10:00:00 UTC）" in japanese
    assert "<time" not in english + japanese
    html = removed["ja@example.com"].get_body(preferencelist=("html",)).get_content()
    assert '<time datetime="2026-03-02T10:00:00Z">2026/03/02 19:00:00 JST' in html


@pytest.mark.parametrize(
    ("seconds", "english", "japanese"),
    [
        (0, "immediately", None),
        (60, "1 minute", "1 分"),
        (5400, "90 minutes", "90 分"),
        (86400, "1 day", "1 日"),
        (10 * 86400, "10 days", "10 日"),
        (14 * 86400, "2 weeks", "2 週間"),
        (365 * 86400, "1 year", "1 年"),
    ],
)
def test_durations_are_exact_never_rounded(bare_app, seconds, english, japanese):
    from flask_babel import force_locale

    from app.web.formatting import duration

    with bare_app.test_request_context():
        assert duration(seconds) == english
        with force_locale("ja"):
            assert japanese is None or duration(seconds) == japanese
