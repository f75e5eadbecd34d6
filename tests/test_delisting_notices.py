"""The mail a sender gets about a request: what it says, where it links, in which language."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.delisting import confirmation, notices, review
from app.delisting.tokens import hash_nonce, read_confirmation
from tests.helpers import T0
from tests.helpers_delisting import (
    OPERATOR,
    SENDER,
    link_of,
    list_networks,
    mails,
    submit,
)

pytestmark = pytest.mark.usefixtures("ctx")

BASE = "https://delist.example.test"


def text(message) -> str:
    """The plain text body with its lines joined (the templates wrap prose)."""
    return " ".join(message.body_text.split())


@pytest.mark.parametrize(
    "app_overrides", [{"CONFIRM_TOKEN_MAX_AGE_SECONDS": 7200, "DELIST_DELAY_SECONDS": 1800}]
)
def test_the_confirmation_mail_carries_a_working_link_and_the_settings():
    list_networks("203.0.113.7")
    request = submit("203.0.113.7").delist_request
    [message] = mails()
    assert (message.kind, message.recipient, message.request_id, message.status) == (
        "confirmation",
        "sender@example.org",
        request.id,
        "queued",
    )
    assert message.subject == "Confirm the removal of 203.0.113.7 from our blocked-senders list"
    link = link_of(message)
    assert f"{BASE}/confirm/{link}" in message.body_text
    assert f"{BASE}/confirm/{link}" in message.body_html
    assert f"{BASE}/requests/{request.public_id}" in message.body_text
    body = text(message)
    assert "The link works once, for 2 hours." in body
    assert "leaves the list after 30 minutes." in body
    assert request.expires_at == T0 + timedelta(hours=2)
    token = read_confirmation(link)
    assert hash_nonce(token.nonce) == request.nonce_hash


def test_the_mail_is_written_in_the_senders_language():
    list_networks("203.0.113.7", "192.0.2.0/24")
    request = submit("203.0.113.7", locale="ja").delist_request
    [message] = mails()
    assert message.subject == "203.0.113.7 を当社の送信拒否リストから削除することの確認"
    confirmation.confirm(link_of(message), actor=SENDER, now=T0)
    notices.mail_removed(request, T0 + timedelta(hours=1))
    assert mails("removed")[0].subject == "203.0.113.7 は当社の送信拒否リストから削除されました"
    in_review = submit("192.0.2.9", locale="ja", email="r@example.org").delist_request
    review.deny(in_review, actor=OPERATOR, why="no", now=T0)
    assert (
        mails("decision")[0].subject == "192.0.2.9 を当社の送信拒否リストから削除する申請について"
    )


def test_a_new_link_cancels_the_unsent_older_mail_only():
    list_networks("203.0.113.7")
    request = submit("203.0.113.7").delist_request
    first = mails()[0]
    notices.mail_decision(request, True, "x", T0)  # another kind stays queued
    later = T0 + timedelta(hours=3)
    notices.mail_new_link(request, request.listing, later)
    older, decision, newer = mails()
    assert (older.id, older.status, older.secret) == (first.id, "cancelled", None)
    assert decision.status == "queued"
    assert newer.status == "queued" and newer.created_at == later
    token = read_confirmation(link_of(newer))
    assert hash_nonce(token.nonce) == request.nonce_hash
    assert request.expires_at == later + timedelta(days=1)


def test_new_link_gives_a_fresh_nonce_each_time():
    list_networks("203.0.113.7")
    request = submit("203.0.113.7").delist_request
    nonce = notices.new_link(request, T0 + timedelta(hours=1))
    assert request.nonce_hash == hash_nonce(nonce)
    assert request.expires_at == T0 + timedelta(hours=1, days=1)
    assert notices.new_link(request, T0) != nonce


def test_the_decision_mail_says_the_decision_and_why():
    list_networks("192.0.2.0/24")
    request = submit("192.0.2.9").delist_request
    notices.mail_decision(request, False, "Spam still arrives", T0)
    [message] = mails("decision")
    assert (message.recipient, message.request_id) == ("sender@example.org", request.id)
    assert message.subject == "Your request to remove 192.0.2.9 from our blocked-senders list"
    body = text(message)
    assert "could not approve it" in body and "Spam still arrives" in body
    assert f"{BASE}/requests/{request.public_id}" in body
    notices.mail_decision(request, True, "Fixed", T0)
    assert "approved the removal" in text(mails("decision")[1])


def test_the_removed_mail_links_to_help_and_the_status_page():
    list_networks("203.0.113.7")
    request = submit("203.0.113.7").delist_request
    request.removal_effective_at = T0 + timedelta(hours=1)
    notices.mail_removed(request, T0 + timedelta(hours=1))
    [message] = mails("removed")
    assert (message.recipient, message.request_id, message.secret) == (
        "sender@example.org",
        request.id,
        None,
    )
    assert message.subject == "203.0.113.7 is no longer on our blocked-senders list"
    assert f"{BASE}/help" in message.body_text
    assert f"{BASE}/requests/{request.public_id}" in message.body_text
    assert "took effect at Mar 2, 2026, 10:00:00" in text(message)
