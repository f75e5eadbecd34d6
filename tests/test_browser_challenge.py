"""The proof-of-work challenge in a real browser: solved by our script, by itself."""

from tests.helpers import run_worker
from tests.helpers_browser import DESKTOP, PHONE, screenshot


def test_the_browser_solves_the_challenge_and_the_form_goes_through(browser, portal):
    app, url, sink = portal
    page = browser.new_page(viewport=PHONE)
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(url + "/")
    status = page.locator("#challenge-status")
    status.filter(has_text="Automatic check done.").wait_for(timeout=60_000)
    assert status.get_attribute("role") == "status"
    screenshot(page, "challenge-done-phone")

    page.get_by_label("Your email address").fill("sender@example.com")
    page.get_by_label("IP address to remove").fill("203.0.113.7")
    page.get_by_label("IP address to remove").press("Enter")  # the keyboard is enough
    page.get_by_role("heading", name="Check your inbox").wait_for()
    assert all(request.startswith(url) for request in requests)  # no other site

    run_worker(app)
    [mail] = sink.messages
    assert f"{url}/confirm/" in mail.get_body(preferencelist=("plain",)).get_content()
    page.close()


def test_a_form_left_open_for_long_fetches_a_new_challenge_first(browser, portal):
    _, url, _ = portal
    page = browser.new_page(viewport=DESKTOP)
    page.clock.install()
    page.goto(url + "/")
    page.locator("#challenge-status").filter(has_text="Automatic check done.").wait_for()
    page.get_by_label("Your email address").fill("sender@example.com")
    page.get_by_label("IP address to remove").fill("203.0.113.7")
    page.clock.fast_forward("11:00")  # minutes:seconds, past the script's freshness limit
    with page.expect_response(lambda response: response.url.endswith("/challenge")) as fetched:
        page.get_by_role("button", name="Email me the confirmation link").click()
    assert fetched.value.status == 200
    page.get_by_role("heading", name="Check your inbox").wait_for()
    page.close()


def test_without_javascript_the_page_says_what_to_do(browser, portal):
    app, url, sink = portal
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    page = context.new_page()
    page.goto(url + "/")
    notice = page.locator(".challenge .notice")
    assert notice.is_visible()
    assert "This form needs JavaScript for a short automatic check" in notice.inner_text()
    page.get_by_label("Your email address").fill("sender@example.com")
    page.get_by_label("IP address to remove").fill("203.0.113.7")
    page.get_by_role("button", name="Email me the confirmation link").click()
    error = page.locator("#challenge-error")
    assert "The automatic check did not run" in error.inner_text()
    assert page.get_by_label("Your email address").input_value() == "sender@example.com"
    screenshot(page, "challenge-no-javascript-phone")
    run_worker(app)
    assert sink.messages == []
    context.close()
