"""The operator's portal: its names, contact and policy in both languages, and a theme folder
whose templates and static files win over ours."""

import pytest

import config
from app import create_app
from config import ConfigError
from tests.helpers import BASE_CONFIG, add_listings, page_text, run_worker, submit_form

JA = {"Accept-Language": "ja"}
BRAND = {
    "PORTAL_TITLE": "Example Mail delist portal",
    "PORTAL_TITLE_JA": "Example Mail 送信拒否リスト 削除申請",
    "OPERATOR_NAME": "Example Mail",
    "OPERATOR_NAME_JA": "例メール株式会社",
    "CONTACT_EMAIL": "postmaster@example.net",
}


def client_with(tmp_path, **settings):
    """An app that touches no listing, with these settings."""
    return create_app(
        {**BASE_CONFIG, "DATABASE_URL": f"sqlite:///{tmp_path}/unused.db", **settings}
    ).test_client()


@pytest.mark.parametrize(
    ("headers", "title", "operator"),
    [
        ({}, "Example Mail delist portal", "Example Mail"),
        (JA, "Example Mail 送信拒否リスト 削除申請", "例メール株式会社"),
    ],
)
def test_header_title_and_footer_speak_as_the_operator(tmp_path, headers, title, operator):
    page = client_with(tmp_path, **BRAND).get("/help", headers=headers)
    assert f"<title>{'Help' if not headers else 'ヘルプ'} · {title}</title>" in page.text
    assert f'class="brand" href="/">{title}</a>' in page.text
    text = page_text(page)
    assert operator in text.split("Skip to content" if not headers else "本文へ移動")[1][:200]
    assert f"{title} {'is run by' if not headers else 'は'} {operator}" in text
    assert '<a href="mailto:postmaster@example.net">postmaster@example.net</a>' in page.text
    assert '<a href="/policy">' in page.text


def test_without_settings_the_portal_keeps_its_own_name_and_shows_no_contact(tmp_path):
    client = client_with(tmp_path)
    assert "<title>Help · Delist portal</title>" in client.get("/help").text
    assert "<title>ヘルプ · 送信拒否リスト 削除申請</title>" in client.get("/help", headers=JA).text
    assert "mailto:" not in client.get("/help").text


def test_japanese_falls_back_to_the_english_setting_before_our_own_name(tmp_path):
    page = client_with(tmp_path, PORTAL_TITLE="Example Mail").get("/help", headers=JA)
    assert "<title>ヘルプ · Example Mail</title>" in page.text


def test_the_help_page_names_the_operator_the_contact_and_the_policy(tmp_path):
    text = page_text(client_with(tmp_path, **BRAND).get("/help", headers=JA))
    assert "このポータルでは、例メール株式会社 の送信拒否リストからアドレスを削除できます。" in text
    assert "postmaster@example.net までメールでお問い合わせください。" in text
    assert "登録基準 に詳しく記載しています。削除は無料です。" in text


LIFETIMES = {
    "LISTING_TTL_SECONDS": 10 * 86400,
    "LISTING_MEMORY_DAYS": 45,
    "LISTING_REPEAT_FACTOR": 3,
    "LISTING_MAX_TTL_SECONDS": 60 * 86400,
    "DELIST_DELAY_SECONDS": 5400,
    "SELF_DELIST_MAX": 4,
    "SELF_DELIST_WINDOW_DAYS": 20,
    "LISTING_MIN_PREFIX_V4": 16,
}


def test_the_policy_page_states_the_lifetimes_and_limits_in_force(tmp_path):
    text = page_text(client_with(tmp_path, **BRAND, **LIFETIMES).get("/policy"))
    assert "Example Mail refuses mail from the addresses on this blocked-senders list." in text
    assert "A new listing ends by itself after 10 days." in text
    assert (
        "listed again within 45 days of the end of its previous listing stays listed 3 times "
        "as long as the previous time, at most 60 days." in text
    )
    assert "The removal takes effect 90 minutes after the button is pressed." in text
    assert "can be removed by self-service 4 times in 20 days." in text
    assert "ranges wider than /16 for IPv4" in text
    assert "Removal is free." in text
    assert "write to postmaster@example.net" in text


def test_the_policy_page_in_japanese_and_without_expiry(tmp_path):
    client = client_with(tmp_path, **{**LIFETIMES, "LISTING_TTL_SECONDS": 0})
    text = page_text(client.get("/policy", headers=JA))
    assert "登録は削除されるまで続き、自動的には終了しません。" in text
    assert "削除は、ボタンを押してから 90 分 後に反映されます。" in text
    assert "削除は無料です。" in text
    assert "A listing lasts until it is removed" in page_text(client.get("/policy"))


def test_mails_are_signed_with_the_operators_names_in_the_senders_language(app, client, smtp_sink):
    app.config.update(BRAND)
    add_listings(app, "203.0.113.7", "203.0.113.8")
    submit_form(client, "en@example.com", "203.0.113.7")
    submit_form(client, "ja@example.com", "203.0.113.8", **JA)
    run_worker(app)
    mails = {m["To"]: m for m in smtp_sink.messages}
    english = mails["en@example.com"].get_body(preferencelist=("plain",)).get_content()
    japanese = mails["ja@example.com"].get_body(preferencelist=("plain",)).get_content()
    assert "\r\n-- \r\nExample Mail delist portal, run by Example Mail\r\n" in english
    assert "Questions self-service cannot answer: postmaster@example.net" in english
    assert "Example Mail 送信拒否リスト 削除申請（運営：例メール株式会社）" in japanese
    assert "セルフサービスで解決できないお問い合わせ：postmaster@example.net" in japanese
    html = mails["ja@example.com"].get_body(preferencelist=("html",)).get_content()
    assert '<a href="mailto:postmaster@example.net">' in html


@pytest.fixture
def theme(tmp_path):
    folder = tmp_path / "theme"
    (folder / "templates" / "portal").mkdir(parents=True)
    (folder / "static").mkdir()
    return folder


def test_a_template_in_the_theme_folder_wins_over_ours(tmp_path, theme):
    (theme / "templates" / "portal" / "_criteria.html").write_text("<p>Only spam traps.</p>")
    (theme / "templates" / "portal" / "_criteria.ja.html").write_text("<p>トラップのみ。</p>")
    client = client_with(tmp_path, THEME_DIR=str(theme))
    assert "Only spam traps." in client.get("/policy").text
    assert "トラップのみ。" in client.get("/policy", headers=JA).text
    assert "spam traps: addresses that never asked" not in client.get("/policy").text
    ours = client_with(tmp_path).get("/policy").text
    assert "spam traps: addresses that never asked" in ours


def test_theme_static_files_replace_ours_and_add_the_logo_and_a_stylesheet(tmp_path, theme):
    (theme / "static" / "style.css").write_text("body { color: green; }")
    (theme / "static" / "theme.css").write_text(":root { --primary: #006644; }")
    (theme / "static" / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    client = client_with(tmp_path, THEME_DIR=str(theme), **BRAND)
    page = client.get("/").text
    assert '<img class="logo" src="/static/logo.svg" alt="">Example Mail delist portal' in page
    assert '<link rel="stylesheet" href="/static/theme.css">' in page
    for name, body in [("style.css", b"green"), ("theme.css", b"#006644"), ("times.js", b"UTC")]:
        with client.get(f"/static/{name}") as response:
            assert response.status_code == 200 and body in response.data, name
    with client.get("/static/../config.py") as outside:
        assert outside.status_code == 404
    assert "theme.css" not in client_with(tmp_path).get("/").text


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"CONTACT_EMAIL": "postmaster"}, "CONTACT_EMAIL='postmaster': must be an email address"),
        ({"PORTAL_TITLE": "x" * 81}, "PORTAL_TITLE='xxx"),
        ({"OPERATOR_NAME_JA": "two\nlines"}, "must be one line of at most 80 characters"),
        ({"THEME_DIR": "/nonexistent/theme"}, "THEME_DIR='/nonexistent/theme': no such folder"),
    ],
)
def test_bad_branding_settings_stop_the_start_with_the_variable_named(tmp_path, settings, message):
    with pytest.raises(ConfigError, match="invalid configuration") as excinfo:
        client_with(tmp_path, **settings)
    assert message in str(excinfo.value)


def test_the_default_sender_is_named_after_the_portal():
    environ = {"SECRET_KEY": "x" * 32, "PUBLIC_BASE_URL": "https://delist.example.net"}
    named = config.load(environ={**environ, "PORTAL_TITLE": "Example Mail, delisting"})
    assert named["MAIL_DEFAULT_SENDER"] == '"Example Mail, delisting" <no-reply@delist.example.net>'
