"""Clinical import runs may have no user: the scheduled REDCap sync imports on nobody's behalf (by = NULL)

Revision ID: b7d3e5f19a2c
Revises: 5d0c2a9e71b4
Create Date: 2026-12-02 11:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "b7d3e5f19a2c"
down_revision = "5d0c2a9e71b4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clinical_import_run") as batch:
        batch.alter_column("by_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM clinical_change WHERE import_run_id IN "
               "(SELECT id FROM clinical_import_run WHERE by_id IS NULL)")
    op.execute("DELETE FROM clinical_import_run WHERE by_id IS NULL")
    with op.batch_alter_table("clinical_import_run") as batch:
        batch.alter_column("by_id", existing_type=sa.Integer(), nullable=False)
