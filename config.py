"""Settings: read from environment variables, checked once at start-up.

Every setting is documented in the README. A bad or missing value stops the
app with one clear line naming the variable, never a traceback later on.

Over 300 lines because a third of it is data: the table of every setting, its parser and
default. The checks that need more than a range (branding, DKIM) are functions of their own.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from email.utils import formataddr, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dkim.crypto import UnparsableKeyError, parse_pem_private_key
from limits import parse as parse_limit

PROJECT_ROOT = Path(__file__).resolve().parent
INSTANCE_PATH = PROJECT_ROOT / "instance"
DEFAULT_DATABASE_PATH = INSTANCE_PATH / "delist.sqlite3"
DEFAULT_THEME_DIR = INSTANCE_PATH / "theme"
DEFAULT_PORTAL_TITLE = "Delist portal"

# The longest lifetime a listing can be given (ten years; it fits the database's integer).
MAX_LIFETIME_SECONDS = 10 * 365 * 86400
MAX_DELIST_DELAY_SECONDS = 24 * 60 * 60
MIN_SECRET_KEY_LENGTH = 32
MIN_METRICS_TOKEN_LENGTH = 16


class ConfigError(Exception):
    """One or more settings are missing or invalid."""


def _text(raw: str) -> str:
    return raw.strip()


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("expected true or false")


def _int(raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise ValueError("expected a whole number") from None


def _list(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


# name -> (parser, default). A default of None means "not set".
SETTINGS: dict[str, tuple[Callable[[str], Any], Any]] = {
    "SECRET_KEY": (_text, None),
    "SECRET_KEY_FALLBACKS": (_list, []),
    "DATABASE_URL": (_text, None),
    "PUBLIC_BASE_URL": (_text, None),
    "MAIL_SERVER": (_text, "localhost"),
    "MAIL_PORT": (_int, 25),
    "MAIL_USE_TLS": (_bool, False),
    "MAIL_USE_SSL": (_bool, False),
    "MAIL_USERNAME": (_text, None),
    "MAIL_PASSWORD": (_text, None),
    "MAIL_DEFAULT_SENDER": (_text, None),
    "MAIL_TIMEOUT_SECONDS": (_int, 10),
    "MAIL_MAX_ATTEMPTS": (_int, 8),
    "MAIL_RETRY_BASE_SECONDS": (_int, 60),
    "MAIL_RESEND_INTERVAL_SECONDS": (_int, 300),
    "DKIM_DOMAIN": (_text, None),
    "DKIM_SELECTOR": (_text, None),
    "DKIM_PRIVATE_KEY_FILE": (_text, None),
    "DELIST_DELAY_SECONDS": (_int, 3600),
    "CONFIRM_TOKEN_MAX_AGE_SECONDS": (_int, 86400),
    "DELIST_ALLOW_NON_GLOBAL_IPS": (_bool, False),
    "LISTING_MIN_PREFIX_V4": (_int, 8),
    "LISTING_MIN_PREFIX_V6": (_int, 19),
    "LISTING_TTL_SECONDS": (_int, 7 * 86400),
    "LISTING_MEMORY_DAYS": (_int, 90),
    "LISTING_REPEAT_FACTOR": (_int, 2),
    "LISTING_MAX_TTL_SECONDS": (_int, 365 * 86400),
    "EMAIL_CHECK_DELIVERABILITY": (_bool, False),
    "WORKER_POLL_SECONDS": (_int, 5),
    "POLICY_REJECT_CODE": (_text, "550 5.7.606"),
    "POLICY_REJECT_TEXT": (
        _text,
        "Access denied, banned sending IP [{ip}]. To request removal from this list "
        "please visit {url} and follow the directions.",
    ),
    "POLICY_REFRESH_SECONDS": (_int, 5),
    "POLICY_MALFORMED_ACTION": (_text, "DUNNO"),
    "POLICY_MAX_CONNECTIONS": (_int, 800),
    "POLICY_REQUEST_TIMEOUT_SECONDS": (_int, 10),
    "POLICY_IDLE_TIMEOUT_SECONDS": (_int, 330),
    "ENFORCEMENT_STALE_SECONDS": (_int, 300),
    "API_RATE_LIMIT": (_text, "60 per minute"),
    "API_KEY_RATE_LIMIT": (_text, "600 per minute"),
    "RATELIMIT_STORAGE_URI": (_text, "memory://"),
    "RATELIMIT_ENABLED": (_bool, True),
    "ADMIN_SESSION_IDLE_SECONDS": (_int, 1800),
    "ADMIN_SESSION_MAX_SECONDS": (_int, 12 * 3600),
    "ADMIN_LOGIN_LIMIT_PER_ACCOUNT": (_text, "5 per 15 minutes"),
    "ADMIN_LOGIN_LIMIT_PER_ADDRESS": (_text, "20 per 15 minutes"),
    "ADMIN_LOGIN_CHALLENGE_MAX_NUMBER": (_int, 1_000_000),
    "DEV_MAILBOX_DIR": (_text, None),
    "LOG_LEVEL": (_text, "INFO"),
    "SELF_DELIST_MAX": (_int, 2),
    "SELF_DELIST_WINDOW_DAYS": (_int, 30),
    "MAIL_PER_RECIPIENT_PER_DAY": (_int, 5),
    "RATE_LIMIT_SUBMIT_PER_ADDRESS": (_text, "20 per hour"),
    "RATE_LIMIT_SUBMIT_PER_EMAIL": (_text, "10 per hour"),
    "RATE_LIMIT_SUBMIT_PER_IP": (_text, "10 per hour"),
    "RATE_LIMIT_CONFIRMATION_MAILS": (_text, "500 per hour"),
    "RATE_LIMIT_CONFIRMATION_MAILS_PER_CLIENT": (_text, "10 per hour"),
    "RATE_LIMIT_CONFIRM_PER_ADDRESS": (_text, "30 per hour"),
    "RATE_LIMIT_REPORT_PER_ADDRESS": (_text, "5 per hour"),
    "TRUSTED_HOSTS": (_list, []),
    "PROXY_COUNT": (_int, 0),
    "MAX_CONTENT_LENGTH_BYTES": (_int, 64 * 1024),
    "ADMIN_IMPORT_MAX_BYTES": (_int, 64 * 1024 * 1024),
    "CHALLENGE_ENABLED": (_bool, True),
    "CHALLENGE_MAX_NUMBER": (_int, 100_000),
    "PORTAL_TITLE": (_text, None),
    "PORTAL_TITLE_JA": (_text, None),
    "OPERATOR_NAME": (_text, None),
    "OPERATOR_NAME_JA": (_text, None),
    "CONTACT_EMAIL": (_text, None),
    "THEME_DIR": (_text, None),
    "METRICS_ALLOW": (_list, ["127.0.0.0/8", "::1/128"]),
    "METRICS_TOKEN": (_text, None),
}

# name -> (lowest, highest) for whole-number settings.
BOUNDS: dict[str, tuple[int, int]] = {
    "MAIL_PORT": (1, 65535),
    "MAIL_TIMEOUT_SECONDS": (1, 300),
    "MAIL_MAX_ATTEMPTS": (1, 50),
    "MAIL_RETRY_BASE_SECONDS": (1, 86400),
    "MAIL_RESEND_INTERVAL_SECONDS": (0, 86400),
    "DELIST_DELAY_SECONDS": (0, MAX_DELIST_DELAY_SECONDS),
    "CONFIRM_TOKEN_MAX_AGE_SECONDS": (300, 7 * 86400),
    "WORKER_POLL_SECONDS": (1, 3600),
    "LISTING_MIN_PREFIX_V4": (1, 32),
    "LISTING_MIN_PREFIX_V6": (1, 128),
    "LISTING_TTL_SECONDS": (0, MAX_LIFETIME_SECONDS),
    "LISTING_MEMORY_DAYS": (0, 3650),
    "LISTING_REPEAT_FACTOR": (1, 100),
    "LISTING_MAX_TTL_SECONDS": (1, MAX_LIFETIME_SECONDS),
    "POLICY_REFRESH_SECONDS": (1, 3600),
    "POLICY_MAX_CONNECTIONS": (1, 100_000),
    "POLICY_REQUEST_TIMEOUT_SECONDS": (1, 300),
    "POLICY_IDLE_TIMEOUT_SECONDS": (1, 86400),
    "ENFORCEMENT_STALE_SECONDS": (30, 7 * 86400),
    "ADMIN_SESSION_IDLE_SECONDS": (60, 86400),
    "ADMIN_SESSION_MAX_SECONDS": (300, 7 * 86400),
    "PROXY_COUNT": (0, 5),
    "SELF_DELIST_MAX": (0, 1000),
    "SELF_DELIST_WINDOW_DAYS": (1, 3650),
    "MAIL_PER_RECIPIENT_PER_DAY": (1, 1000),
    "MAX_CONTENT_LENGTH_BYTES": (4096, 16 * 1024 * 1024),
    "ADMIN_IMPORT_MAX_BYTES": (64 * 1024, 1024 * 1024 * 1024),
    "CHALLENGE_MAX_NUMBER": (1000, 10_000_000),
    "ADMIN_LOGIN_CHALLENGE_MAX_NUMBER": (1000, 50_000_000),
}

RATE_LIMIT_SETTINGS = (
    "API_RATE_LIMIT",
    "API_KEY_RATE_LIMIT",
    "ADMIN_LOGIN_LIMIT_PER_ACCOUNT",
    "ADMIN_LOGIN_LIMIT_PER_ADDRESS",
    "RATE_LIMIT_SUBMIT_PER_ADDRESS",
    "RATE_LIMIT_SUBMIT_PER_EMAIL",
    "RATE_LIMIT_SUBMIT_PER_IP",
    "RATE_LIMIT_CONFIRMATION_MAILS",
    "RATE_LIMIT_CONFIRMATION_MAILS_PER_CLIENT",
    "RATE_LIMIT_CONFIRM_PER_ADDRESS",
    "RATE_LIMIT_REPORT_PER_ADDRESS",
)

REJECT_CODE_RE = re.compile(r"^[45][0-9][0-9]( [45]\.[0-9]{1,3}\.[0-9]{1,3})?$")
# The operator's names: shown in the header, the footer and every mail, so one short line.
NAME_SETTINGS = ("PORTAL_TITLE", "PORTAL_TITLE_JA", "OPERATOR_NAME", "OPERATOR_NAME_JA")
MAX_NAME_LENGTH = 80
DKIM_SETTINGS = ("DKIM_DOMAIN", "DKIM_SELECTOR", "DKIM_PRIVATE_KEY_FILE")
# A selector or domain: dot-separated labels of letters, digits and hyphens (RFC 6376, 3.1).
DKIM_NAME_RE = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*$")


def from_environ(environ: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """Parse every known setting present in `environ`; return values and errors."""
    values: dict[str, Any] = {}
    errors: list[str] = []
    for name, (parse, default) in SETTINGS.items():
        raw = environ.get(name)
        if raw is None or (raw.strip() == "" and default is None):
            values[name] = default
            continue
        try:
            values[name] = parse(raw)
        except ValueError as exc:
            errors.append(f"{name}={raw!r}: {exc}")
    return values, errors


def validate(config: Mapping[str, Any]) -> list[str]:
    """Check the merged configuration; return one message per problem."""
    errors: list[str] = []
    if not config.get("SECRET_KEY"):
        errors.append("SECRET_KEY is required (a long random string; see the README)")
    elif len(config["SECRET_KEY"]) < MIN_SECRET_KEY_LENGTH and not config.get("TESTING"):
        errors.append(
            f"SECRET_KEY is too short: use at least {MIN_SECRET_KEY_LENGTH} random characters"
        )

    base = config.get("PUBLIC_BASE_URL")
    if not base:
        errors.append("PUBLIC_BASE_URL is required, e.g. https://delist.example.net")
    else:
        parts = urlsplit(base)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            errors.append(f"PUBLIC_BASE_URL={base!r}: must be an absolute http(s) URL")
        elif parts.query or parts.fragment:
            errors.append(f"PUBLIC_BASE_URL={base!r}: must not have a query or fragment")

    for name, (low, high) in BOUNDS.items():
        value = config.get(name)
        if isinstance(value, int) and not low <= value <= high:
            errors.append(f"{name}={value}: must be between {low} and {high}")

    if config.get("MAIL_USE_TLS") and config.get("MAIL_USE_SSL"):
        errors.append("MAIL_USE_TLS and MAIL_USE_SSL cannot both be true")

    code = config.get("POLICY_REJECT_CODE") or ""
    if not REJECT_CODE_RE.match(code):
        errors.append(f"POLICY_REJECT_CODE={code!r}: expected e.g. '550 5.7.606' (4xx or 5xx)")
    text = config.get("POLICY_REJECT_TEXT") or ""
    try:
        text.format(ip="192.0.2.1", url="https://example.net/", lookup_url="https://example.net/")
    except (KeyError, IndexError, ValueError):
        errors.append(
            f"POLICY_REJECT_TEXT={text!r}: only the placeholders {{ip}}, {{url}} and "
            "{lookup_url} work"
        )
    if "\n" in text or "\r" in text:
        errors.append("POLICY_REJECT_TEXT must be one line")
    for name in RATE_LIMIT_SETTINGS:
        try:
            parse_limit(config.get(name) or "")
        except ValueError:
            errors.append(f"{name}={config.get(name)!r}: expected e.g. '10 per hour'")
    if config.get("POLICY_MALFORMED_ACTION") not in {"DUNNO", "DEFER_IF_PERMIT"}:
        errors.append("POLICY_MALFORMED_ACTION must be DUNNO or DEFER_IF_PERMIT")

    sender = config.get("MAIL_DEFAULT_SENDER")
    if sender and "@" not in parseaddr(sender)[1]:
        errors.append(f"MAIL_DEFAULT_SENDER={sender!r}: must be an email address")
    return errors + branding_errors(config) + metrics_errors(config) + dkim_errors(config)


def branding_errors(config: Mapping[str, Any]) -> list[str]:
    """The operator's names are one short line each; the contact is an email address; a theme
    folder that is named exists."""
    errors = [
        f"{name}={config[name]!r}: must be one line of at most {MAX_NAME_LENGTH} characters"
        for name in NAME_SETTINGS
        if config.get(name)
        and (len(config[name]) > MAX_NAME_LENGTH or not config[name].isprintable())
    ]
    contact = config.get("CONTACT_EMAIL")
    if contact and not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", contact):
        errors.append(
            f"CONTACT_EMAIL={contact!r}: must be an email address, e.g. abuse@example.net"
        )
    theme = config.get("THEME_DIR")
    if theme and not Path(theme).is_dir():
        errors.append(f"THEME_DIR={theme!r}: no such folder")
    return errors


def metrics_errors(config: Mapping[str, Any]) -> list[str]:
    """Who may read /metrics: networks that parse, and a token too long to guess."""
    errors = []
    for network in config.get("METRICS_ALLOW") or []:
        try:
            ipaddress.ip_network(network)
        except ValueError as exc:  # e.g. "192.0.2.1/24 has host bits set"
            errors.append(f"METRICS_ALLOW: {exc}")
    token = config.get("METRICS_TOKEN")
    if token and len(token) < MIN_METRICS_TOKEN_LENGTH:
        errors.append(
            f"METRICS_TOKEN is too short: use at least {MIN_METRICS_TOKEN_LENGTH} random characters"
        )
    return errors


def dkim_errors(config: Mapping[str, Any]) -> list[str]:
    """DKIM signing needs all three settings, sensible names and a readable RSA key."""
    given = [name for name in DKIM_SETTINGS if config.get(name)]
    if not given:
        return []
    if len(given) < len(DKIM_SETTINGS):
        missing = ", ".join(name for name in DKIM_SETTINGS if name not in given)
        return [f"DKIM signing needs {missing} too (or none of the DKIM_* settings)"]
    errors = [
        f"{name}={config[name]!r}: expected a name such as mail2026 or example.net"
        for name in ("DKIM_DOMAIN", "DKIM_SELECTOR")
        if not DKIM_NAME_RE.match(config[name])
    ]
    path = config["DKIM_PRIVATE_KEY_FILE"]
    try:
        key = parse_pem_private_key(Path(path).read_bytes())
    except OSError as exc:
        return [*errors, f"DKIM_PRIVATE_KEY_FILE={path!r}: cannot read it: {exc.strerror}"]
    except (UnparsableKeyError, ValueError):
        return [*errors, f"DKIM_PRIVATE_KEY_FILE={path!r}: not an RSA private key in PEM"]
    if key["modulus"].bit_length() < 1024:  # RFC 8301: receivers ignore shorter keys
        errors.append(f"DKIM_PRIVATE_KEY_FILE={path!r}: the key is shorter than 1024 bits")
    return errors


def derived(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings Flask and its extensions read, computed from ours (validated already)."""
    public_base_url = settings["PUBLIC_BASE_URL"].rstrip("/")
    sender = settings.get("MAIL_DEFAULT_SENDER")
    if not sender:
        title = settings.get("PORTAL_TITLE") or DEFAULT_PORTAL_TITLE
        sender = formataddr(
            (title, f"no-reply@{urlsplit(public_base_url).hostname or 'localhost'}")
        )
    database_uri = database_uri_for(settings.get("DATABASE_URL"))
    key_file = settings.get("DKIM_PRIVATE_KEY_FILE")
    values: dict[str, Any] = {
        "PUBLIC_BASE_URL": public_base_url,
        # Read once at start-up: a key replaced on disk takes effect at the next restart.
        "DKIM_PRIVATE_KEY": Path(key_file).read_bytes() if key_file else None,
        "MAIL_DEFAULT_SENDER": sender,
        "THEME_DIR": settings.get("THEME_DIR") or str(DEFAULT_THEME_DIR),
        "SQLALCHEMY_DATABASE_URI": database_uri,
        # Flask's defaults exist already (and are weaker), so these are set, not defaulted.
        "SESSION_COOKIE_SECURE": public_base_url.startswith("https://"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "MAX_CONTENT_LENGTH": settings["MAX_CONTENT_LENGTH_BYTES"],
        # Flask checks the Host header only when this is not None.
        "TRUSTED_HOSTS": settings["TRUSTED_HOSTS"] or None,
        # Our 429 handler sets Retry-After; the limiter's own headers would overwrite the
        # precise one the portal sends when it asks a sender to wait for a resend.
        "RATELIMIT_HEADERS_ENABLED": False,
        "METRICS_ALLOW_NETWORKS": tuple(
            ipaddress.ip_network(network) for network in settings["METRICS_ALLOW"]
        ),
    }
    if database_uri.startswith("sqlite"):
        # Wait for the writer instead of failing at once with "database is locked".
        values["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"timeout": 15}}
    return values


def database_uri_for(url: str | None) -> str:
    """SQLAlchemy's URI for DATABASE_URL: the instance folder's SQLite file when unset,
    and the psycopg 3 driver for PostgreSQL."""
    if not url:
        return f"sqlite:///{DEFAULT_DATABASE_PATH}"
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def load(
    overrides: Mapping[str, object] | None = None, environ: Mapping[str, str] = os.environ
) -> dict[str, Any]:
    """The complete settings: the environment, then `overrides` (tests), validated, and
    what follows from them (`derived`)."""
    values, errors = from_environ(environ)
    values.update(overrides or {})
    errors += validate(values)
    if errors:
        raise ConfigError("invalid configuration: " + "; ".join(errors))
    values.update(derived(values))
    return values
