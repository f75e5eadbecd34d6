"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 12:52:53.115687

Listings (addresses and CIDR ranges as fixed-width keys), delist requests,
the mail outbox and the audit trail. listing.removal_request_id and
delist_request.listing_id refer to each other, so the first of the two
foreign keys is added once both tables exist.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('listing',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('network', sa.String(length=49), nullable=False),
    sa.Column('version', sa.SmallInteger(), nullable=False),
    sa.Column('prefix_len', sa.SmallInteger(), nullable=False),
    sa.Column('net_start', sa.LargeBinary(length=16), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('listed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('listed_by', sa.String(length=254), nullable=False),
    sa.Column('removal_effective_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('removal_request_id', sa.Integer(), nullable=True),
    sa.Column('removal_scheduled_by', sa.String(length=254), nullable=True),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('removed_by', sa.String(length=254), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_listing'))
    )
    with op.batch_alter_table('listing', schema=None) as batch_op:
        batch_op.create_index('ix_listing_due_removal', ['removal_effective_at'], unique=False)
        batch_op.create_index('uq_listing_active_network', ['version', 'prefix_len', 'net_start'], unique=True, sqlite_where=sa.text('removed_at IS NULL'), postgresql_where=sa.text('removed_at IS NULL'))

    op.create_table('listing_prefix',
    sa.Column('version', sa.SmallInteger(), nullable=False),
    sa.Column('prefix_len', sa.SmallInteger(), nullable=False),
    sa.PrimaryKeyConstraint('version', 'prefix_len', name=op.f('pk_listing_prefix'))
    )
    op.create_table('delist_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('ip', sa.String(length=39), nullable=False),
    sa.Column('listing_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('locale', sa.String(length=10), nullable=False),
    sa.Column('client_address', sa.String(length=45), nullable=True),
    sa.Column('nonce_hash', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('removal_effective_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['listing_id'], ['listing.id'], name=op.f('fk_delist_request_listing_id_listing')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delist_request')),
    sa.UniqueConstraint('public_id', name=op.f('uq_delist_request_public_id'))
    )
    with op.batch_alter_table('delist_request', schema=None) as batch_op:
        batch_op.create_index('ix_delist_request_status_expires', ['status', 'expires_at'], unique=False)
        batch_op.create_index('uq_delist_request_open_ip', ['ip'], unique=True, sqlite_where=sa.text("status IN ('pending', 'needs_review', 'scheduled')"), postgresql_where=sa.text("status IN ('pending', 'needs_review', 'scheduled')"))

    with op.batch_alter_table('listing', schema=None) as batch_op:
        batch_op.create_foreign_key(
            op.f('fk_listing_removal_request_id_delist_request'),
            'delist_request', ['removal_request_id'], ['id'],
        )

    op.create_table('audit_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=254), nullable=False),
    sa.Column('action', sa.String(length=50), nullable=False),
    sa.Column('listing_id', sa.Integer(), nullable=True),
    sa.Column('request_id', sa.Integer(), nullable=True),
    sa.Column('client_address', sa.String(length=45), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['listing_id'], ['listing.id'], name=op.f('fk_audit_event_listing_id_listing')),
    sa.ForeignKeyConstraint(['request_id'], ['delist_request.id'], name=op.f('fk_audit_event_request_id_delist_request')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_event'))
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index('ix_audit_event_at', ['at'], unique=False)
        batch_op.create_index('ix_audit_event_listing', ['listing_id', 'at'], unique=False)
        batch_op.create_index('ix_audit_event_request', ['request_id', 'at'], unique=False)

    op.create_table('outbox_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=True),
    sa.Column('recipient', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('body_text', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('message_id', sa.String(length=255), nullable=False),
    sa.Column('secret', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['request_id'], ['delist_request.id'], name=op.f('fk_outbox_message_request_id_delist_request')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_message')),
    sa.UniqueConstraint('message_id', name=op.f('uq_outbox_message_message_id'))
    )
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_message_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_outbox_message_recipient_created', ['recipient', 'created_at'], unique=False)
        batch_op.create_index('ix_outbox_message_request', ['request_id'], unique=False)



def downgrade():
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_message_request')
        batch_op.drop_index('ix_outbox_message_recipient_created')
        batch_op.drop_index('ix_outbox_message_due')

    op.drop_table('outbox_message')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_event_request')
        batch_op.drop_index('ix_audit_event_listing')
        batch_op.drop_index('ix_audit_event_at')

    op.drop_table('audit_event')
    with op.batch_alter_table('listing', schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f('fk_listing_removal_request_id_delist_request'), type_='foreignkey'
        )

    with op.batch_alter_table('delist_request', schema=None) as batch_op:
        batch_op.drop_index('uq_delist_request_open_ip', sqlite_where=sa.text("status IN ('pending', 'needs_review', 'scheduled')"), postgresql_where=sa.text("status IN ('pending', 'needs_review', 'scheduled')"))
        batch_op.drop_index('ix_delist_request_status_expires')

    op.drop_table('delist_request')
    op.drop_table('listing_prefix')
    with op.batch_alter_table('listing', schema=None) as batch_op:
        batch_op.drop_index('uq_listing_active_network', sqlite_where=sa.text('removed_at IS NULL'), postgresql_where=sa.text('removed_at IS NULL'))
        batch_op.drop_index('ix_listing_due_removal')

    op.drop_table('listing')
