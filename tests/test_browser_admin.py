"""The operators' main pages in a real browser: signed in, each page shown and checked."""

from app.abuse import reports
from app.accounts import operators
from app.core.actor import Actor
from app.core.clock import utcnow
from app.delisting import submission
from app.extensions import db
from app.listing.addresses import parse_address
from tests.helpers_admin import PASSWORD
from tests.helpers_browser import (
    DESKTOP,
    branded,
    portal_with_mail,
    screenshot,
    serious_accessibility_problems,
)


def test_an_operator_works_through_the_main_pages(browser, database_url, tmp_path):
    listed = ("203.0.113.7", "192.0.2.0/24")
    branding = branded(tmp_path / "theme")
    with portal_with_mail(database_url, *listed, branding=branding) as (app, url, _):
        with app.app_context():
            now = utcnow()
            operators.create("op@example.net", PASSWORD, "admin", actor=Actor("test"), now=now)
            submission.submit(
                "sender@example.com",
                parse_address("192.0.2.55"),
                actor=Actor.sender("198.51.100.1"),
                locale="ja",
                now=now,
            )
            reports.submit(
                "reader@example.com",
                "Received: from spam-host (unknown [198.51.100.66])\n\tby mx.example.org",
                "Every morning",
                actor=Actor.public("198.51.100.2"),
                locale="en",
                now=now,
            )
            db.session.commit()
        context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
        page = context.new_page()
        page.goto(url + "/admin/")
        page.get_by_label("Email address").fill("op@example.net")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Dashboard").wait_for()
        for path, name in [
            ("/admin/", "dashboard"),
            ("/admin/listings", "listings"),
            ("/admin/listings?q=192.0.2.55", "listings-search"),
            ("/admin/requests?status=needs_review", "requests"),
            ("/admin/requests/1", "request-review"),
            ("/admin/reports", "reports"),
            ("/admin/reports/1", "report"),
            ("/admin/mail", "mail"),
            ("/admin/audit", "audit"),
        ]:
            response = page.goto(url + path)
            assert response.status == 200, path
            problems = serious_accessibility_problems(page)
            assert not problems, f"{path}: {problems}"
            screenshot(page, f"admin-{name}")
        context.close()


def test_an_operator_signs_in_to_an_attacked_account_with_the_browsers_proof_of_work(
    browser, database_url
):
    with portal_with_mail(database_url, ADMIN_LOGIN_CHALLENGE_MAX_NUMBER="20000") as (
        app,
        url,
        _,
    ):
        with app.app_context():
            operators.create("op@example.net", PASSWORD, "admin", actor=Actor("test"), now=utcnow())
            db.session.commit()
        context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
        page = context.new_page()
        page.goto(url + "/admin/login")
        for _ in range(5):  # someone guessed: the account now asks for a proof of work
            page.get_by_label("Email address").fill("op@example.net")
            page.get_by_label("Password").fill("a-wrong-password")
            page.get_by_role("button", name="Sign in").click()
            page.get_by_text("The email address or the password is not right.").wait_for()
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text("many failed sign-ins lately").wait_for()
        assert not serious_accessibility_problems(page)
        screenshot(page, "admin-sign-in-proof-of-work")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()  # sent once the check is done
        page.get_by_role("heading", name="Dashboard").wait_for()
        context.close()
