"""Settings are validated at start-up with a clear message."""

import os
import subprocess
import sys

import pytest

import config
from config import ConfigError

GOOD_ENV = {"SECRET_KEY": "x" * 32, "PUBLIC_BASE_URL": "https://delist.example.net"}


def load(**env):
    return config.load(environ={**GOOD_ENV, **env})


def test_defaults_need_only_the_secret_and_the_public_address():
    settings = load()
    assert settings["DELIST_DELAY_SECONDS"] == 3600
    assert settings["DELIST_ALLOW_NON_GLOBAL_IPS"] is False
    assert settings["MAIL_DEFAULT_SENDER"] == "Delist portal <no-reply@delist.example.net>"


@pytest.mark.parametrize("value", ["0", "86400", "600"])
def test_delist_delay_within_a_day_is_accepted(value):
    assert load(DELIST_DELAY_SECONDS=value)["DELIST_DELAY_SECONDS"] == int(value)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"DELIST_DELAY_SECONDS": "86401"},
            "DELIST_DELAY_SECONDS=86401: must be between 0 and 86400",
        ),
        ({"DELIST_DELAY_SECONDS": "-1"}, "DELIST_DELAY_SECONDS=-1: must be between 0 and 86400"),
        ({"DELIST_DELAY_SECONDS": "1h"}, "DELIST_DELAY_SECONDS='1h': expected a whole number"),
        ({"SECRET_KEY": ""}, "SECRET_KEY is required"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY is too short"),
        ({"PUBLIC_BASE_URL": ""}, "PUBLIC_BASE_URL is required"),
        ({"PUBLIC_BASE_URL": "delist.example.net"}, "must be an absolute http(s) URL"),
        ({"DELIST_ALLOW_NON_GLOBAL_IPS": "maybe"}, "expected true or false"),
        ({"MAIL_USE_TLS": "true", "MAIL_USE_SSL": "true"}, "cannot both be true"),
        ({"MAIL_DEFAULT_SENDER": "nobody"}, "must be an email address"),
        ({"CONFIRM_TOKEN_MAX_AGE_SECONDS": "10"}, "must be between 300 and 604800"),
        ({"METRICS_ALLOW": "10.0.0.0/8, 10.0.0.0/33"}, "METRICS_ALLOW: '10.0.0.0/33' does not"),
        ({"METRICS_ALLOW": "192.0.2.1/24"}, "METRICS_ALLOW: 192.0.2.1/24 has host bits set"),
        ({"METRICS_TOKEN": "short"}, "METRICS_TOKEN is too short"),
    ],
)
def test_bad_settings_are_refused_with_the_variable_named(env, message):
    with pytest.raises(ConfigError, match="invalid configuration") as excinfo:
        load(**env)
    assert message in str(excinfo.value)


def test_key_fallbacks_are_a_comma_separated_list():
    assert load(SECRET_KEY_FALLBACKS="old-one, older-one,")["SECRET_KEY_FALLBACKS"] == [
        "old-one",
        "older-one",
    ]


def test_trailing_slash_of_the_public_address_is_dropped():
    assert load(PUBLIC_BASE_URL="https://delist.example.net/")["PUBLIC_BASE_URL"] == (
        "https://delist.example.net"
    )


def test_the_cli_refuses_to_start_with_one_clear_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in config.SETTINGS}
    env.update(GOOD_ENV, DELIST_DELAY_SECONDS="90000", DATABASE_URL=f"sqlite:///{tmp_path}/x.db")
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "blocklist", "list"],
        capture_output=True,
        text=True,
        env=env,
        cwd=config.PROJECT_ROOT,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "DELIST_DELAY_SECONDS=90000: must be between 0 and 86400" in result.stderr


@pytest.mark.parametrize(
    ("key", "accepted"), [("k" * 31, False), ("k" * 32, True), ("k" * 64, True)]
)
def test_the_secret_key_needs_at_least_32_characters(key, accepted):
    if accepted:
        assert load(SECRET_KEY=key)["SECRET_KEY"] == key
    else:
        with pytest.raises(ConfigError, match="use at least 32 random characters"):
            load(SECRET_KEY=key)


@pytest.mark.parametrize(
    ("database_url", "uri"),
    [
        ("", f"sqlite:///{config.PROJECT_ROOT / 'instance' / 'delist.sqlite3'}"),
        ("sqlite:////srv/delist/x.sqlite3", "sqlite:////srv/delist/x.sqlite3"),
        ("postgresql://u:p@db:5432/delist", "postgresql+psycopg://u:p@db:5432/delist"),
        ("postgres://u:p@db/delist", "postgresql+psycopg://u:p@db/delist"),
        ("postgresql+psycopg://u@db/delist", "postgresql+psycopg://u@db/delist"),
    ],
)
def test_the_database_uri_follows_from_database_url(database_url, uri):
    settings = load(DATABASE_URL=database_url)
    assert settings["SQLALCHEMY_DATABASE_URI"] == uri
    options = settings.get("SQLALCHEMY_ENGINE_OPTIONS")
    if uri.startswith("sqlite"):  # waits for the writer instead of "database is locked"
        assert options == {"connect_args": {"timeout": 15}}
    else:
        assert options is None


@pytest.mark.parametrize(
    ("base_url", "secure"),
    [("https://delist.example.net", True), ("http://127.0.0.1:5000", False)],
)
def test_session_cookies_follow_the_public_address(base_url, secure):
    settings = load(PUBLIC_BASE_URL=base_url)
    assert settings["SESSION_COOKIE_SECURE"] is secure
    assert settings["SESSION_COOKIE_HTTPONLY"] is True
    assert settings["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_flask_settings_follow_ours():
    settings = load(MAX_CONTENT_LENGTH_BYTES="8192")
    assert settings["MAX_CONTENT_LENGTH"] == 8192
    assert settings["TRUSTED_HOSTS"] is None  # empty: Flask checks no Host header
    assert settings["RATELIMIT_HEADERS_ENABLED"] is False  # our 429 pages set Retry-After
    hosts = load(TRUSTED_HOSTS="delist.example.net, www.example.net")["TRUSTED_HOSTS"]
    assert hosts == ["delist.example.net", "www.example.net"]


def test_overrides_are_derived_from_like_the_environment():
    settings = config.load(
        {"PUBLIC_BASE_URL": "http://127.0.0.1:8000/", "MAX_CONTENT_LENGTH_BYTES": 4096},
        environ=GOOD_ENV,
    )
    assert settings["PUBLIC_BASE_URL"] == "http://127.0.0.1:8000"
    assert settings["SESSION_COOKIE_SECURE"] is False
    assert settings["MAX_CONTENT_LENGTH"] == 4096
    assert settings["MAIL_DEFAULT_SENDER"] == "Delist portal <no-reply@127.0.0.1>"


def test_the_app_runs_on_the_settings_as_loaded(tmp_path, monkeypatch):
    from app import create_app

    for name in config.SETTINGS:
        monkeypatch.delenv(name, raising=False)
    overrides = {
        "TESTING": True,
        "DATABASE_URL": f"postgresql://u@db.invalid/x{tmp_path.name}",
        "PUBLIC_BASE_URL": "http://127.0.0.1:8000",
    }
    settings = config.load(overrides, environ=GOOD_ENV)
    app = create_app({**GOOD_ENV, **overrides})
    for name, value in settings.items():
        assert app.config[name] == value, name
