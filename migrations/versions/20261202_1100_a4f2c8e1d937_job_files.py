"""Files of jobs: those they produce (export zips, for their requester) and large uploads they import

Revision ID: a4f2c8e1d937
Revises: 3c1a9e7d5b20
Create Date: 2026-12-02 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lims.core.db

revision = "a4f2c8e1d937"
down_revision = "3c1a9e7d5b20"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=6), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("mimetype", sa.String(length=120), nullable=False),
        sa.Column("permission", sa.String(length=60), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", lims.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("size >= 0", name=op.f("ck_job_file_size")),
        sa.CheckConstraint("length(sha256) = 64", name=op.f("ck_job_file_sha256")),
        sa.CheckConstraint("purpose IN ('input', 'output')", name=op.f("ck_job_file_purpose")),
        sa.ForeignKeyConstraint(["job_id"], ["job.id"], name=op.f("fk_job_file_job_id_job"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_file")),
        sa.UniqueConstraint("job_id", "purpose", name="uq_job_file_job_id_purpose"),
    )


def downgrade() -> None:
    op.drop_table("job_file")
