"""Renders kept per language and filled in per use: the same text as a full render.

The confirmation mail, the "check your inbox" page and the Delist IP page are filled into
renders kept with placeholders (app.core.stored_renders). Each is compared here with a
full render of the same values, in both languages, with values that need escaping.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask_babel import force_locale

from app.core import stored_renders
from app.delisting import notices
from app.delisting.confirmation import DelistPage
from app.delisting.submission import Outcome, SubmitResult
from app.extensions import db
from app.portal.confirm import delist_page
from app.portal.forms import ConfirmForm
from app.portal.outcomes import submitted_page
from tests.helpers import T0
from tests.helpers_delisting import list_networks, submit

LANGUAGES = ["en", "ja"]


def kept_and_full(app, make):
    """`make()` twice from the kept render (the first call keeps it), then in full."""
    app.extensions.pop("stored_renders", None)
    kept = [make(), make()]
    app.jinja_env.auto_reload = True  # as in development: nothing is kept
    try:
        full = make()
    finally:
        app.jinja_env.auto_reload = False
    return kept, full


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_confirmation_mail_is_the_full_render(app, language):
    with app.test_request_context():
        kept, full = kept_and_full(
            app,
            lambda: notices.confirmation_letter("2001:db8::7", "p-Ub_1", "a.b-c_d", language),
        )
    assert kept[0] == kept[1] == full
    assert "2001:db8::7" in full.body_text and "/confirm/a.b-c_d" in full.body_html
    assert "stored-render" not in "".join(kept[0])


def test_a_letter_takes_each_use_s_values(app):
    with app.test_request_context():
        first = notices.confirmation_letter("192.0.2.1", "one", "token-one", "en")
        second = notices.confirmation_letter("192.0.2.2", "two", "token-two", "en")
    assert "192.0.2.1" not in second.body_text + second.body_html + second.subject
    assert "token-two" in second.body_text and "/requests/two" in second.body_html
    assert "token-one" in first.body_text


@pytest.mark.parametrize("with_status_link", [True, False])
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_check_your_inbox_page_is_the_full_render(app, ctx, language, with_status_link):
    listing = list_networks("203.0.113.7")[0]
    result = submit("203.0.113.7", "o'neil&co@example.com")
    assert result.outcome is Outcome.CHECK_INBOX
    if not with_status_link:  # someone else's request: no link to it
        result = SubmitResult(result.outcome, None, listing)
    with app.test_request_context(), force_locale(language):
        kept, full = kept_and_full(
            app, lambda: submitted_page(result, "o'neil&co@example.com", "203.0.113.7")
        )
    assert kept[0] == kept[1] == full
    assert "o&#39;neil&amp;co@example.com" in full
    assert ("/requests/" in full) is with_status_link


@pytest.mark.parametrize("listed", [True, False])
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_delist_page_is_the_full_render(app, ctx, language, listed):
    listing = list_networks("2001:db8::7/128")[0]
    request = submit("2001:db8::7", "s@example.com").delist_request
    db.session.flush()
    page = DelistPage(request, listing if listed else None, 2)
    path = "/confirm/a.b-c_d"
    with app.test_request_context(path, headers={"Accept-Language": language}):
        kept, full = kept_and_full(app, lambda: delist_page(ConfirmForm(), page))
    assert kept[0] == kept[1] == full
    assert f'name="next" value="{path}"' in full
    assert ("2001:db8::7" in full) and (("Listed since" in full or "登録日時" in full) is listed)
    assert stored_renders.placeholder("csrf_token") not in kept[0]


def test_a_delist_page_takes_each_link_s_values(app, ctx):
    listings = list_networks("203.0.113.7", "203.0.113.8")
    first = submit("203.0.113.7", "a@example.com").delist_request
    second = submit("203.0.113.8", "b@example.com").delist_request
    db.session.flush()
    pages = []
    for request, listing, path in (
        (first, listings[0], "/confirm/x"),
        (second, listings[1], "/confirm/y"),
    ):
        with app.test_request_context(path):
            pages.append(delist_page(ConfirmForm(), DelistPage(request, listing, 1)))
    assert "203.0.113.7" in pages[0] and "203.0.113.7" not in pages[1]
    assert 'value="/confirm/y"' in pages[1] and "1 more time" in pages[1]


def test_nothing_is_kept_while_templates_reload(app):
    app.jinja_env.auto_reload = True
    with app.test_request_context():
        notices.confirmation_letter("192.0.2.1", "one", "token-one", "en")
    assert "stored_renders" not in app.extensions


def test_expiry_and_hits_show_on_the_delist_page(app, ctx):
    listing = list_networks("203.0.113.7")[0]
    listing.hit_count = 3
    listing.last_seen_at = T0 + timedelta(hours=1)
    request = submit("203.0.113.7", "s@example.com").delist_request
    db.session.flush()
    with app.test_request_context("/confirm/x"):
        kept, full = kept_and_full(
            app, lambda: delist_page(ConfirmForm(), DelistPage(request, listing, 0))
        )
    assert kept[0] == full and "3 times" in full and "used its self-service removals" in full


def test_a_template_that_takes_a_value_from_elsewhere_is_never_kept(app, ctx):
    """A theme's base page that writes `request.path` itself, not the value given: keeping
    its render would show one link's token to the next visitor, so it is rendered in full."""
    from jinja2 import ChoiceLoader, DictLoader

    ours = app.jinja_env.loader
    theme_base = ours.get_source(app.jinja_env, "base.html")[0]
    theme_base = theme_base.replace("page_path | default(request.path)", "request.path")
    assert "request.path" in theme_base
    app.jinja_env.loader = ChoiceLoader([DictLoader({"base.html": theme_base}), ours])
    listing = list_networks("203.0.113.7")[0]
    request = submit("203.0.113.7", "s@example.com").delist_request
    db.session.flush()
    pages = []
    for path in ("/confirm/first-link", "/confirm/second-link"):
        with app.test_request_context(path):
            pages.append(delist_page(ConfirmForm(), DelistPage(request, listing, 1)))
    assert 'value="/confirm/first-link"' in pages[0]
    assert 'value="/confirm/second-link"' in pages[1] and "first-link" not in pages[1]
