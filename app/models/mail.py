"""Outgoing mail, kept until delivered and then as history."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import Model
from app.models.request import DelistRequest
from app.models.types import UTCDateTime


class OutboxMessage(Model):
    """An email waiting for, or done with, delivery by the worker."""

    __tablename__ = "outbox_message"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(40))
    request_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("delist_request.id"))
    recipient: so.Mapped[str] = so.mapped_column(sa.String(254))
    # The recipient as one mailbox (app.mail.mailbox): what the per-recipient limits count.
    recipient_mailbox: so.Mapped[str] = so.mapped_column(sa.String(254))
    subject: so.Mapped[str] = so.mapped_column(sa.String(255))
    body_text: so.Mapped[str] = so.mapped_column(sa.Text)
    body_html: so.Mapped[str] = so.mapped_column(sa.Text)
    message_id: so.Mapped[str] = so.mapped_column(sa.String(255), unique=True)
    # A secret the bodies carry (the confirmation link); blanked once delivered.
    secret: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    status: so.Mapped[str] = so.mapped_column(sa.String(20), default="queued")
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    # When the next attempt is due (a claim's lease, while sending); once the message is
    # sent or has failed for good, when that happened.
    next_attempt_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    last_error: so.Mapped[str | None] = so.mapped_column(sa.Text)
    # The mail server's last reply about it ("250 2.0.0 Ok: queued as 4F2A", "550 5.1.1 ..."),
    # shown to its recipient on the status page; None when none came (never tried, unreachable).
    smtp_reply: so.Mapped[str | None] = so.mapped_column(sa.String(500))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    sent_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)

    delist_request: so.Mapped[DelistRequest | None] = so.relationship()

    __table_args__ = (
        sa.Index("ix_outbox_message_due", "status", "next_attempt_at"),
        sa.Index("ix_outbox_message_mailbox_created", "recipient_mailbox", "created_at"),
        sa.Index("ix_outbox_message_request", "request_id"),
    )

    @property
    def may_be_resent(self) -> bool:
        """A failed message may be tried again; a delivered one copied, unless it held a link."""
        return self.status == "failed" or (self.status == "sent" and self.kind != "confirmation")
