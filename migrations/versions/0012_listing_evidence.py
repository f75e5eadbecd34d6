"""evidence and hits: how often abuse was seen behind a listing, and the latest sightings

Existing listings count one hit; their first and last sightings are unknown (the
listing time stands in for them).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 02:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    # Added in place (no table rebuild on SQLite), so the listing count's triggers stay.
    op.add_column(
        "listing", sa.Column("hit_count", sa.Integer(), server_default="1", nullable=False)
    )
    op.add_column("listing", sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("listing", sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "listing_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["listing_id"], ["listing.id"], name=op.f("fk_listing_evidence_listing_id_listing")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listing_evidence")),
    )
    op.create_index(
        op.f("ix_listing_evidence_listing_id"), "listing_evidence", ["listing_id"], unique=False
    )


def downgrade():
    op.drop_index(op.f("ix_listing_evidence_listing_id"), table_name="listing_evidence")
    op.drop_table("listing_evidence")
    op.drop_column("listing", "last_seen_at")
    op.drop_column("listing", "first_seen_at")
    op.drop_column("listing", "hit_count")
