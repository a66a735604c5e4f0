"""Analysis runs: saved association screens with parameters, input hash, version and result.

Revision ID: a532c672f804
Revises: a7364ffeb77f
Create Date: 2026-11-24 14:22:43.096954
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lims.core.db


revision = 'a532c672f804'
down_revision = 'a7364ffeb77f'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('analysis_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=True),
    sa.Column('by_username', sa.String(length=80), nullable=False),
    sa.Column('at', lims.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('dataset_sha256', sa.String(length=64), nullable=False),
    sa.Column('dataset_rows', sa.Integer(), nullable=False),
    sa.Column('n_markers', sa.Integer(), nullable=False),
    sa.Column('software_version', sa.String(length=40), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.CheckConstraint('length(dataset_sha256) = 64', name=op.f('ck_analysis_run_sha256')),
    sa.CheckConstraint('n_markers >= 0', name=op.f('ck_analysis_run_n_markers')),
    sa.ForeignKeyConstraint(['by_id'], ['user.id'], name=op.f('fk_analysis_run_by_id_user')),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_analysis_run_study_id_study')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_analysis_run'))
    )
    with op.batch_alter_table('analysis_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_analysis_run_study_id'), ['study_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('analysis_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_analysis_run_study_id'))

    op.drop_table('analysis_run')
