"""The sender's whole way in a real browser, in English and Japanese, on a phone and a desktop.

Lookup, paste the bounce, send the form (the proof of work runs), read the mail
from a real SMTP sink, open the link, press Delist IP, see the status page. Every
page is checked with axe-core for WCAG 2.2 A/AA problems and photographed.
"""

import re

import pytest

from tests.helpers import run_worker
from tests.helpers_browser import (
    DESKTOP,
    PHONE,
    screenshot,
    serious_accessibility_problems,
)

BOUNCE = """\
<someone@example.org>: host mx1.example.org[192.0.2.25] said: 550 5.7.606
    Access denied, banned sending IP [203.0.113.7]. To request removal from
    this list please visit the portal and follow the directions. (in reply to
    RCPT TO command)
"""

TEXTS = {
    "en": {
        "locale": "en-GB",
        "zone": "America/New_York",
        "ip_label": "IP address",
        "check": "Check",
        "listed": "203.0.113.7 is listed",
        "start": "Start the removal",
        "paste": "Have the bounce message? Paste it and we find the address for you",
        "bounce_label": "The bounce message",
        "find": "Find the IP address",
        "found": "The bounce names 203.0.113.7",
        "email_label": "Your email address",
        "ip_field": "IP address to remove",
        "send": "Email me the confirmation link",
        "inbox": "Check your inbox",
        "mail": 'press the "Delist IP" button',
        "delist": "Delist IP",
        "scheduled": "Removal scheduled",
        "help": "Help: blocked mail and how to fix it",
        "report": "Report spam from a network",
        "policy": "Listing policy: how addresses get on and off our list",
    },
    "ja": {
        "locale": "ja-JP",
        "zone": "Asia/Tokyo",
        "ip_label": "IP アドレス",
        "check": "確認する",
        "listed": "203.0.113.7 は登録されています",
        "start": "削除を申請する",
        "paste": "エラーメールがお手元にありますか？貼り付けると、アドレスを自動で探します",
        "bounce_label": "エラーメール",
        "find": "IP アドレスを探す",
        "found": "エラーメールに記載されたアドレスは 203.0.113.7 です",
        "email_label": "メールアドレス",
        "ip_field": "削除する IP アドレス",
        "send": "確認リンクをメールで受け取る",
        "inbox": "メールを確認してください",
        "mail": "「リストから削除する」ボタンを",
        "delist": "リストから削除する",
        "scheduled": "削除を予定",
        "help": "ヘルプ：メールが拒否されたときの対処法",
        "report": "ネットワークからのスパムを報告する",
        "policy": "登録基準：アドレスがリストに登録される基準と外れる方法",
    },
}


def checked(page, name: str) -> None:
    """No serious accessibility problem on this page; keep a picture of it."""
    problems = serious_accessibility_problems(page)
    assert not problems, f"{name}: {problems}"
    screenshot(page, name)


@pytest.mark.parametrize("size", ["phone", "desktop"])
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_sender_removes_an_address_from_lookup_to_status(browser, portal, lang, size):
    app, url, sink = portal
    t = TEXTS[lang]
    context = browser.new_context(
        viewport=PHONE if size == "phone" else DESKTOP,
        locale=t["locale"],
        timezone_id=t["zone"],
        bypass_csp=True,
    )
    page = context.new_page()
    shot = f"{lang}-{size}"

    page.goto(url + "/lookup")
    assert page.locator("html").get_attribute("lang") == lang
    page.get_by_label(t["ip_label"], exact=True).fill("203.0.113.7")
    page.get_by_role("button", name=t["check"]).click()
    page.get_by_role("heading", name=t["listed"]).wait_for()
    checked(page, f"{shot}-1-lookup")

    page.get_by_role("link", name=t["start"]).click()
    assert page.get_by_label(t["ip_field"]).input_value() == "203.0.113.7"
    page.get_by_label(t["ip_field"]).fill("")
    page.get_by_text(t["paste"]).click()  # opens the bounce box
    page.get_by_label(t["bounce_label"]).fill(BOUNCE)
    page.get_by_role("button", name=t["find"]).click()
    page.get_by_text(t["found"]).wait_for()
    assert page.get_by_label(t["ip_field"]).input_value() == "203.0.113.7"
    checked(page, f"{shot}-2-bounce-found")

    page.get_by_label(t["email_label"]).fill("sender@example.com")
    page.get_by_role("button", name=t["send"]).click()
    page.get_by_role("heading", name=t["inbox"]).wait_for()
    checked(page, f"{shot}-3-check-inbox")

    run_worker(app)
    [mail] = sink.messages
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert t["mail"] in text
    [link] = re.findall(re.escape(url) + r"/confirm/[A-Za-z0-9_.\-]+", text)

    page.goto(link)
    checked(page, f"{shot}-4-delist")
    page.get_by_role("button", name=t["delist"]).click()
    page.get_by_text(t["scheduled"]).first.wait_for()
    checked(page, f"{shot}-5-status")
    context.close()


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_help_report_and_error_pages_have_no_serious_accessibility_problems(browser, portal, lang):
    _, url, _ = portal
    t = TEXTS[lang]
    context = browser.new_context(
        viewport=DESKTOP, locale=t["locale"], timezone_id=t["zone"], bypass_csp=True
    )
    page = context.new_page()
    page.goto(url + "/help")
    page.get_by_role("heading", name=t["help"]).wait_for()
    checked(page, f"{lang}-desktop-help")
    page.locator("footer").get_by_role(
        "link", name=t["policy"].split("：")[0].split(":")[0]
    ).click()
    page.get_by_role("heading", name=t["policy"]).wait_for()
    checked(page, f"{lang}-desktop-policy")
    page.goto(url + "/report")
    page.get_by_role("heading", name=t["report"]).wait_for()
    checked(page, f"{lang}-desktop-report")
    for path, name in [
        ("/lookup?ip=198.51.100.1", "lookup-not-listed"),
        ("/lookup?ip=not-an-ip", "lookup-error"),
        ("/confirm/forged-token", "bad-link"),
        ("/no-such-page", "not-found"),
    ]:
        page.goto(url + path)
        checked(page, f"{lang}-desktop-{name}")
    page.goto(url + "/")
    page.get_by_role("button", name=t["send"]).click()  # empty: errors next to the fields
    page.locator(".field.has-error").first.wait_for()
    checked(page, f"{lang}-desktop-form-errors")
    context.close()
