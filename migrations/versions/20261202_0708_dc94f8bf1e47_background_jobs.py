"""Background jobs (the queue carries ids; the job rows are the truth) and signature runs' jobs

Revision ID: dc94f8bf1e47
Revises: 5a7e1d2c3b4f
Create Date: 2026-12-02 07:08:58.346824
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lims.core.db

revision = 'dc94f8bf1e47'
down_revision = '5a7e1d2c3b4f'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('lock_key', sa.String(length=120), nullable=True),
    sa.Column('progress', sa.Float(), nullable=False),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('worker', sa.String(length=120), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', lims.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', lims.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', lims.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', lims.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status != 'failed' OR error IS NOT NULL", name=op.f('ck_job_failed_has_error')),
    sa.CheckConstraint("status IN ('queued', 'running', 'cancelling', 'done', 'failed', 'cancelled')", name=op.f('ck_job_status')),
    sa.CheckConstraint('attempts >= 0 AND max_attempts >= 1', name=op.f('ck_job_attempts')),
    sa.CheckConstraint('progress >= 0 AND progress <= 1', name=op.f('ck_job_progress')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_job_created_by_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job'))
    )
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.create_index('ix_job_status', ['status'], unique=False)
        batch_op.create_index('uq_job_running_lock', ['lock_key'], unique=True, sqlite_where=sa.text("status IN ('running', 'cancelling') AND lock_key IS NOT NULL"), postgresql_where=sa.text("status IN ('running', 'cancelling') AND lock_key IS NOT NULL"))

    with op.batch_alter_table('signature_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('job_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_signature_run_job_id_job'), 'job', ['job_id'], ['id'], ondelete='SET NULL')



def downgrade() -> None:
    with op.batch_alter_table('signature_run', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_signature_run_job_id_job'), type_='foreignkey')
        batch_op.drop_column('job_id')

    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_index('uq_job_running_lock', sqlite_where=sa.text("status IN ('running', 'cancelling') AND lock_key IS NOT NULL"), postgresql_where=sa.text("status IN ('running', 'cancelling') AND lock_key IS NOT NULL"))
        batch_op.drop_index('ix_job_status')

    op.drop_table('job')
