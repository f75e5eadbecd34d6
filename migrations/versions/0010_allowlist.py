"""the allowlist: networks no path may list

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 01:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "allowlist_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("network", sa.String(length=49), nullable=False),
        sa.Column("version", sa.SmallInteger(), nullable=False),
        sa.Column("prefix_len", sa.SmallInteger(), nullable=False),
        sa.Column("net_start", sa.LargeBinary(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.String(length=254), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allowlist_entry")),
        sa.UniqueConstraint(
            "version", "prefix_len", "net_start", name=op.f("uq_allowlist_entry_version")
        ),
    )


def downgrade():
    op.drop_table("allowlist_entry")
