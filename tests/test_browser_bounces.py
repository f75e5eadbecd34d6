"""Real bounces pasted into the form's bounce box in Chromium: the answer a sender sees.

The texts come from tests/data/bounces/, except the DMARC refusal: the corpus has none of
Microsoft's, so that one is written the way Exchange Online words its report.
"""

import email

import pytest

from tests.helpers_bounces import DMARC_NDR, corpus_bounce
from tests.helpers_browser import DESKTOP, PHONE, screenshot, serious_accessibility_problems


def notice(prefix: str) -> str:
    """The notification part of a corpus bounce: what a sender copies from the message."""
    message = email.message_from_string(corpus_bounce(prefix).text())
    return message.get_payload()[0].get_payload()


@pytest.fixture
def bounce_box(browser, portal):
    """A function that pastes a text into the bounce box, presses Find and returns the page."""
    _, url, _ = portal
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    page = context.new_page()

    def paste(text: str):
        page.goto(url + "/")
        page.get_by_text("Have the bounce message?").click()
        page.get_by_label("The bounce message").fill(text)
        page.get_by_role("button", name="Find the IP address").click()
        page.locator("#bounce-result").wait_for()
        return page

    yield paste
    context.close()


@pytest.mark.parametrize(
    ("prefix", "address", "says"),
    [
        ("22-", "192.0.2.202", "Its code is 5.7.25"),  # Gmail via Postfix: no reverse DNS
        ("17-", "192.0.2.25", "It is not on our list now"),  # Yahoo via qmail, CRLF
        ("15-", "192.0.2.222", "It is not on our list now"),  # Exim, a 550- continuation
    ],
)
def test_a_pasted_bounce_fills_in_the_address_its_reply_refused(bounce_box, prefix, address, says):
    page = bounce_box(corpus_bounce(prefix).text())
    result = page.locator("#bounce-result").inner_text()
    assert f"The bounce names {address}" in result and says in result
    assert page.get_by_label("IP address to remove").input_value() == address


def test_a_bounce_whose_reply_names_no_address_leaves_the_field_empty(bounce_box):
    page = bounce_box(corpus_bounce("30-").text())  # Gmail: a From header problem
    result = page.locator("#bounce-result").inner_text()
    assert "names no IP address as refused" in result and "cannot help" in result
    assert page.get_by_label("IP address to remove").input_value() == ""


def test_a_dmarc_refusal_is_explained_and_fills_in_nothing(bounce_box):
    page = bounce_box(DMARC_NDR)
    result = page.locator("#bounce-result").inner_text()
    assert "Its code is 5.7.509" in result
    assert "The sending domain failed DMARC" in result
    assert "This portal only removes addresses from our blocked-senders list" in result
    assert page.get_by_label("IP address to remove").input_value() == ""
    problems = serious_accessibility_problems(page)
    assert not problems, problems
    screenshot(page, "en-desktop-bounce-dmarc")


def test_the_sender_chooses_among_the_addresses_two_bounces_name(browser, portal):
    _, url, _ = portal
    context = browser.new_context(viewport=PHONE, bypass_csp=True)
    page = context.new_page()
    page.goto(url + "/")
    page.get_by_text("Have the bounce message?").click()
    page.get_by_label("The bounce message").fill(notice("13-") + "\n" + notice("16-"))
    page.get_by_role("button", name="Find the IP address").click()
    page.locator("#bounce-result").wait_for()
    choices = page.get_by_role("group", name="Which one do you want to remove?")
    assert choices.get_by_role("radio").count() == 2
    assert page.get_by_label("IP address to remove").input_value() == ""
    problems = serious_accessibility_problems(page)
    assert not problems, problems
    screenshot(page, "en-phone-bounce-choice")

    choices.get_by_label("192.0.2.22", exact=True).check()
    page.get_by_role("button", name="Use the chosen address").click()
    page.get_by_text("You chose 192.0.2.22").wait_for()
    assert page.get_by_label("IP address to remove").input_value() == "192.0.2.22"
    assert page.get_by_label("192.0.2.22", exact=True).is_checked()
    context.close()
