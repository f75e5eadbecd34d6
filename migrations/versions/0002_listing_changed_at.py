"""listing.changed_at, for incremental copies of the list

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 13:20:00

Existing rows get the time of their last known change: removed_at when
removed, else listed_at.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("listing", schema=None) as batch_op:
        batch_op.add_column(sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE listing SET changed_at = COALESCE(removed_at, listed_at)")
    with op.batch_alter_table("listing", schema=None) as batch_op:
        batch_op.alter_column("changed_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.create_index("ix_listing_changed_at", ["changed_at"], unique=False)


def downgrade():
    with op.batch_alter_table("listing", schema=None) as batch_op:
        batch_op.drop_index("ix_listing_changed_at")
        batch_op.drop_column("changed_at")
