"""Times in the browser's own zone, UTC beside them, and the server's text without script."""

import pytest

from tests.helpers_browser import DESKTOP, screenshot

LISTED_SINCE = "time[datetime='2026-03-02T09:00:00Z']"


def shown(page) -> tuple[str, str | None]:
    element = page.locator(LISTED_SINCE).first
    return element.inner_text().replace("\u202f", " "), element.get_attribute("data-zone")


@pytest.mark.parametrize(
    ("locale", "zone", "text"),
    [
        ("en-US", "America/New_York", "Mar 2, 2026, 4:00:00 AM EST (9:00:00 AM UTC)"),
        ("en-US", "Asia/Tokyo", "Mar 2, 2026, 6:00:00 PM GMT+9 (9:00:00 AM UTC)"),
        ("en-US", "Pacific/Auckland", "Mar 2, 2026, 10:00:00 PM GMT+13 (9:00:00 AM UTC)"),
        ("en-US", "UTC", "Mar 2, 2026, 9:00:00 AM UTC"),
        ("ja-JP", "Europe/Berlin", "2026年3月2日 10:00:00 GMT+1（9:00:00 UTC）"),
        ("ja-JP", "America/Los_Angeles", "2026年3月2日 1:00:00 GMT-8（9:00:00 UTC）"),
    ],
)
def test_times_are_shown_in_the_browsers_zone_with_utc_beside(browser, portal, locale, zone, text):
    _, url, _ = portal
    context = browser.new_context(viewport=DESKTOP, locale=locale, timezone_id=zone)
    page = context.new_page()
    page.goto(url + "/lookup?ip=203.0.113.7")
    page.locator(f"{LISTED_SINCE}[data-zone]").first.wait_for()
    assert shown(page) == (text, zone)
    if zone == "Europe/Berlin":
        screenshot(page, "ja-desktop-lookup-local-time")
    context.close()


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        ("en-US", "Mar 2, 2026, 9:00:00 AM UTC"),
        ("ja-JP", "2026/03/02 18:00:00 JST（9:00:00 UTC）"),
    ],
)
def test_without_script_japanese_pages_show_japan_time_and_others_utc(
    browser, portal, locale, text
):
    _, url, _ = portal
    context = browser.new_context(
        viewport=DESKTOP, locale=locale, timezone_id="Europe/Berlin", java_script_enabled=False
    )
    page = context.new_page()
    page.goto(url + "/lookup?ip=203.0.113.7")
    assert shown(page) == (text, None)
    context.close()
