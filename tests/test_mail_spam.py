"""Every mail we send, in each language, as a strict receiver's filter scores it: Debian's
SpamAssassin with its local tests only (no network, no DNS, no Bayes)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.delisting import notices
from app.extensions import db
from tests.helpers import T0, run_worker
from tests.helpers_delisting import list_networks, submit
from tests.helpers_mail import spamassassin_score
from tests.helpers_mta import require

# SpamAssassin's own threshold is 5.0; a mail of ours should raise no suspicion at all.
MOST = 1.0


def queue_every_mail(locale: str) -> list[str]:
    """Queue each template's mail for one request: the link, both decisions, the removal."""
    list_networks("203.0.113.7")
    delist_request = submit("203.0.113.7", locale=locale).delist_request
    delist_request.removal_effective_at = T0 + timedelta(hours=1)
    notices.mail_decision(delist_request, True, "The open relay was closed.", T0)
    notices.mail_decision(delist_request, False, "Spam traps still see mail from it.", T0)
    notices.mail_removed(delist_request, T0)
    db.session.commit()
    return ["confirmation", "decision (approved)", "decision (denied)", "removed"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("locale", ["en", "ja"])
def test_every_mail_scores_under_1_with_spamassassin(app, smtp_sink, locale):
    require("spamassassin")
    with app.app_context():
        kinds = queue_every_mail(locale)
    assert run_worker(app).delivery.sent == len(kinds)
    scores = {kind: spamassassin_score(raw) for kind, raw in zip(kinds, smtp_sink.raw, strict=True)}
    too_high = {kind: found for kind, found in scores.items() if found[0] >= MOST}
    assert not too_high, f"SpamAssassin scores ({locale}): {too_high}"
