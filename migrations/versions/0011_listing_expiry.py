"""listings that expire: an end of their own and the lifetime they were given

Existing listings stay permanent (no expiry). A delist request gets a status for a
listing that expired on its own while the request was open.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 01:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BEFORE = ("pending", "needs_review", "scheduled", "done", "expired", "denied", "cancelled")
AFTER = (*BEFORE, "lapsed")


def _statuses(statuses):
    listed = ", ".join(f"'{status}'" for status in statuses)
    return f"status IN ({listed})"


def upgrade():
    # Added in place (no table rebuild on SQLite), so the listing count's triggers stay.
    op.add_column("listing", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("listing", sa.Column("lifetime_seconds", sa.Integer(), nullable=True))
    op.create_index("ix_listing_expires_at", "listing", ["expires_at"], unique=False)
    with op.batch_alter_table("delist_request", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_delist_request_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_delist_request_status"), _statuses(AFTER))


def downgrade():
    with op.batch_alter_table("delist_request", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_delist_request_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_delist_request_status"), _statuses(BEFORE))
    op.drop_index("ix_listing_expires_at", table_name="listing")
    op.drop_column("listing", "lifetime_seconds")
    op.drop_column("listing", "expires_at")
