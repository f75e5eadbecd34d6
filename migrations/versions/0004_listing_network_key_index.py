"""index listings by network key, removed rows included (operator search)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 14:00:00
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("listing", schema=None) as batch_op:
        batch_op.create_index(
            "ix_listing_network_key", ["version", "prefix_len", "net_start"], unique=False
        )


def downgrade():
    with op.batch_alter_table("listing", schema=None) as batch_op:
        batch_op.drop_index("ix_listing_network_key")
