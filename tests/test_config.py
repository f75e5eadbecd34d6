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
