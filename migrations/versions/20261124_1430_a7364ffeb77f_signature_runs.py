"""Signature runs: nested-CV model runs with spec, seeds, dataset hash, versions, result and final model.

Revision ID: a7364ffeb77f
Revises: c0ffee000001
Create Date: 2026-11-24 14:30:11.897671
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lims.core.db


revision = 'a7364ffeb77f'
down_revision = 'c0ffee000001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('signature_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=True),
    sa.Column('by_username', sa.String(length=80), nullable=False),
    sa.Column('created_at', lims.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', lims.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', lims.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('rerun_of_id', sa.Integer(), nullable=True),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('spec', sa.JSON(), nullable=True),
    sa.Column('seeds', sa.JSON(), nullable=True),
    sa.Column('dataset_sha256', sa.String(length=64), nullable=True),
    sa.Column('dataset_rows', sa.Integer(), nullable=True),
    sa.Column('versions', sa.JSON(), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('model', sa.LargeBinary(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('elapsed_seconds', sa.Float(), nullable=True),
    sa.CheckConstraint("status != 'done' OR (result IS NOT NULL AND dataset_sha256 IS NOT NULL)", name=op.f('ck_signature_run_done')),
    sa.CheckConstraint("status != 'failed' OR error IS NOT NULL", name=op.f('ck_signature_run_failed')),
    sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name=op.f('ck_signature_run_status')),
    sa.CheckConstraint('dataset_sha256 IS NULL OR length(dataset_sha256) = 64', name=op.f('ck_signature_run_sha256')),
    sa.ForeignKeyConstraint(['by_id'], ['user.id'], name=op.f('fk_signature_run_by_id_user')),
    sa.ForeignKeyConstraint(['rerun_of_id'], ['signature_run.id'], name=op.f('fk_signature_run_rerun_of_id_signature_run')),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_signature_run_study_id_study')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signature_run'))
    )
    with op.batch_alter_table('signature_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signature_run_study_id'), ['study_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('signature_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signature_run_study_id'))

    op.drop_table('signature_run')
