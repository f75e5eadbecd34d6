"""abuse reports from the public, for the operators' queue

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 11:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "abuse_report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reporter_email", sa.String(length=254), nullable=False),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("addresses", sa.String(length=2000), nullable=False),
        sa.Column("locale", sa.String(length=10), nullable=False),
        sa.Column("client_address", sa.String(length=45), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=254), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_abuse_report")),
    )
    with op.batch_alter_table("abuse_report", schema=None) as batch_op:
        batch_op.create_index("ix_abuse_report_status", ["status", "id"], unique=False)


def downgrade():
    with op.batch_alter_table("abuse_report", schema=None) as batch_op:
        batch_op.drop_index("ix_abuse_report_status")
    op.drop_table("abuse_report")
