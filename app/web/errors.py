"""Error pages: every error a user can cause gets a clear page, never a traceback."""

from urllib.parse import urlsplit

from flask import Flask, Response, jsonify, render_template, request
from flask.globals import request_ctx
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import BadHost, BadRequest, HTTPException, SecurityError

from app.core import security_log
from app.extensions import db
from app.web import metrics

MESSAGES = {
    400: (_l("Bad request"), _l("We could not understand this request.")),
    404: (_l("Page not found"), _l("There is no page at this address.")),
    405: (_l("Not allowed"), _l("This page cannot be used that way.")),
    413: (_l("Too much data"), _l("What you sent is too large.")),
    429: (_l("Too many requests"), _l("Please wait a little and try again.")),
    500: (_l("Something went wrong"), _l("Something went wrong on our side. Please try again.")),
}


API_ERRORS = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    429: "rate_limited",
    500: "server_error",
}

# An error page (HTML or JSON) and its status code.
ErrorPage = tuple[str | Response, int]


def _page(
    code: int, title: LazyString | None = None, message: LazyString | None = None
) -> ErrorPage:
    default_title, default_message = MESSAGES.get(code, MESSAGES[400])
    if request.path.startswith("/api/"):
        body = {"error": API_ERRORS.get(code, "error"), "message": str(message or default_message)}
        return jsonify(body), code
    return (
        render_template(
            "errors/error.html",
            code=code,
            title=title or default_title,
            message=message or default_message,
        ),
        code,
    )


def register(app: Flask) -> None:
    public = urlsplit(app.config["PUBLIC_BASE_URL"])

    @app.errorhandler(SecurityError)  # a Host outside TRUSTED_HOSTS
    @app.errorhandler(BadHost)  # a Host no URL can be built for (e.g. a label over 63 bytes)
    def bad_host(error: BadRequest) -> ErrorPage:
        # Flask made no URL adapter for this request, and the page's links need one: build
        # them for our own public address, never for the Host header that was sent.
        request_ctx.url_adapter = app.url_map.bind(
            public.netloc, script_name=request.root_path or "/", url_scheme=public.scheme
        )
        return _page(400)

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> ErrorPage:
        return _page(
            400,
            _l("This form has expired"),
            _l("For your safety, forms expire. Go back, reload the page and send it again."),
        )

    @app.errorhandler(429)
    def too_many(error: HTTPException) -> tuple[str | Response, int, dict[str, str]]:
        security_log.event(
            "rate_limit.hit", outcome="refused", client=request.remote_addr, path=request.path
        )
        metrics.count_rate_limit_hit()
        body, status = _too_many_page(error)
        limit = getattr(error, "limit", None)
        seconds = limit.limit.get_expiry() if limit is not None else 3600
        return body, status, {"Retry-After": str(seconds)}

    def _too_many_page(error: HTTPException) -> ErrorPage:
        limit = getattr(error, "limit", None)
        minutes = max(1, limit.limit.get_expiry() // 60) if limit is not None else 60
        if not request.path.startswith(("/admin/login", "/api/")):
            # Say when, not which limit: that would help only those who probe them.
            return _page(
                429,
                _l("Please wait a little"),
                _l(
                    "We have received many requests like this one. Please try again within "
                    "%(minutes)d minutes; nothing you already sent is lost.",
                    minutes=minutes,
                ),
            )
        if request.path.startswith("/admin/login"):
            return _page(
                429,
                _l("Too many sign-in attempts"),
                _l(
                    "Sign-in from your address is paused after several failed attempts. "
                    "Please try again in %(minutes)d minutes.",
                    minutes=minutes,
                ),
            )
        return http_error(error)

    # Unhandled exceptions reach this as a 500 once Flask has logged them.
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> ErrorPage:
        if (error.code or 500) >= 500:
            db.session.rollback()
        return _page(error.code or 500)
