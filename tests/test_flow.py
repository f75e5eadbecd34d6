"""The whole sender flow through the real delivery path, with the clock under control."""

import ipaddress
from datetime import timedelta

import sqlalchemy as sa

from app.core.actor import Actor
from app.core.clock import utcnow
from app.extensions import db
from app.listing import blocklist
from app.listing.addresses import parse_network
from app.models import DelistRequest, Listing
from tests.helpers import CONFIRM_LINK_RE, T0, page_text, press_delist, run_worker, submit_form

ADDRESS = ipaddress.ip_address("203.0.113.7")


def listed_now(app) -> bool:
    with app.app_context():
        return blocklist.is_listed_now(ADDRESS, utcnow())


def test_submit_mail_link_delist_then_removal_after_the_delay(app, client, smtp_sink, time_machine):
    with app.app_context():
        blocklist.add_listing(
            parse_network("203.0.113.7"), "Spam trap hits", actor=Actor("op"), now=T0
        )
        db.session.commit()
    assert listed_now(app)

    submitted = submit_form(client, "postmaster@example.com", "203.0.113.7")
    status_url = submitted.text.split('href="/requests/', 1)[1].split('"', 1)[0]
    assert "Waiting for your confirmation" in page_text(client.get(f"/requests/{status_url}"))

    time_machine.move_to(T0 + timedelta(seconds=30))
    assert run_worker(app).delivery.sent == 1
    [mail] = smtp_sink.messages
    [link] = CONFIRM_LINK_RE.findall(mail.get_body(preferencelist=("plain",)).get_content())

    time_machine.move_to(T0 + timedelta(hours=2))  # the sender reads the mail later
    assert press_delist(client, link).status_code == 303
    confirmed_at = T0 + timedelta(hours=2)
    assert listed_now(app), "removal must wait for DELIST_DELAY_SECONDS"

    time_machine.move_to(confirmed_at + timedelta(minutes=59, seconds=59))
    assert listed_now(app)
    time_machine.move_to(confirmed_at + timedelta(hours=1))
    assert not listed_now(app), "removal takes effect on time, with no worker run"

    status = page_text(client.get(f"/requests/{status_url}"))
    assert "Removed from the list" in status
    for step in (
        "Request received",
        "Email sent",
        "Delisting confirmed",
        "Removal scheduled",
        "Removal took effect",
    ):
        assert step in status

    report = run_worker(app)
    assert report.removals_finalised == 1
    with app.app_context():
        listing = db.session.scalar(sa.select(Listing))
        request = db.session.scalar(sa.select(DelistRequest))
        assert listing.removed_at == confirmed_at + timedelta(hours=1)
        assert listing.removal_request_id == request.id
        assert listing.listed_at == T0
        assert request.status == "done"
    assert not listed_now(app)

    # The sender hears that the removal took effect, in the same pass.
    assert len(smtp_sink.messages) == 2
    removed = smtp_sink.messages[1]
    assert removed["Subject"] == "203.0.113.7 is no longer on our blocked-senders list"
    assert smtp_sink.envelopes[1][1] == [smtp_sink.envelopes[0][1][0]]
    text = removed.get_body(preferencelist=("plain",)).get_content()
    assert "took effect at Mar 2, 2026, 12:00:00" in text.replace("\n", " ")
    assert "https://delist.example.test/help" in text
    assert f"https://delist.example.test/requests/{status_url}" in text
    assert run_worker(app).delivery.sent == 0  # told once

    # Listed again later for new abuse: the history stays and the new listing bites.
    time_machine.move_to(T0 + timedelta(days=3))
    with app.app_context():
        blocklist.add_listing(
            parse_network("203.0.113.7"), "Spam again", actor=Actor("op"), now=utcnow()
        )
        db.session.commit()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Listing)) == 2
    assert listed_now(app)


def test_worker_expires_unconfirmed_requests(app, client, smtp_sink, time_machine):
    with app.app_context():
        blocklist.add_listing(parse_network("203.0.113.7"), "Spam", actor=Actor("op"), now=T0)
        db.session.commit()
    submitted = submit_form(client, "postmaster@example.com", "203.0.113.7")
    status_url = submitted.text.split('href="/requests/', 1)[1].split('"', 1)[0]
    time_machine.move_to(T0 + timedelta(days=1))
    assert "Expired" in page_text(client.get(f"/requests/{status_url}"))
    assert run_worker(app).requests_expired == 1
    with app.app_context():
        assert db.session.scalar(sa.select(DelistRequest.status)) == "expired"
    assert "Link expired without confirmation" in page_text(client.get(f"/requests/{status_url}"))
    assert listed_now(app)


def test_status_page_of_an_unknown_request_is_404(client):
    assert client.get("/requests/unknown-request-id-000").status_code == 404
    assert client.get("/requests/x").status_code == 404


def test_zero_delay_removes_at_once(app, client, smtp_sink):
    app.config["DELIST_DELAY_SECONDS"] = 0
    with app.app_context():
        blocklist.add_listing(parse_network("203.0.113.7"), "Spam", actor=Actor("op"), now=T0)
        db.session.commit()
    submit_form(client, "postmaster@example.com", "203.0.113.7")
    run_worker(app)
    [link] = CONFIRM_LINK_RE.findall(
        smtp_sink.messages[0].get_body(preferencelist=("plain",)).get_content()
    )
    response = press_delist(client, link)
    assert not listed_now(app)
    assert "Removed from the list" in page_text(client.get(response.headers["Location"]))


def test_the_sender_can_ask_for_a_new_link_from_the_status_page(
    app, client, smtp_sink, time_machine
):
    from tests.helpers import csrf_token

    with app.app_context():
        blocklist.add_listing(parse_network("203.0.113.7"), "Spam", actor=Actor("op"), now=T0)
        db.session.commit()
    submitted = submit_form(client, "postmaster@example.com", "203.0.113.7")
    status_url = "/requests/" + submitted.text.split('href="/requests/', 1)[1].split('"', 1)[0]
    run_worker(app)

    def press():
        page = client.get(status_url)
        token = csrf_token(page.text)
        return client.post(f"{status_url}/resend", data={"csrf_token": token})

    assert press().status_code == 303
    assert "You can ask again after" in page_text(client.get(status_url))  # too soon
    time_machine.move_to(T0 + timedelta(minutes=6))
    press()
    assert "A new link is on its way" in page_text(client.get(status_url))
    run_worker(app)
    first, second = (
        CONFIRM_LINK_RE.findall(m.get_body(preferencelist=("plain",)).get_content())[0]
        for m in smtp_sink.messages
    )
    assert client.get(first.removeprefix("https://delist.example.test")).status_code == 404
    assert client.get(second.removeprefix("https://delist.example.test")).status_code == 200
