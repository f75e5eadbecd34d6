"""What "ready" means: each part the portal needs, checked now, with what is wrong with it.

A check returns None when its part is fine, else a short reason fit for anyone to read
(no host names or driver messages: those go to the log).
"""

from __future__ import annotations

import logging
from typing import cast
from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from flask import Flask
from limits.storage import Storage, storage_from_string

from app.extensions import db

log = logging.getLogger("delist.health")

REDIS_SCHEMES = ("redis", "rediss", "redis+unix", "redis+sentinel", "redis+cluster")


def code_heads(app: Flask) -> set[str]:
    """The newest migrations this code ships (read once: a deploy restarts the process)."""
    heads = app.extensions.get("health_code_heads")
    if heads is None:
        directory = app.extensions["migrate"].directory
        heads = app.extensions["health_code_heads"] = set(ScriptDirectory(directory).get_heads())
    return heads


def database_problem(app: Flask) -> str | None:
    """Whether the database answers and its schema is at the code's latest migration."""
    try:
        with db.engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except sa.exc.DBAPIError as exc:
        log.warning("readiness: database unreachable: %s", exc.orig)
        return "unreachable"
    expected = code_heads(app)
    if current == expected:
        return None
    if not current:
        return "no schema: run flask --app wsgi db upgrade"
    at, want = ", ".join(sorted(current)), ", ".join(sorted(expected))
    script = ScriptDirectory(app.extensions["migrate"].directory)
    if all(_known(script, revision) for revision in current):
        return f"schema at migration {at}, the code needs {want}: run flask --app wsgi db upgrade"
    return f"schema at migration {at}, newer than this code ({want})"


def _known(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except (RevisionError, CommandError):  # a revision this code does not have
        return False


def redis_problem(app: Flask) -> str | None:
    """Whether the rate limits' Redis answers, when RATELIMIT_STORAGE_URI names one."""
    uri = app.config["RATELIMIT_STORAGE_URI"]
    if urlsplit(uri).scheme not in REDIS_SCHEMES:
        return None
    storage: Storage | None = app.extensions.get("health_redis")
    if storage is None:  # one client per app, made at the first probe; a sync URI's storage
        storage = app.extensions["health_redis"] = cast(Storage, storage_from_string(uri))
    if storage.check():
        return None
    log.warning("readiness: Redis (RATELIMIT_STORAGE_URI) does not answer")
    return "unreachable"


def problems(app: Flask) -> dict[str, str]:
    """Each failing part and why; empty when the portal is ready."""
    found = {"database": database_problem(app), "redis": redis_problem(app)}
    return {part: why for part, why in found.items() if why is not None}
