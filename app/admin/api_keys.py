"""Admin page for API keys: who may use the write API, when each key was last used; revoking."""

from __future__ import annotations

from datetime import datetime

from flask import render_template, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from app.accounts import api_keys
from app.admin import bp
from app.admin.actions import audited_action
from app.admin.forms import ActionForm
from app.core.actor import Actor
from app.extensions import db
from app.models import ApiKey


@bp.get("/api-keys")
def api_keys_page() -> str:
    return render_template("admin/api_keys.html", keys=api_keys.all_keys(), action=ActionForm())


@bp.post("/api-keys/<int:key_id>/revoke")
def api_key_revoke(key_id: int) -> Response:
    api_key = db.get_or_404(ApiKey, key_id)

    def revoke(why: str, actor: Actor, now: datetime) -> str:
        api_keys.revoke(api_key, actor=actor, now=now, why=why)
        return _l("The key %(name)s is revoked: it no longer works.", name=api_key.name)

    return audited_action(url_for(".api_keys_page"), revoke)
