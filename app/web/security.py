"""Hardening every response: security headers, well-formed Host headers, proxies, NUL bytes,
body sizes."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import TypeVar

from flask import Flask, Response, abort, current_app, request
from werkzeug.exceptions import BadHost
from werkzeug.middleware.proxy_fix import ProxyFix

# No inline script or style anywhere: pages load only our own static files.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)
HSTS = "max-age=31536000; includeSubDomains"


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


# host [":" port], the host a name, an IPv4 address or a bracketed IPv6 address (RFC 9110).
HOST_HEADER = re.compile(r"(?P<name>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(?P<port>[0-9]{1,5}))?")
MAX_NAME_LENGTH = 253
MAX_LABEL_LENGTH = 63


def host_header_is_valid(value: str) -> bool:
    """Whether a Host header is well formed (RFC 9110, with DNS name limits)."""
    match = HOST_HEADER.fullmatch(value)
    if match is None or (match["port"] and not 0 < int(match["port"]) < 65536):
        return False
    name = match["name"]
    if name.startswith("["):
        try:
            ipaddress.IPv6Address(name[1:-1])
        except ValueError:
            return False
        return True
    labels = name.removesuffix(".").split(".")
    return len(name) <= MAX_NAME_LENGTH and all(
        0 < len(label) <= MAX_LABEL_LENGTH for label in labels
    )


def _refuse_bad_hosts() -> None:
    """A malformed Host header is a 400, whatever TRUSTED_HOSTS says (errors.bad_host)."""
    host = request.headers.get("Host")
    if host is not None and not host_header_is_valid(host):
        raise BadHost()


# view -> the setting naming the largest body it accepts (see large_body)
_LARGE_BODY_SETTINGS: dict[Callable[..., object], str] = {}

View = TypeVar("View", bound=Callable[..., object])


def large_body(setting: str) -> Callable[[View], View]:
    """Let one view accept a body up to the setting's bytes, instead of MAX_CONTENT_LENGTH.

    Files in the body are spooled to disk by Werkzeug, not kept in memory. Put this right
    under the route decorator, so the route registers the view it marks.
    """

    def mark(view: View) -> View:
        _LARGE_BODY_SETTINGS[view] = setting
        return view

    return mark


def _raise_body_limit() -> None:
    """The larger limit of a `large_body` view, set before anything reads the body.

    This must run before Flask-WTF's CSRF check, which reads the form: register() is called
    before the extensions are set up, so this comes first among the before_request functions.
    """
    view = current_app.view_functions.get(request.endpoint or "")
    setting = _LARGE_BODY_SETTINGS.get(view) if view is not None else None
    if setting is not None:
        request.max_content_length = current_app.config[setting]


def _refuse_nul_characters() -> None:
    """No field can hold a NUL, and PostgreSQL refuses them: stop such requests at the door."""
    values = [request.path, *(v for _, v in request.args.items(multi=True))]
    if request.method == "POST":
        values += [v for _, v in request.form.items(multi=True)]
    if any("\x00" in value for value in values):
        abort(400)


def register(app: Flask) -> None:
    """Cookies, body size and trusted hosts are settings (config.derived); this adds the rest."""
    count = app.config["PROXY_COUNT"]
    if count:
        # Trust exactly this many proxies for the client address, scheme and host,
        # so rate limits and the audit log see the real client.
        # Flask's documented way to add WSGI middleware; mypy sees a method assigned.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=count, x_proto=count, x_host=count
        )
    app.before_request(_refuse_bad_hosts)
    app.before_request(_raise_body_limit)
    app.before_request(_refuse_nul_characters)
    app.after_request(_security_headers)
