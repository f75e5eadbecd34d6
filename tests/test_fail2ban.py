"""A real automation client, end to end: Postfix logs mail offered to a spam trap,
fail2ban reads that log with our filter and reports the sender through the write API with
our action (curl), and Postfix, asking our policy server, then refuses the sender."""

import ipaddress
import time
from pathlib import Path

from app import create_app
from app.accounts import api_keys
from app.core.actor import Actor
from app.core.clock import utcnow
from app.extensions import db
from app.listing import allowlist, blocklist, hits
from app.listing.addresses import parse_network
from tests.helpers import BASE_CONFIG, free_port, running_policy_server
from tests.helpers_browser import running_portal
from tests.helpers_mta import Fail2ban, Postfix, swaks

CONTRIB = Path(__file__).resolve().parent.parent / "contrib" / "fail2ban"
TRAP_REJECTION = (
    "smtpd_recipient_restrictions = "
    "check_recipient_access inline:{ { trap@example.test = REJECT spam trap } }"
)
SENDER = "127.0.0.7"
OWN_SERVER = "127.0.0.9"  # allowlisted: the portal refuses fail2ban's report


def listed(app, address: str):
    with app.app_context():
        listing = blocklist.find_listing(ipaddress.ip_address(address), utcnow())
        if listing is None:
            return None
        return listing, [(item.kind, item.source, item.text) for item in hits.timeline(listing)]


def test_fail2ban_lists_a_trap_sender_and_postfix_then_refuses_it(database_url):
    app = create_app({**BASE_CONFIG, "DATABASE_URL": database_url, "POLICY_REFRESH_SECONDS": 1})
    with app.app_context():
        _, key = api_keys.create("fail2ban", ["listings:write"], actor=Actor("t"), now=utcnow())
        allowlist.add(parse_network(OWN_SERVER), "Our relay", actor=Actor("t"), now=utcnow())
        db.session.commit()
    with (
        running_portal(database_url, free_port()) as portal_url,
        running_policy_server(app) as policy,
    ):
        mta = Postfix(free_port(), policy.port, TRAP_REJECTION)
        mta.start()
        maillog = mta.root / "maillog"
        maillog.touch()
        watcher = Fail2ban(
            CONTRIB, logpath=maillog, portal_url=portal_url, key=key, traps=r"trap@example\.test"
        )
        try:
            watcher.start()
            assert "250 2.1.5 Ok" in swaks(mta.smtp_port, SENDER)  # not listed yet
            trapped = swaks(mta.smtp_port, SENDER, to="trap@example.test")
            assert "554 5.7.1 <trap@example.test>: Recipient address rejected: spam trap" in (
                trapped
            ), trapped

            deadline = time.monotonic() + 30
            while (found := listed(app, SENDER)) is None:
                assert time.monotonic() < deadline, f"not listed; fail2ban:\n{watcher.log()}"
                time.sleep(0.3)
            listing, evidence = found
            assert listing.reason == "Mail sent to a spam-trap address"
            assert listing.expires_at is not None  # the portal's default lifetime
            [(kind, source, text)] = evidence
            assert (kind, source) == ("trap", "fail2ban")
            assert f"RCPT from unknown[{SENDER}]" in text and "to=<trap@example.test>" in text
            assert text in mta.log()  # the log line itself, as Postfix wrote it

            policy.refresh_once()
            refused = swaks(mta.smtp_port, SENDER)
            assert f"550 5.7.606 <unknown[{SENDER}]>: Client host rejected" in refused, refused
            assert "250 2.1.5 Ok" in swaks(mta.smtp_port, "127.0.0.8")

            # A report the portal refuses stays unlisted, and fail2ban's log says why.
            swaks(mta.smtp_port, OWN_SERVER, to="trap@example.test")
            while "overlaps the allowlist" not in watcher.log():
                assert time.monotonic() < deadline + 30, f"no refusal:\n{watcher.log()}"
                time.sleep(0.3)
            assert listed(app, OWN_SERVER) is None
            assert key not in watcher.log()
        finally:
            watcher.stop()
            mta.stop()
    with app.app_context():
        db.engine.dispose()
