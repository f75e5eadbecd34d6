"""Admin requests (approve, deny), mail (resend), audit log (filter, CSV), import upload."""

import csv
import io
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.cli import worker
from app.core.actor import Actor
from app.core.clock import utcnow
from app.extensions import db
from app.listing import blocklist
from app.listing.addresses import parse_network
from app.models import AuditEvent, DelistRequest, Listing, OutboxMessage
from tests.helpers import T0, page_text, run_worker, submit_form
from tests.helpers_admin import post_form, signed_in, upload


@pytest.fixture
def admin(app):
    return signed_in(app, "admin")


@pytest.fixture
def review_request(app, client):
    """A sender asks to delist an address listed through a range: it waits for review."""
    with app.app_context():
        blocklist.add_listing(parse_network("192.0.2.0/24"), "Botnet", actor=Actor("t"), now=T0)
        db.session.commit()
    submit_form(client, "sender@example.org", "192.0.2.55")
    with app.app_context():
        return db.session.scalar(sa.select(DelistRequest.id))


def mail_to_sender(app):
    with app.app_context():
        return db.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.kind == "decision")
        ).all()


def test_request_list_filters_by_status_and_search(app, admin, review_request):
    assert "192.0.2.55" in page_text(admin.get("/admin/requests?status=needs_review"))
    assert "192.0.2.55" not in page_text(admin.get("/admin/requests?status=pending"))
    assert "192.0.2.55" in page_text(admin.get("/admin/requests?q=SENDER@example"))
    assert "192.0.2.55" in page_text(admin.get("/admin/requests?q=192.0.2.55"))
    assert "No requests match" in page_text(admin.get("/admin/requests?q=198.51.100.1"))


def test_approving_a_review_schedules_the_removal_and_mails_the_sender(
    app, admin, review_request, smtp_sink
):
    page = f"/admin/requests/{review_request}"
    assert "Approving removes the whole range 192.0.2.0/24" in page_text(admin.get(page))
    response = post_form(admin, page, f"{page}/approve", why="Cleaned up, thanks")
    assert response.status_code == 303
    with app.app_context():
        request = db.session.get(DelistRequest, review_request)
        assert request.status == "scheduled"
        assert request.removal_effective_at == T0 + timedelta(hours=1)
        worker.run_once(utcnow())
    [message] = smtp_sink.messages
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "approved the removal" in text and "Cleaned up, thanks" in text
    [event] = db_events(app, "request.approved")
    assert event.actor == "operator:admin@example.net"


def test_denying_a_review_tells_the_sender_why(app, admin, review_request):
    page = f"/admin/requests/{review_request}"
    post_form(admin, page, f"{page}/deny", why="Spam still arrives from this network")
    with app.app_context():
        assert db.session.get(DelistRequest, review_request).status == "denied"
    [message] = mail_to_sender(app)
    assert "Spam still arrives from this network" in message.body_text
    again = post_form(admin, page, f"{page}/approve", why="changed my mind")
    assert again.status_code == 303
    assert "not waiting for review" in page_text(admin.get(page))


def db_events(app, action):
    with app.app_context():
        return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)).all()


def test_failed_mail_can_be_sent_again(app, admin, client, smtp_sink):
    with app.app_context():
        blocklist.add_listing(parse_network("203.0.113.7"), "Spam", actor=Actor("t"), now=T0)
        db.session.commit()
    submit_form(client, "sender@example.org", "203.0.113.7")
    with app.app_context():
        message = db.session.scalar(sa.select(OutboxMessage))
        message.status, message.attempts, message.last_error = "failed", 8, "550 mailbox full"
        db.session.commit()
        message_id = message.id
    assert "550 mailbox full" in page_text(admin.get("/admin/mail?status=failed"))
    response = post_form(admin, "/admin/mail", f"/admin/mail/{message_id}/resend")
    assert response.status_code == 303
    assert run_worker(app).delivery.sent == 1
    assert len(smtp_sink.messages) == 1
    assert len(db_events(app, "mail.resent")) == 1


def test_audit_log_filters_and_exports_csv(app, admin):
    with app.app_context():
        blocklist.add_listing(
            parse_network("203.0.113.7"), 'Spam, "quoted"', actor=Actor("cli:root"), now=T0
        )
        blocklist.add_listing(
            parse_network("198.51.100.7"), "Other", actor=Actor("operator:x"), now=T0
        )
        db.session.commit()
    text = page_text(admin.get("/admin/audit?actor=cli:"))
    assert "cli:root" in text and "operator:x" not in text
    response = admin.get("/admin/audit.csv?action=listing.")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["actor"] for row in rows] == ["cli:root", "operator:x"]
    assert rows[0]["detail"] == 'Spam, "quoted"'


def test_import_upload_reports_added_duplicate_and_rejected_lines(app, admin):
    data = b"203.0.113.7\n203.0.113.7\nnot-an-ip\n198.51.100.0/24\n"
    response = upload(admin, data, reason="Spamhaus", name="list.txt")
    assert response.status_code == 200
    text = page_text(response)
    assert "2 added, 1 already listed, 1 rejected" in text
    assert "not-an-ip" in text
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Listing)) == 2
    export = admin.get("/admin/export.csv")
    networks = [
        row["network"] for row in csv.DictReader(io.StringIO(export.get_data(as_text=True)))
    ]
    assert sorted(networks) == ["198.51.100.0/24", "203.0.113.7/32"]


def test_import_without_a_file_is_a_form_error(admin):
    response = post_form(admin, "/admin/import", "/admin/import", reason="x")
    assert response.status_code == 400
    assert 'id="file-error"' in response.text


def test_dashboard_counts(app, admin, review_request):
    text = page_text(admin.get("/admin/"))
    assert "Active listings 1" in text
    assert "Requests needing review 1" in text


def test_every_decision_and_import_leaves_an_audit_row_with_who_and_where(
    app, admin, review_request, client
):
    page = f"/admin/requests/{review_request}"
    post_form(admin, page, f"{page}/deny", why="not yet")
    [denied] = db_events(app, "request.denied")
    assert (denied.actor, denied.detail, denied.client_address) == (
        "operator:admin@example.net",
        "not yet",
        "127.0.0.1",
    )
    upload(admin, b"198.51.100.1\n")
    [imported] = db_events(app, "listing.imported")
    assert imported.actor == "operator:admin@example.net"
    assert imported.detail == "1 added, 0 already listed, 0 rejected"


def test_a_pending_request_can_get_a_new_link_from_an_operator(app, admin, client):
    with app.app_context():
        blocklist.add_listing(parse_network("203.0.113.7"), "Spam", actor=Actor("t"), now=T0)
        db.session.commit()
    submit_form(client, "sender@example.org", "203.0.113.7")
    with app.app_context():
        request_id = db.session.scalar(sa.select(DelistRequest.id))
    page = f"/admin/requests/{request_id}"
    post_form(admin, page, f"{page}/new-link", why="sender lost the mail")
    with app.app_context():
        statuses = db.session.scalars(sa.select(OutboxMessage.status)).all()
    assert statuses == ["cancelled", "queued"]  # the unsent older link is withdrawn
    assert len(db_events(app, "request.link_reissued")) == 1
