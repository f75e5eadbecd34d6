"""Opening and pressing the emailed link, called as the views call it."""

from __future__ import annotations

from datetime import timedelta
from ipaddress import ip_address, ip_network

import pytest
import sqlalchemy as sa
from itsdangerous import URLSafeTimedSerializer

from app.core.actor import Actor
from app.delisting import confirmation
from app.delisting.tokens import CONFIRM_SALT, TokenError, sign_confirmation
from app.extensions import db
from app.listing import blocklist
from app.models import DelistRequest, RequestStatus
from tests.helpers import T0
from tests.helpers_delisting import SENDER, link_of, list_networks, mails, submit, trail

pytestmark = pytest.mark.usefixtures("ctx")

PRESSED = T0 + timedelta(minutes=20)
DELAY = timedelta(hours=1)  # DELIST_DELAY_SECONDS


def pending(ip="203.0.113.7"):
    """A pending request for `ip` (listed here unless it is already) and its link."""
    if blocklist.find_listing(ip_address(ip), T0) is None:
        list_networks(ip)
    request = submit(ip).delist_request
    return request, link_of(mails()[-1])


def refusal(action, *args, **kwargs) -> TokenError:
    with pytest.raises(TokenError) as refused:
        action(*args, **kwargs)
    return refused.value


class TestOpening:
    def test_opening_shows_the_request_and_the_listing_and_changes_nothing(self):
        request, link = pending()
        before = trail()
        shown, listing = confirmation.open_confirmation(link, PRESSED)
        assert (shown.id, listing.network) == (request.id, "203.0.113.7/32")
        assert (shown.status, shown.confirmed_at) == (RequestStatus.PENDING, None)
        assert trail() == before

    def test_opening_when_the_address_is_no_longer_listed_shows_no_listing(self):
        request, link = pending()
        blocklist.remove_listing(ip_network("203.0.113.7/32"), actor=Actor("op"), now=T0)
        assert confirmation.open_confirmation(link, PRESSED) == (request, None)

    def test_opening_after_the_listings_removal_took_effect_shows_no_listing(self):
        request, link = pending()
        blocklist.schedule_removal(
            request.listing,
            T0 + timedelta(minutes=5),
            delist_request=request,
            actor=Actor("operator:ana"),
            now=T0,
        )
        assert confirmation.open_confirmation(link, T0)[1].id == request.listing_id
        assert confirmation.open_confirmation(link, PRESSED) == (request, None)

    def test_an_expired_link_the_worker_has_not_closed_yet_says_expired(self):
        request, link = pending()
        assert request.status == RequestStatus.PENDING
        end = request.expires_at
        assert confirmation.open_confirmation(link, end - timedelta(microseconds=1))[0] == request
        # The signature is still young enough; the request's own expiry decides.
        request.expires_at = PRESSED
        assert refusal(confirmation.open_confirmation, link, PRESSED).reason == "expired"

    def test_a_link_the_worker_expired_says_expired(self):
        request, link = pending()
        request.status = RequestStatus.EXPIRED
        assert refusal(confirmation.open_confirmation, link, PRESSED).reason == "expired"

    def test_a_used_link_says_used_and_names_its_request(self):
        request, link = pending()
        confirmation.confirm(link, actor=SENDER, now=PRESSED)
        refused = refusal(confirmation.open_confirmation, link, PRESSED + timedelta(seconds=1))
        assert (refused.reason, refused.delist_request.id) == ("used", request.id)

    @pytest.mark.parametrize(
        "status", [RequestStatus.NEEDS_REVIEW, RequestStatus.DENIED, RequestStatus.CANCELLED]
    )
    def test_a_link_of_a_request_that_is_no_longer_pending_is_invalid(self, status):
        request, link = pending()
        request.status = status
        assert refusal(confirmation.open_confirmation, link, PRESSED).reason == "invalid"

    def test_a_link_replaced_by_a_newer_one_is_invalid(self):
        request, link = pending()
        submit("203.0.113.7", now=T0 + timedelta(minutes=10))
        assert refusal(confirmation.open_confirmation, link, PRESSED).reason == "invalid"
        assert refusal(confirmation.confirm, link, actor=SENDER, now=PRESSED).reason == "invalid"
        assert request.status == RequestStatus.PENDING

    def test_a_link_for_an_unknown_request_or_one_without_a_nonce_is_invalid(self):
        request, _ = pending()
        unknown = sign_confirmation(request.id + 100, "some-nonce")
        assert refusal(confirmation.open_confirmation, unknown, PRESSED).reason == "invalid"
        request.nonce_hash = None
        db.session.flush()
        own = sign_confirmation(request.id, "some-nonce")
        assert refusal(confirmation.open_confirmation, own, PRESSED).reason == "invalid"
        assert refusal(confirmation.confirm, own, actor=SENDER, now=PRESSED).reason == "invalid"

    def test_a_link_with_the_right_id_and_a_wrong_nonce_is_invalid(self):
        request, link = pending()
        from flask import current_app

        serializer = URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=CONFIRM_SALT)
        forged = sign_confirmation(request.id, serializer.loads(link)[1] + "x")
        assert refusal(confirmation.open_confirmation, forged, PRESSED).reason == "invalid"
        assert refusal(confirmation.confirm, forged, actor=SENDER, now=PRESSED).reason == "invalid"


class TestPressing:
    def test_pressing_schedules_the_removal_after_the_delay(self):
        request, link = pending()
        listing = request.listing
        confirmed = confirmation.confirm(link, actor=SENDER, now=PRESSED)
        db.session.commit()
        assert confirmed.id == request.id
        assert (request.status, request.confirmed_at, request.listing_id) == (
            RequestStatus.SCHEDULED,
            PRESSED,
            listing.id,
        )
        assert request.removal_effective_at == PRESSED + DELAY
        assert request.closed_at is None
        assert (listing.removal_effective_at, listing.removal_request_id) == (
            PRESSED + DELAY,
            request.id,
        )
        assert listing.removal_scheduled_by == "sender"
        assert trail("request.confirmed", "removal.scheduled", "request.done") == [
            ("request.confirmed", "sender", None, request.id, None, PRESSED),
            (
                "removal.scheduled",
                "sender",
                listing.id,
                request.id,
                "effective 2026-03-02T10:20:00+00:00",
                PRESSED,
            ),
        ]

    def test_pressing_twice_schedules_once_and_says_used(self):
        request, link = pending()
        confirmation.confirm(link, actor=SENDER, now=PRESSED)
        refused = refusal(
            confirmation.confirm, link, actor=SENDER, now=PRESSED + timedelta(minutes=5)
        )
        assert (refused.reason, refused.delist_request.id) == ("used", request.id)
        assert request.removal_effective_at == PRESSED + DELAY
        assert len(trail("request.confirmed")) == 1

    def test_pressing_an_expired_link_the_worker_has_not_closed_says_expired(self):
        request, link = pending()
        request.expires_at = PRESSED
        db.session.flush()
        assert refusal(confirmation.confirm, link, actor=SENDER, now=PRESSED).reason == "expired"
        assert (request.status, request.confirmed_at) == (RequestStatus.PENDING, None)
        # A moment earlier it still worked.
        confirmation.confirm(link, actor=SENDER, now=PRESSED - timedelta(microseconds=1))
        assert request.status == RequestStatus.SCHEDULED

    def test_a_link_replaced_while_it_is_being_pressed_is_refused(self):
        """Another transaction gave the request a new link after this one read it."""
        request, link = pending()
        db.session.execute(
            sa.update(DelistRequest)
            .where(DelistRequest.id == request.id)
            .values(nonce_hash="0" * 64)
            .execution_options(synchronize_session=False)
        )
        assert refusal(confirmation.confirm, link, actor=SENDER, now=PRESSED).reason == "invalid"
        assert (request.status, request.confirmed_at) == (RequestStatus.PENDING, None)
        assert trail("request.confirmed") == []

    def test_pressing_a_link_of_a_request_in_another_state_is_invalid(self):
        request, link = pending()
        request.status = RequestStatus.DENIED
        db.session.flush()
        assert refusal(confirmation.confirm, link, actor=SENDER, now=PRESSED).reason == "invalid"
        assert request.confirmed_at is None

    def test_pressing_when_the_address_is_no_longer_listed_closes_the_request(self):
        request, link = pending()
        blocklist.remove(request.listing, actor=Actor("op"), now=T0 + timedelta(minutes=1))
        confirmation.confirm(link, actor=SENDER, now=PRESSED)
        assert (request.status, request.removal_effective_at, request.closed_at) == (
            RequestStatus.DONE,
            PRESSED,
            PRESSED,
        )
        assert trail("request.confirmed", "request.done", "removal.scheduled") == [
            ("request.confirmed", "sender", None, request.id, None, PRESSED),
            ("request.done", "sender", None, request.id, "not listed", PRESSED),
        ]

    def test_pressing_for_an_address_now_listed_through_a_range_goes_to_review(self):
        request, link = pending("192.0.2.9")
        blocklist.remove(request.listing, actor=Actor("op"), now=T0)
        [range_listing] = list_networks("192.0.2.0/24", now=T0 + timedelta(minutes=1))
        confirmation.confirm(link, actor=SENDER, now=PRESSED)
        assert (request.status, request.removal_effective_at) == (RequestStatus.NEEDS_REVIEW, None)
        assert range_listing.removal_effective_at is None
        assert trail("request.needs_review") == [
            (
                "request.needs_review",
                "sender",
                range_listing.id,
                request.id,
                "listed through the range 192.0.2.0/24",
                PRESSED,
            )
        ]

    @pytest.mark.parametrize("app_overrides", [{"DELIST_DELAY_SECONDS": 0}])
    def test_with_no_delay_the_removal_is_in_force_at_once(self):
        request, link = pending()
        confirmation.confirm(link, actor=SENDER, now=PRESSED)
        assert request.removal_effective_at == PRESSED
        assert not blocklist.is_listed_now(request.address, PRESSED)

    def test_an_earlier_scheduled_removal_of_the_listing_is_kept(self):
        request, link = pending()
        listing = request.listing
        blocklist.schedule_removal(
            listing,
            PRESSED + timedelta(minutes=5),
            delist_request=request,
            actor=Actor("operator:ana"),
            now=T0,
        )
        confirmation.confirm(link, actor=SENDER, now=PRESSED)
        assert request.removal_effective_at == PRESSED + timedelta(minutes=5)
        assert request.listing_id == listing.id
