"""Never list the world: too-wide ranges, 127.0.0.1, special-purpose space and the allowlist
are refused on every path that lists (CLI, admin form, admin relist, import by file and by
upload), with a message that names the rule or the allowlist entry."""

from pathlib import Path

import pytest
import sqlalchemy as sa

from app.core.actor import Actor
from app.extensions import db
from app.listing import allowlist, blocklist, importer
from app.listing.addresses import network_key, parse_network
from app.listing.guard import ListingGuard, ListingRefused, Spans
from app.models import AllowlistEntry, AuditEvent, Listing
from tests.helpers import T0, page_text
from tests.helpers_admin import post_form, signed_in, upload

DROP = Path(__file__).parent / "data" / "spamhaus-drop-2015.netset"
TEST = Actor("test")


def refusal(text, **settings):
    guard = ListingGuard(
        min_prefix={4: settings.get("v4", 8), 6: settings.get("v6", 19)},
        allow_non_global=settings.get("allow_non_global", False),
        allowlist=Spans(
            (network_key(parse_network(n)), f"{n} (ours)") for n in settings.get("allow", ())
        ),
    )
    network = parse_network(text)
    return guard.refusal(network_key(network), str(network))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.0.0.0/0", "0.0.0.0/0 is too wide to list: at most a /8 (LISTING_MIN_PREFIX_V4)"),
        ("128.0.0.0/1", "too wide"),
        ("4.0.0.0/7", "too wide"),
        ("::/0", "::/0 is too wide to list: at most a /19 (LISTING_MIN_PREFIX_V6)"),
        ("2000::/18", "too wide"),
        ("127.0.0.1", "127.0.0.1/32 contains 127.0.0.1, which a list must never hold (RFC 5782)"),
        ("127.0.0.0/8", "contains 127.0.0.1"),
        ("::ffff:127.0.0.1", "contains 127.0.0.1"),  # IPv4-mapped is read as IPv4
        ("10.1.2.3", "overlaps 10.0.0.0/8, private space"),
        ("172.31.0.0/16", "overlaps 172.16.0.0/12, private space"),
        ("169.254.1.1", "link-local"),
        ("224.0.0.0/8", "multicast"),
        ("0.0.0.0/8", "unspecified"),
        ("255.255.255.255", "240.0.0.0/4, reserved space"),
        ("192.0.2.7", "documentation"),
        ("192.0.0.0/16", "192.0.0.0/16 overlaps 192.0."),  # two special ranges inside
        ("::1", "loopback"),
        ("fd00::1", "unique local"),
        ("fe80::/64", "link-local"),
        ("ff02::1", "multicast"),
        ("2001:db8::7", "documentation"),
    ],
)
def test_what_may_never_be_listed(text, expected):
    assert expected in refusal(text)


@pytest.mark.parametrize(
    "text", ["1.0.0.0/8", "8.8.8.8", "126.255.255.255", "128.0.0.0/8", "2a00::/19"]
)
def test_public_space_may_be_listed(text):
    assert refusal(text) is None


def test_the_limits_are_settings():
    assert refusal("1.0.0.0/8", v4=9) is not None
    assert refusal("1.0.0.0/16", v4=16) is None
    assert refusal("2a00::/32", v6=33) is not None


def test_non_global_space_is_allowed_for_demos_but_never_127_0_0_1_or_the_world():
    assert refusal("10.1.2.3", allow_non_global=True) is None
    assert refusal("203.0.113.7", allow_non_global=True) is None
    assert "127.0.0.1" in refusal("127.0.0.1", allow_non_global=True)
    assert "127.0.0.1" in refusal("127.0.0.0/30", allow_non_global=True)
    assert refusal("127.0.0.2", allow_non_global=True) is None  # the RFC 5782 positive test entry
    assert "too wide" in refusal("0.0.0.0/0", allow_non_global=True)


@pytest.mark.parametrize(
    ("text", "listable"),
    [
        ("8.8.8.8", False),  # exactly the entry
        ("8.8.8.0/24", False),  # contains it
        ("8.8.8.9", True),  # next to it
        ("8.8.4.0/24", False),  # inside the second entry
        ("8.8.0.0/16", False),  # contains both
        ("8.9.0.0/16", True),
        ("2001:4860::/32", False),
        ("2001:4861::/32", True),
    ],
)
def test_allowlist_overlap_either_way(text, listable):
    allow = ("8.8.4.0/22", "8.8.8.8", "2001:4860:4860::8888")
    why = refusal(text, allow=allow)
    assert (why is None) is listable
    if why:
        assert "overlaps the allowlist entry" in why and "(ours)" in why


def test_spans_find_an_overlap_behind_a_wide_earlier_range():
    # 1.0.0.0/8 starts first and reaches past 1.2.0.0/16, which ends before the probe.
    spans = Spans(
        (network_key(parse_network(n)), n) for n in ("1.0.0.0/8", "1.2.0.0/16", "1.3.0.0/16")
    )
    assert (
        spans.overlapping(
            4, int.from_bytes(bytes([1, 200, 0, 0])), int.from_bytes(bytes([1, 200, 0, 255]))
        )
        == "1.0.0.0/8"
    )
    assert spans.overlapping(6, 0, 2**128 - 1) is None  # another IP version
    assert spans.overlapping(4, 2**24 * 2, 2**24 * 2 + 5) is None


@pytest.fixture
def app_overrides():
    return {"DELIST_ALLOW_NON_GLOBAL_IPS": False}


def listed(app):
    with app.app_context():
        return sorted(db.session.scalars(sa.select(Listing.network)))


def test_the_real_drop_list_imports_whole_with_the_guard_on(ctx):
    lines = DROP.read_text().splitlines()
    report = importer.import_listings(
        importer.read_entries(lines), reason="DROP", actor=TEST, now=T0, clock=lambda: T0
    )
    assert (report.added, report.rejected) == (683, [])


def test_the_cli_refuses_and_writes_nothing(app, runner):
    with app.app_context():
        allowlist.add(parse_network("8.8.8.8"), "our relay", actor=TEST, now=T0)
        db.session.commit()
    for text, message in [
        ("0.0.0.0/0", "too wide"),
        ("::/0", "too wide"),
        ("127.0.0.1", "RFC 5782"),
        ("8.8.8.0/24", "overlaps the allowlist entry 8.8.8.8/32 (our relay)"),
    ]:
        result = runner.invoke(args=["blocklist", "add", "1.2.3.4", text, "--reason", "x"])
        assert result.exit_code == 2, result.output
        assert message in result.output
    assert listed(app) == []  # the good address before the refused one is not written either


def test_the_allowlist_cli(app, runner):
    blocklist_add = ["blocklist", "add", "8.8.8.0/24", "--reason", "spam"]
    assert runner.invoke(args=blocklist_add).exit_code == 0
    result = runner.invoke(args=["allowlist", "add", "8.8.8.8", "--reason", "our relay"])
    assert result.exit_code == 0, result.output
    assert "8.8.8.8/32: allowlisted" in result.output
    assert "still listed: 8.8.8.0/24 (spam)" in result.output
    again = runner.invoke(args=["allowlist", "add", "8.8.8.8/32", "--reason", "twice"])
    assert (again.exit_code, "on the allowlist already" in again.output) == (2, True)
    assert runner.invoke(args=["allowlist", "add", "8.8.4.4", "--reason", ""]).exit_code == 2
    lines = runner.invoke(args=["allowlist", "list"]).output.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["8.8.8.8/32"]
    assert lines[0].split("\t")[2:] == ["cli:" + lines[0].split("\t")[2][4:], "our relay"]
    assert runner.invoke(args=["allowlist", "remove", "8.8.8.9"]).exit_code == 2
    assert runner.invoke(args=["allowlist", "remove", "8.8.8.8"]).exit_code == 0
    assert runner.invoke(args=["allowlist", "list"]).output == ""
    with app.app_context():
        events = db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert events[-2:] == ["allowlist.added", "allowlist.removed"]
    assert runner.invoke(args=["blocklist", "add", "8.8.8.8", "--reason", "x"]).exit_code == 0


def test_import_reports_each_refused_line(app, runner, tmp_path):
    with app.app_context():
        allowlist.add(parse_network("2001:4860::/32"), "partner", actor=TEST, now=T0)
        db.session.commit()
    feed = tmp_path / "feed.txt"
    feed.write_text("1.2.3.4\n0.0.0.0/0\n::/0\n127.0.0.1\n10.0.0.1\n2001:4860:4860::8888\n")
    result = runner.invoke(args=["blocklist", "import", str(feed), "--reason", "feed"])
    assert result.exit_code == 0
    assert "1 added, 0 already listed, 5 rejected" in result.output
    assert "line 2: 0.0.0.0/0: 0.0.0.0/0 is too wide" in result.output
    assert "line 3: ::/0: ::/0 is too wide" in result.output
    assert "line 4: 127.0.0.1: 127.0.0.1/32 contains 127.0.0.1" in result.output
    assert "line 5: 10.0.0.1: 10.0.0.1/32 overlaps 10.0.0.0/8, private space" in result.output
    assert "line 6: 2001:4860:4860::8888: " in result.output
    assert "overlaps the allowlist entry 2001:4860::/32 (partner)" in result.output
    assert listed(app) == ["1.2.3.4/32"]


def test_admin_form_upload_and_relist_refuse(app):
    admin = signed_in(app)
    response = post_form(
        admin, "/admin/listings/new", "/admin/listings/new", network="0.0.0.0/0", reason="x"
    )
    assert response.status_code == 400
    assert 'id="network-error"' in response.text
    assert "0.0.0.0/0 is too wide to list" in page_text(response)

    uploaded = upload(admin, b"0.0.0.0/0\n::/0\n8.8.8.8\n")
    assert "1 added, 0 already listed, 2 rejected" in page_text(uploaded)
    assert "too wide" in page_text(uploaded)

    with app.app_context():
        listing = db.session.scalar(sa.select(Listing))
        blocklist.remove(listing, actor=TEST, now=T0)
        allowlist.add(parse_network("8.8.8.0/24"), "our relays", actor=TEST, now=T0)
        db.session.commit()
        page = f"/admin/listings/{listing.id}"
    response = post_form(admin, page, f"{page}/relist", why="again")
    assert response.status_code == 303
    assert "overlaps the allowlist entry 8.8.8.0/24 (our relays)" in page_text(admin.get(page))
    with app.app_context():
        assert db.session.scalar(sa.select(Listing).where(Listing.removed_at.is_(None))) is None


def test_admin_allowlist_page(app):
    admin = signed_in(app)
    response = post_form(
        admin, "/admin/allowlist", "/admin/allowlist", network="8.8.8.8", reason="our relay"
    )
    assert response.status_code == 303
    page = admin.get("/admin/allowlist")
    assert "8.8.8.8/32 is on the allowlist." in page_text(page)
    assert "our relay" in page_text(page)
    bad = post_form(admin, "/admin/allowlist", "/admin/allowlist", network="8.8.8.8/24", reason="x")
    assert bad.status_code == 400
    assert "host bits set; did you mean 8.8.8.0/24?" in page_text(bad)
    twice = post_form(admin, "/admin/allowlist", "/admin/allowlist", network="8.8.8.8", reason="x")
    assert (twice.status_code, "on the allowlist already" in page_text(twice)) == (400, True)

    viewer = signed_in(app, role="viewer")
    seen = viewer.get("/admin/allowlist")
    assert seen.status_code == 200 and "8.8.8.8/32" in page_text(seen)
    assert "Add to the allowlist" not in page_text(seen)
    with app.app_context():
        entry_id = db.session.scalar(sa.select(AllowlistEntry.id))
    url = f"/admin/allowlist/{entry_id}/remove"
    assert post_form(viewer, "/admin/allowlist", url, why="x").status_code == 403
    assert post_form(admin, "/admin/allowlist", url, why="moved").status_code == 303
    with app.app_context():
        assert db.session.scalar(sa.select(AllowlistEntry)) is None
        [removed] = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "allowlist.removed")
        ).all()
        assert (removed.actor, removed.detail) == (
            "operator:admin@example.net",
            "8.8.8.8/32: moved",
        )


def test_add_listing_refuses_with_a_domain_error(ctx):
    with pytest.raises(ListingRefused, match="too wide"):
        blocklist.add_listing(parse_network("::/0"), "x", actor=TEST, now=T0)
