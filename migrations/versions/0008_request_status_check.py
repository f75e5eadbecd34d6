"""the database refuses a delist request status the code does not know

The statuses are `app.models.RequestStatus`; they are written out here because a
migration must keep meaning what it meant when it was written. A row with another
status (there should be none) stops the upgrade with the database's own error.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 21:00:00
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

STATUSES = ("pending", "needs_review", "scheduled", "done", "expired", "denied", "cancelled")


def upgrade():
    listed = ", ".join(f"'{status}'" for status in STATUSES)
    with op.batch_alter_table("delist_request", schema=None) as batch_op:
        batch_op.create_check_constraint(op.f("ck_delist_request_status"), f"status IN ({listed})")


def downgrade():
    with op.batch_alter_table("delist_request", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_delist_request_status"), type_="check")
