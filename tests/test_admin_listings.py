"""Admin listings: search, pagination, detail, and the audited actions."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.core.actor import Actor
from app.core.clock import utcnow
from app.extensions import db
from app.listing import blocklist
from app.listing.addresses import parse_network
from app.models import AuditEvent, DelistRequest, Listing
from tests.helpers import T0, page_text
from tests.helpers_admin import post_form, signed_in


def add(app, text, reason="spam", now=T0):
    with app.app_context():
        listing = blocklist.add_listing(
            parse_network(text), reason, actor=Actor("t"), now=now
        ).listing
        db.session.commit()
        return listing.id


def networks(response):
    return re.findall(r'href="/admin/listings/\d+">([^<]+)</a>', response.text)


@pytest.fixture
def admin(app):
    return signed_in(app, "admin")


def test_search_by_address_finds_the_ranges_that_contain_it(app, admin):
    add(app, "10.0.0.0/8")
    add(app, "10.1.0.0/16")
    add(app, "10.1.2.3")
    add(app, "192.0.2.1")
    assert networks(admin.get("/admin/listings?q=10.1.2.3")) == [
        "10.1.2.3/32",
        "10.1.0.0/16",
        "10.0.0.0/8",
    ]
    assert networks(admin.get("/admin/listings?q=10.9.9.9")) == ["10.0.0.0/8"]


def test_search_by_cidr_finds_what_is_inside_and_around_it(app, admin):
    add(app, "10.0.0.0/8")
    add(app, "10.1.2.3")
    add(app, "10.1.200.0/24")
    add(app, "10.2.0.1")
    assert sorted(networks(admin.get("/admin/listings?q=10.1.0.0/16"))) == [
        "10.0.0.0/8",
        "10.1.2.3/32",
        "10.1.200.0/24",
    ]


def test_search_by_reason_text_and_bad_cidr(app, admin):
    add(app, "192.0.2.1", reason="Hit our spam traps")
    add(app, "192.0.2.2", reason="Botnet 100% confirmed")
    assert networks(admin.get("/admin/listings?q=SPAM+traps")) == ["192.0.2.1/32"]
    assert networks(admin.get("/admin/listings?q=100%25")) == ["192.0.2.2/32"]
    response = admin.get("/admin/listings?q=192.0.2.0/33")
    assert response.status_code == 400
    assert "not an IP address or CIDR range" in page_text(response)


def test_state_filters(app, admin, time_machine):
    add(app, "192.0.2.1")
    scheduled = add(app, "192.0.2.2")
    add(app, "192.0.2.3")
    with app.app_context():
        blocklist.remove_listing(parse_network("192.0.2.3"), actor=Actor("t"), now=T0)
        listing = db.session.get(Listing, scheduled)
        listing.removal_effective_at = T0 + timedelta(hours=1)
        db.session.commit()
    assert networks(admin.get("/admin/listings")) == ["192.0.2.2/32", "192.0.2.1/32"]
    assert networks(admin.get("/admin/listings?state=scheduled")) == ["192.0.2.2/32"]
    assert networks(admin.get("/admin/listings?state=removed")) == ["192.0.2.3/32"]
    assert len(networks(admin.get("/admin/listings?state=all"))) == 3
    time_machine.move_to(T0 + timedelta(hours=2))  # the scheduled removal is now in force
    admin = signed_in(app, "admin")  # the earlier session has timed out meanwhile
    assert "192.0.2.2/32" in networks(admin.get("/admin/listings?state=removed"))
    assert "192.0.2.2/32" not in networks(admin.get("/admin/listings"))


def test_keyset_pages_list_every_listing_once_newest_first(app, admin):
    with app.app_context():
        for i in range(120):
            blocklist.add_listing(
                parse_network(f"198.51.100.{i}"),
                "spam",
                actor=Actor("t"),
                now=T0 + timedelta(seconds=i),
            )
        db.session.commit()
    seen, url = [], "/admin/listings"
    while url:
        response = admin.get(url)
        seen += networks(response)
        more = re.search(r'href="(/admin/listings\?[^"]*after=\d+[^"]*)"', response.text)
        url = more.group(1).replace("&amp;", "&") if more else None
    assert seen == [f"198.51.100.{i}/32" for i in reversed(range(120))]


def test_listing_detail_shows_reason_history_and_requests(app, admin):
    listing_id = add(app, "203.0.113.7", reason="Spam trap hits")
    with app.app_context():
        db.session.add(
            DelistRequest(
                public_id="request-id-000001",
                email="sender@example.org",
                ip="203.0.113.7",
                listing_id=listing_id,
                status="pending",
                locale="en",
                created_at=T0,
            )
        )
        db.session.commit()
    text = page_text(admin.get(f"/admin/listings/{listing_id}"))
    assert "Spam trap hits" in text
    assert "listing.added" in text
    assert "sender@example.org" in text
    assert admin.get("/admin/listings/999999").status_code == 404


def audit_rows(app, action):
    with app.app_context():
        return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)).all()


def test_add_listing_from_the_form_is_audited(app, admin):
    response = post_form(
        admin,
        "/admin/listings/new",
        "/admin/listings/new",
        network="198.51.100.0/24",
        reason="Botnet",
        notes="ticket 42",
    )
    assert response.status_code == 303
    [event] = audit_rows(app, "listing.added")
    assert event.actor == "operator:admin@example.net"
    bad = post_form(
        admin, "/admin/listings/new", "/admin/listings/new", network="198.51.100.5/24", reason="x"
    )
    assert bad.status_code == 400
    assert "did you mean 198.51.100.0/24?" in page_text(bad)


def test_remove_now_cancel_and_list_again_are_audited_with_who_and_why(app, admin):
    listing_id = add(app, "203.0.113.7")
    with app.app_context():
        request = DelistRequest(
            public_id="request-id-000002",
            email="s@example.org",
            ip="203.0.113.7",
            listing_id=listing_id,
            status="scheduled",
            locale="en",
            created_at=T0,
        )
        db.session.add(request)
        db.session.flush()
        listing = db.session.get(Listing, listing_id)
        blocklist.schedule_removal(
            listing, T0 + timedelta(hours=1), delist_request=request, actor=Actor("sender"), now=T0
        )
        db.session.commit()
    page = f"/admin/listings/{listing_id}"
    response = post_form(admin, page, f"{page}/cancel-removal", why="abuse continues")
    assert response.status_code == 303
    [event] = audit_rows(app, "removal.cancelled")
    assert (event.actor, event.detail) == ("operator:admin@example.net", "abuse continues")
    assert event.client_address == "127.0.0.1"
    with app.app_context():
        assert db.session.get(Listing, listing_id).removal_effective_at is None
        assert db.session.scalar(sa.select(DelistRequest.status)) == "cancelled"

    post_form(admin, page, f"{page}/remove", why="false positive")
    [event] = audit_rows(app, "listing.removed")
    assert event.detail == "false positive"
    with app.app_context():
        assert not blocklist.is_listed_now(parse_network("203.0.113.7").network_address, utcnow())

    response = post_form(admin, page, f"{page}/relist", why="spam again")
    assert response.status_code == 303
    with app.app_context():
        assert blocklist.is_listed_now(parse_network("203.0.113.7").network_address, utcnow())


def test_an_action_without_a_reason_changes_nothing(app, admin):
    listing_id = add(app, "203.0.113.7")
    page = f"/admin/listings/{listing_id}"
    response = post_form(admin, page, f"{page}/remove", why="")
    assert response.status_code == 303
    assert "Say why" in page_text(admin.get(page))
    with app.app_context():
        assert blocklist.is_listed_now(parse_network("203.0.113.7").network_address, utcnow())


def test_removing_or_cancelling_what_is_not_in_force_changes_nothing(app, admin):
    listing_id = add(app, "203.0.113.7")
    page = f"/admin/listings/{listing_id}"
    post_form(admin, page, f"{page}/remove", why="false positive")
    again = post_form(admin, page, f"{page}/remove", why="twice")
    assert again.status_code == 303
    assert "This listing is not in force; nothing was changed." in page_text(admin.get(page))
    post_form(admin, page, f"{page}/cancel-removal", why="keep it")
    assert "No removal is waiting; nothing was changed." in page_text(admin.get(page))
    assert len(audit_rows(app, "listing.removed")) == 1
    assert audit_rows(app, "removal.cancelled") == []


def test_the_services_refuse_what_the_listing_state_does_not_allow(app):
    from app.core.errors import NotAllowed
    from app.delisting import review

    listing_id = add(app, "203.0.113.7")
    with app.app_context():
        listing = db.session.get(Listing, listing_id)
        with pytest.raises(NotAllowed, match="No removal is waiting"):
            review.cancel_removal(listing, actor=Actor("t"), now=T0, why="keep")
        blocklist.remove(listing, actor=Actor("t"), now=T0, why="gone")
        with pytest.raises(NotAllowed, match="not in force"):
            blocklist.remove(listing, actor=Actor("t"), now=T0, why="again")
        db.session.rollback()
