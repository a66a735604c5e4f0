"""Clinical data locks per participant

Revision ID: 18ae30369a7f
Revises: 25d219b65d90
Create Date: 2026-11-24 15:06:22.928439
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lims.core.db


revision = '18ae30369a7f'
down_revision = '25d219b65d90'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('clinical_lock',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('locked_at', lims.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['by_id'], ['user.id'], name=op.f('fk_clinical_lock_by_id_user')),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_clinical_lock_participant_id_participant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinical_lock')),
    sa.UniqueConstraint('participant_id', name=op.f('uq_clinical_lock_participant_id'))
    )


def downgrade() -> None:
    op.drop_table('clinical_lock')
