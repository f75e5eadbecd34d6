"""enforcement points: each policy server's and export's heartbeat

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 01:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

KINDS = ("policy", "rbldnsd", "postfix-cidr")


def upgrade():
    listed = ", ".join(f"'{kind}'" for kind in KINDS)
    op.create_table(
        "enforcement_point",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("up_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refresh_seconds", sa.Integer(), nullable=True),
        sa.Column("listings", sa.Integer(), nullable=False),
        sa.CheckConstraint(f"kind IN ({listed})", name=op.f("ck_enforcement_point_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enforcement_point")),
        sa.UniqueConstraint("name", name=op.f("uq_enforcement_point_name")),
    )


def downgrade():
    op.drop_table("enforcement_point")
