"""The delist portal: create_app() builds the Flask application."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path

from flask import Flask

import config
from app.core import connections
from app.extensions import babel, csrf, db, limiter, login_manager, migrate
from app.web import languages, template_gettext


def create_app(overrides: Mapping[str, object] | None = None) -> Flask:
    """Build the app from the environment, with `overrides` on top (tests)."""
    settings = config.load(overrides)
    app = Flask(
        __name__,
        instance_path=str(config.INSTANCE_PATH),
        template_folder=str(config.PROJECT_ROOT / "templates"),
        static_folder=str(config.PROJECT_ROOT / "static"),
    )
    app.config.update(settings)
    if not app.config["DATABASE_URL"]:  # the default SQLite file lives in the instance folder
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    configure_logging(app)
    register_metrics(app)
    register_security(app)
    register_extensions(app)
    register_blueprints(app)
    register_template_helpers(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def configure_logging(app: Flask) -> None:
    """Plain log lines with UTC times on stderr, unless the host process set up logging."""
    from app.core import redaction, security_log

    level = getattr(logging, app.config.get("LOG_LEVEL", "INFO").upper(), logging.INFO)
    root = logging.getLogger()
    if not root.handlers:  # gunicorn, flask CLI; test runners bring their own handlers
        logging.Formatter.converter = time.gmtime
        logging.basicConfig(
            level=level,
            format="%(asctime)sZ %(levelname)s %(name)s: %(message)s",
            datefmt="%Y-%m-%dT%H:%M:%S",
        )
    logging.getLogger("delist").setLevel(level)
    app.logger.setLevel(level)  # after basicConfig, so Flask adds no second handler
    redaction.install()
    if not app.testing:  # tests read the lines as they are logged
        security_log.write_in_background()


def register_metrics(app: Flask) -> None:
    from app.web import metrics

    metrics.register(app)  # first, so its clock runs before any hook that answers early


def register_security(app: Flask) -> None:
    from app.web import security

    security.register(app)


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    with app.app_context():
        connections.configure(db.engine)
    migrate.init_app(app, db, directory=str(config.PROJECT_ROOT / "migrations"))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=languages.select_locale)
    template_gettext.register(app)
    limiter.init_app(app)
    login_manager.init_app(app)


def register_blueprints(app: Flask) -> None:
    from app.admin import bp as admin_bp
    from app.api import bp as api_bp
    from app.health import bp as health_bp
    from app.portal import bp as portal_bp

    app.register_blueprint(portal_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(health_bp)
    if app.config.get("DEV_MAILBOX_DIR"):
        from app.mail.devmail import bp as devmail_bp

        app.register_blueprint(devmail_bp)


def register_template_helpers(app: Flask) -> None:
    from app.delisting.sender_view import MailOutcome, SenderStatus
    from app.models import RequestStatus
    from app.web import branding, formatting, theme

    formatting.register(app)
    branding.register(app)
    theme.register(app)
    # Templates compare states with these, never with string literals.
    app.add_template_global(RequestStatus, "RequestStatus")
    app.add_template_global(SenderStatus, "SenderStatus")
    app.add_template_global(MailOutcome, "MailOutcome")


def register_errorhandlers(app: Flask) -> None:
    from app.web.errors import register

    register(app)


def register_commands(app: Flask) -> None:
    from app.cli import register

    register(app)
