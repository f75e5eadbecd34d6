"""English and Japanese: the browser's language, a switch kept in a cookie, mail in the sender's."""

import re
from datetime import timedelta

import pytest

from tests.helpers import (
    CONFIRM_LINK_RE,
    T0,
    add_listings,
    csrf_token,
    page_text,
    press_delist,
    run_worker,
)

JA = {"Accept-Language": "ja,en-US;q=0.7"}


def html_lang(response) -> str:
    return re.search(r'<html lang="([^"]+)"', response.text).group(1)


@pytest.mark.parametrize(
    ("accept", "lang", "heading"),
    [
        ("ja,en-US;q=0.7", "ja", "サーバーの IP アドレスを当社の送信拒否リストから削除する"),
        ("en-GB,en;q=0.9", "en", "Remove your server's IP address from our blocked-senders list"),
        ("fr-FR,fr;q=0.9", "en", "Remove your server's IP address from our blocked-senders list"),
    ],
)
def test_the_browser_language_decides_and_html_lang_says_which(client, accept, lang, heading):
    response = client.get("/", headers={"Accept-Language": accept})
    assert html_lang(response) == lang
    assert heading in page_text(response)


def test_the_switch_is_kept_in_a_cookie_and_returns_to_the_page(client):
    response = client.post("/language", data={"lang": "ja", "next": "/help"})
    assert response.status_code == 303 and response.headers["Location"] == "/help"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("lang=ja;") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/help", headers={"Accept-Language": "en"})  # the choice wins
    assert html_lang(page) == "ja" and "よくある質問" in page_text(page)
    assert '<button type="submit" name="lang" value="ja" lang="ja"' in page.text
    assert 'aria-current="true" disabled>日本語</button>' in page.text

    back = client.post("/language", data={"lang": "en", "next": "/help"})
    assert back.status_code == 303
    assert html_lang(client.get("/help", headers=JA)) == "en"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil", None])
def test_the_switch_only_goes_back_to_our_own_pages(client, target):
    data = {"lang": "ja"} if target is None else {"lang": "ja", "next": target}
    assert client.post("/language", data=data).headers["Location"] == "/"


def test_an_unknown_language_is_refused(client):
    assert client.post("/language", data={"lang": "xx"}).status_code == 400


def test_form_errors_are_in_japanese(client):
    page = client.get("/", headers=JA)
    response = client.post(
        "/", data={"csrf_token": csrf_token(page.text), "email": "", "ip": "10.0.0.1"}, headers=JA
    )
    assert response.status_code == 400
    text = page_text(response)
    assert "リンクをお送りするメールアドレスを入力してください。" in text


@pytest.mark.parametrize("app_overrides", [{"DELIST_ALLOW_NON_GLOBAL_IPS": False}])
def test_address_errors_are_in_japanese(client):
    page = client.get("/", headers=JA)
    response = client.post(
        "/",
        data={"csrf_token": csrf_token(page.text), "email": "a@example.com", "ip": "10.0.0.1"},
        headers=JA,
    )
    assert "これはプライベートアドレスで" in page_text(response)


def test_a_request_made_in_japanese_gets_its_mails_in_japanese(
    app, client, smtp_sink, time_machine
):
    add_listings(app, "203.0.113.7")
    page = client.get("/", headers=JA)
    client.post(
        "/",
        data={"csrf_token": csrf_token(page.text), "email": "s@example.com", "ip": "203.0.113.7"},
        headers=JA,
    )
    run_worker(app)
    [confirmation] = smtp_sink.messages
    text = confirmation.get_body(preferencelist=("plain",)).get_content()
    assert "「リストから削除する」ボタンを" in text
    assert "203.0.113.7" in confirmation["Subject"] and "削除" in confirmation["Subject"]
    [link] = CONFIRM_LINK_RE.findall(text)

    # The sender later reads the page in English: the mails stay in the request's language.
    press_delist(client, link)
    time_machine.move_to(T0 + timedelta(hours=1))
    run_worker(app)
    removed = smtp_sink.messages[1]
    assert removed["Subject"] == "203.0.113.7 は当社の送信拒否リストから削除されました"
    body = removed.get_body(preferencelist=("plain",)).get_content()
    assert "当社のメールサーバーは、このアドレスからのメールを再び受け付けます。" in body
    assert "2026/03/02 19:00:00 JST（10:00:00 UTC）" in body  # Japan time, UTC beside it


def test_the_operators_pages_stay_in_english(client):
    page = client.get("/admin/login", headers=JA)
    assert html_lang(page) == "en" and "Operator sign-in" in page_text(page)
    assert 'name="lang"' not in page.text


def test_wtforms_messages_follow_the_language_and_are_read_once(app):
    from app.portal.forms import DelistForm

    def messages(accept: str):
        with app.test_request_context("/", headers={"Accept-Language": accept}):
            form = DelistForm()
            return form.meta.get_translations(form)

    japanese = messages("ja")
    assert japanese.gettext("This field is required.") == "このフィールドは必須です。"
    assert messages("ja") is japanese  # the same catalog for the next request
    assert messages("en").gettext("This field is required.") == "This field is required."


def test_templates_translate_in_the_page_language_the_forced_one_and_in_macros(app):
    from flask import render_template_string
    from flask_babel import force_locale

    page = (
        '{% from "_listing.html" import removals_left_note %}'
        "{{ _('Help') }}|{{ removals_left_note(2) }}"
    )
    with app.test_request_context("/", headers=JA):
        japanese = render_template_string(page)
        with force_locale("en"):  # as for a mail in the request's language
            english = render_template_string(page)
        again = render_template_string(page)
    assert japanese.startswith("ヘルプ|") and "self-service" not in japanese
    assert english.startswith("Help|") and "2 more times in" in english
    assert again == japanese
