"""count mail per mailbox: case folded, +tag dropped

The per-recipient limits compared addresses as typed, so `Bomb@`, `bOmb@` and
`bomb+1@example.com` each got their own daily allowance. The new column holds
the mailbox every limit counts (app.mail.mailbox); existing rows are filled in
batches, and the index the limits use moves to it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 22:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BATCH = 5000


def _mailbox(address: str) -> str:
    # The rule as it was written on this date (a migration keeps its meaning).
    local, at, domain = address.strip().rpartition("@")
    if not at:
        return address.strip().casefold()
    return f"{local.split('+', 1)[0]}@{domain}".casefold()


def upgrade():
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recipient_mailbox", sa.String(length=254), nullable=True))
    outbox = sa.table(
        "outbox_message",
        sa.column("id", sa.Integer),
        sa.column("recipient", sa.String),
        sa.column("recipient_mailbox", sa.String),
    )
    connection = op.get_bind()
    last = 0
    while True:
        rows = connection.execute(
            sa.select(outbox.c.id, outbox.c.recipient)
            .where(outbox.c.id > last)
            .order_by(outbox.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        connection.execute(
            outbox.update()
            .where(outbox.c.id == sa.bindparam("row_id"))
            .values(recipient_mailbox=sa.bindparam("mailbox")),
            [{"row_id": row.id, "mailbox": _mailbox(row.recipient)} for row in rows],
        )
        last = rows[-1].id
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.alter_column("recipient_mailbox", nullable=False)
        batch_op.drop_index("ix_outbox_message_recipient_created")
        batch_op.create_index(
            "ix_outbox_message_mailbox_created", ["recipient_mailbox", "created_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_message_mailbox_created")
        batch_op.create_index(
            "ix_outbox_message_recipient_created", ["recipient", "created_at"], unique=False
        )
        batch_op.drop_column("recipient_mailbox")
