"""The dashboard's charts in a real browser: drawn under the strict CSP, fitting a phone,
passing the accessibility check."""

from datetime import timedelta

from app.accounts import operators
from app.core.actor import Actor
from app.core.clock import utcnow
from app.extensions import db
from app.listing import blocklist, lifetimes
from app.listing.addresses import parse_network
from app.models import DelistRequest
from tests.helpers_admin import PASSWORD
from tests.helpers_browser import (
    DESKTOP,
    PHONE,
    portal_with_mail,
    screenshot,
    serious_accessibility_problems,
)
from tests.helpers_delisting import outbox_row

OPERATOR = Actor("operator:op@example.net")
STATUSES = ["done", "done", "scheduled", "denied", "expired", "needs_review", "pending"]


def seed_a_month(now) -> None:
    """A month of listings coming and going, requests and mail, up to `now`."""
    for day in range(30):
        at = now - timedelta(days=29 - day, hours=1)
        for n in range(day % 7 + 1):
            network = parse_network(f"10.{day}.{n}.0/24")
            blocklist.add_listing(
                network, "Spam", actor=OPERATOR, now=at, lifetime=lifetimes.PERMANENT
            )
            if n % 3 == 1:
                blocklist.remove_listing(network, actor=OPERATOR, now=at + timedelta(minutes=5))
        for n in range(day % 5):
            status = STATUSES[(day + n) % len(STATUSES)]
            db.session.add(
                DelistRequest(
                    public_id=f"month-{day:02d}-{n}",
                    email="s@example.com",
                    ip=f"192.0.2.{day * 5 + n}",
                    status=status,
                    locale="en",
                    created_at=at,
                    confirmed_at=at if n % 2 else None,
                    removal_effective_at=at + timedelta(hours=n + 1),
                )
            )
    for hour in range(24):
        for n in range(hour % 4):
            db.session.add(outbox_row("failed" if n == 2 else "sent", now - timedelta(hours=hour)))
    db.session.commit()


def sign_in(page, url: str) -> None:
    page.goto(url + "/admin/")
    page.get_by_label("Email address").fill("op@example.net")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()


def test_the_dashboard_charts_at_desktop_and_phone_width(browser, database_url):
    with portal_with_mail(database_url) as (app, url, _):
        with app.app_context():
            now = utcnow()
            operators.create("op@example.net", PASSWORD, "admin", actor=Actor("test"), now=now)
            seed_a_month(now)

        # Under the page's own CSP: nothing refused, every chart drawn.
        context = browser.new_context(viewport=PHONE)
        page = context.new_page()
        refused = []
        page.on("console", lambda message: refused.append(message.text))
        sign_in(page, url)
        assert not [text for text in refused if "Content Security Policy" in text]
        charts = page.locator("svg.chart-svg")
        assert charts.count() == 5
        assert page.locator("svg.chart-svg rect").count() > 100
        first = charts.first.bounding_box()
        assert first["width"] < PHONE["width"] and first["height"] > 100
        no_scroll = "document.documentElement.scrollWidth <= window.innerWidth"
        assert page.evaluate(no_scroll)
        fill = "getComputedStyle(document.querySelector('svg.chart-svg rect')).fill"
        assert page.evaluate(fill) != "rgb(0, 0, 0)"  # the stylesheet's colours apply
        context.close()

        for viewport, name in [(DESKTOP, "desktop"), (PHONE, "phone")]:
            context = browser.new_context(viewport=viewport, bypass_csp=True)
            page = context.new_page()
            sign_in(page, url)
            page.get_by_text("Figures as a table").first.click()  # one table open, to see it
            problems = serious_accessibility_problems(page)
            assert not problems, problems
            screenshot(page, f"admin-dashboard-charts-{name}")
            context.close()
