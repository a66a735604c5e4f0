"""disposal requests

Revision ID: 25d219b65d90
Revises: a532c672f804
Create Date: 2026-11-24 14:48:32.770082
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lims.core.db


revision = '25d219b65d90'
down_revision = 'a532c672f804'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('disposal_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('requested_at', lims.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', lims.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.Column('signature_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status = 'pending' OR decided_at IS NOT NULL", name=op.f('ck_disposal_request_decided')),
    sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')", name=op.f('ck_disposal_request_status')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user.id'], name=op.f('fk_disposal_request_decided_by_id_user')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['user.id'], name=op.f('fk_disposal_request_requested_by_id_user')),
    sa.ForeignKeyConstraint(['sample_id'], ['sample.id'], name=op.f('fk_disposal_request_sample_id_sample')),
    sa.ForeignKeyConstraint(['signature_id'], ['signature.id'], name=op.f('fk_disposal_request_signature_id_signature')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disposal_request'))
    )
    with op.batch_alter_table('disposal_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disposal_request_sample_id'), ['sample_id'], unique=False)
        batch_op.create_index('ix_disposal_request_status', ['status'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('disposal_request', schema=None) as batch_op:
        batch_op.drop_index('ix_disposal_request_status')
        batch_op.drop_index(batch_op.f('ix_disposal_request_sample_id'))

    op.drop_table('disposal_request')

