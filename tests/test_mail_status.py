"""The status page says what our mail server answered for each email: accepted, deferred
(we retry) or refused, with its reply word for word, in English and Japanese."""

from __future__ import annotations

import sqlalchemy as sa

from app.delisting.sender_view import MailOutcome, mail_outcome
from app.extensions import db
from app.models import DelistRequest, OutboxMessage
from tests.helpers import SmtpSink, add_listings, page_text, run_worker, submit_form
from tests.helpers_mail import RefusingServer, smtp_server


def status_after_one_try(app, client, handler=None, language: str = "en") -> str:
    """Submit the form, let the worker try once against `handler` (nothing listening when
    None), and read the status page in `language`."""
    add_listings(app, "203.0.113.7")
    submit_form(client, "sender@example.com", "203.0.113.7")
    if handler is None:
        run_worker(app)
    else:
        with smtp_server(handler, app.config["MAIL_PORT"]):
            run_worker(app)
    with app.app_context():
        public_id = db.session.scalar(sa.select(DelistRequest.public_id))
    client.set_cookie("lang", language)
    return page_text(client.get(f"/requests/{public_id}"))


def outcomes(app) -> list[MailOutcome]:
    with app.app_context():
        return [mail_outcome(m) for m in db.session.scalars(sa.select(OutboxMessage))]


def test_accepted_mail_shows_the_time_and_the_servers_reply(app, client):
    page = status_after_one_try(app, client, SmtpSink(app.config["MAIL_PORT"]))
    assert outcomes(app) == [MailOutcome.ACCEPTED]
    assert "accepted by our mail server for delivery at Mar 2, 2026, 9:00:00 AM UTC" in page
    assert "Our mail server's reply: 250 OK" in page


def test_a_temporary_refusal_says_we_retry_and_when(app, client):
    page = status_after_one_try(app, client, RefusingServer("451 4.7.1 Greylisted, try later"))
    assert outcomes(app) == [MailOutcome.DEFERRED]
    assert (
        "not delivered yet: attempt 1 failed; we try again at Mar 2, 2026, 9:01:00 AM UTC" in page
    )
    assert "Our mail server's reply: 451 4.7.1 Greylisted, try later" in page


def test_an_unreachable_mail_server_is_said_so_without_its_address(app, client):
    page = status_after_one_try(app, client)
    assert outcomes(app) == [MailOutcome.DEFERRED]
    assert "not delivered yet: attempt 1 failed" in page
    assert "Our mail server could not be reached." in page
    assert "127.0.0.1" not in page and "Errno" not in page


def test_a_refusal_shows_the_reply_and_that_we_stop(app, client):
    page = status_after_one_try(app, client, RefusingServer("550 5.1.1 No such user here"))
    assert outcomes(app) == [MailOutcome.REFUSED]
    assert "could not be delivered; we will not try again" in page
    assert "Our mail server's reply: 550 5.1.1 No such user here" in page


def test_the_answer_is_in_japanese_too(app, client):
    page = status_after_one_try(app, client, RefusingServer("550 5.1.1 No such user here"), "ja")
    assert "配送できませんでした。再送はしません" in page
    assert "当社のメールサーバーの応答： 550 5.1.1 No such user here" in page


def test_an_email_not_tried_yet_is_waiting(app, client):
    add_listings(app, "203.0.113.7")
    submit_form(client, "sender@example.com", "203.0.113.7")
    assert outcomes(app) == [MailOutcome.WAITING]
