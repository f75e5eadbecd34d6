"""Help pages, and abuse reports from the public to the operators' queue."""

import sqlalchemy as sa

from app.extensions import db
from app.models import AbuseReport, AuditEvent
from tests.helpers import add_listings, csrf_token, page_text
from tests.helpers_admin import post_form, signed_in

HEADERS = """\
Return-Path: <bulk@spam.example>
Received: from mx.example.org (mx.example.org [192.0.2.25])
\tby inbox.example.org with ESMTPS; Mon, 2 Mar 2026 08:59:00 +0000
Received: from spam-host (unknown [198.51.100.66])
\tby mx.example.org with ESMTP; Mon, 2 Mar 2026 08:58:58 +0000
From: "Prize" <bulk@spam.example>
Subject: You won
"""


def test_the_help_page_answers_the_common_questions(client):
    response = client.get("/help")
    assert response.status_code == 200
    text = page_text(response)
    for heading in (
        "What the blocked-senders list is",
        "Reading the bounce message",
        "Removing an address, step by step",
        "Why the removal takes a while",
        "Staying off the list",
        "When self-service is refused",
        "The confirmation mail did not arrive",
        'It says "not listed", but my mail still bounces',
        "My address was listed again",
        "Reporting spam from a listed network",
    ):
        assert heading in text, heading
    # The operator's own reply and settings, not made-up ones.
    assert "550 5.7.606 Access denied, banned sending IP [203.0.113.7]" in text
    assert "https://delist.example.test/" in text
    assert "removed by self-service 2 times in 30 days" in text
    assert "The address leaves the list 1 hour later" in text
    assert 'href="/report"' in response.text


def send_report(client, email="reader@example.com", headers=HEADERS, note="Daily since March"):
    page = client.get("/report")
    assert page.status_code == 200
    data = {"csrf_token": csrf_token(page.text), "email": email, "headers": headers, "note": note}
    return client.post("/report", data=data)


def test_a_report_reaches_the_queue_with_the_addresses_in_its_headers(app, client):
    response = send_report(client)
    assert response.status_code == 200
    assert "your report has reached our operators" in page_text(response)
    with app.app_context():
        report = db.session.scalar(sa.select(AbuseReport))
        assert report.status == "open"
        assert report.address_list == ["192.0.2.25", "198.51.100.66"]
        assert report.note == "Daily since March"
        assert report.reporter_email == "reader@example.com"
        assert (
            db.session.scalar(
                sa.select(AuditEvent.detail).where(AuditEvent.action == "report.received")
            )
            == f"report {report.id}"
        )


def test_bad_reports_are_refused_next_to_the_field_and_store_nothing(app, client):
    cases = [
        ({"email": "not-an-address"}, "This email address is not valid"),
        ({"headers": ""}, "Paste the headers of the spam message."),
        ({"headers": "Subject: hi\nFrom: x@y.example"}, "Received:&#34; line"),
        ({"headers": "Received: " + "x" * 30_001}, "Paste the headers only"),
        ({"note": "n" * 2001}, "Please keep this under 2000 characters."),
    ]
    for changes, message in cases:
        response = send_report(client, **changes)
        assert response.status_code == 400, changes
        assert message in response.text, changes
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AbuseReport)) == 0


def test_reports_are_rate_limited_per_client_address(app, client):
    app.config["RATE_LIMIT_REPORT_PER_ADDRESS"] = "2 per hour"
    assert send_report(client).status_code == 200
    assert send_report(client).status_code == 200
    refused = send_report(client)
    assert refused.status_code == 429 and "Retry-After" in refused.headers


def test_operators_see_the_report_with_each_address_looked_up_and_close_it(app, client):
    add_listings(app, "198.51.100.0/24")
    send_report(client)
    admin = signed_in(app, "admin")
    queue = admin.get("/admin/reports")
    assert "reader@example.com" in queue.text and "192.0.2.25, 198.51.100.66" in page_text(queue)
    with app.app_context():
        report_id = db.session.scalar(sa.select(AbuseReport.id))
    detail = admin.get(f"/admin/reports/{report_id}")
    text = page_text(detail)
    assert "198.51.100.66 yes, as 198.51.100.0/24" in text
    assert "192.0.2.25 no" in text
    assert "Subject: You won" in text

    closed = post_form(
        admin,
        f"/admin/reports/{report_id}",
        f"/admin/reports/{report_id}/close",
        why="Listed the /24",
    )
    assert closed.status_code == 303
    assert "Report closed." in page_text(admin.get(f"/admin/reports/{report_id}"))
    assert "reader@example.com" not in admin.get("/admin/reports").text  # open ones by default
    assert "reader@example.com" in admin.get("/admin/reports?status=closed").text
    again = post_form(
        admin, f"/admin/reports/{report_id}", f"/admin/reports/{report_id}/close", why="twice"
    )
    assert again.status_code == 303
    assert "already closed" in page_text(admin.get(f"/admin/reports/{report_id}"))
