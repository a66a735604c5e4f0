"""audit trail, API tokens, electronic signatures

Revision ID: c0ffee000001
Revises: 3d5b4807594e
Create Date: 2026-11-24 14:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lims.core.db

revision = 'c0ffee000001'
down_revision = '3d5b4807594e'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', lims.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=80), nullable=True),
    sa.Column('remote_addr', sa.String(length=64), nullable=True),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('object_type', sa.String(length=60), nullable=True),
    sa.Column('object_id', sa.String(length=60), nullable=True),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_audit_event_user_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_event'))
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index('ix_audit_event_at', ['at'], unique=False)
        batch_op.create_index('ix_audit_event_object', ['object_type', 'object_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_event_action'), ['action'], unique=False)

    op.create_table('api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('prefix', sa.String(length=12), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', lims.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', lims.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', lims.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', lims.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_api_token_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_token_token_hash'))
    )
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_token_user_id'), ['user_id'], unique=False)

    op.create_table('signature',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('signer_name', sa.String(length=200), nullable=False),
    sa.Column('signed_at', lims.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('meaning', sa.String(length=20), nullable=False),
    sa.Column('record_type', sa.String(length=60), nullable=False),
    sa.Column('record_id', sa.String(length=60), nullable=False),
    sa.Column('record_hash', sa.String(length=64), nullable=False),
    sa.Column('statement', sa.String(length=500), nullable=False),
    sa.CheckConstraint("meaning IN ('approved', 'reviewed', 'performed')", name=op.f('ck_signature_meaning')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_signature_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signature'))
    )
    with op.batch_alter_table('signature', schema=None) as batch_op:
        batch_op.create_index('ix_signature_record', ['record_type', 'record_id'], unique=False)


def downgrade() -> None:
    op.drop_table('signature')
    op.drop_table('api_token')
    op.drop_table('audit_event')
