"""Data versions: a token per kind of data (clinical, markers) that changes with every write to it

Revision ID: 5d0c2a9e71b4
Revises: 5e0b7c3a9f14
Create Date: 2026-12-02 10:45:00
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "5d0c2a9e71b4"
down_revision = "5e0b7c3a9f14"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "data_version",
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_data_version")),
    )
    # Rows from the start, so concurrent first writers update one row instead of racing to insert it.
    op.bulk_insert(table, [{"name": n, "version": uuid.uuid4().hex} for n in ("clinical", "markers")])


def downgrade() -> None:
    op.drop_table("data_version")
