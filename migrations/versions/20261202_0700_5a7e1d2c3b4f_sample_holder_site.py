"""Which site holds each sample now (sample.site_id) and which sites held it (sample_site)

The access rules let a site see the samples it holds or held and act on those it holds now. Existing
samples are held where they are stored, else where their last custody event with a site happened, else at
their participant's site; every one of those sites is recorded as having held them.

Revision ID: 5a7e1d2c3b4f
Revises: 18ae30369a7f
Create Date: 2026-12-02 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lims.core.db

revision = "5a7e1d2c3b4f"
down_revision = "18ae30369a7f"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sample_site",
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("since", lims.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["sample_id"], ["sample.id"], name=op.f("fk_sample_site_sample_id_sample"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_sample_site_site_id_site")),
        sa.PrimaryKeyConstraint("sample_id", "site_id", name=op.f("pk_sample_site")),
    )
    op.create_index(op.f("ix_sample_site_site_id"), "sample_site", ["site_id"], unique=False)
    with op.batch_alter_table("sample") as batch:
        batch.add_column(sa.Column("site_id", sa.Integer(), nullable=True))
    op.execute("UPDATE sample SET site_id = (SELECT p.site_id FROM participant p WHERE p.id = sample.participant_id)")
    op.execute("""
        UPDATE sample SET site_id = (
            SELECT s.id FROM custody_event e JOIN site s ON s.code = e.site_code
             WHERE e.sample_id = sample.id ORDER BY e.seq DESC LIMIT 1)
         WHERE EXISTS (SELECT 1 FROM custody_event e JOIN site s ON s.code = e.site_code
                        WHERE e.sample_id = sample.id)""")
    op.execute("""
        UPDATE sample SET site_id = (
            SELECT u.site_id FROM placement pl JOIN storage_unit u ON u.id = pl.unit_id WHERE pl.sample_id = sample.id)
         WHERE EXISTS (SELECT 1 FROM placement pl WHERE pl.sample_id = sample.id)""")
    op.execute("""
        INSERT INTO sample_site (sample_id, site_id, since)
        SELECT h.sample_id, h.site_id, MIN(h.since) FROM (
            SELECT sa.id AS sample_id, sa.site_id AS site_id, sa.created_at AS since FROM sample sa
            UNION ALL
            SELECT sa.id, p.site_id, sa.created_at FROM sample sa JOIN participant p ON p.id = sa.participant_id
            UNION ALL
            SELECT e.sample_id, s.id, e.at FROM custody_event e JOIN site s ON s.code = e.site_code
        ) h GROUP BY h.sample_id, h.site_id""")
    with op.batch_alter_table("sample") as batch:
        batch.alter_column("site_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(op.f("fk_sample_site_id_site"), "site", ["site_id"], ["id"])
        batch.create_index(op.f("ix_sample_site_id"), ["site_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sample") as batch:
        batch.drop_index(op.f("ix_sample_site_id"))
        batch.drop_constraint(op.f("fk_sample_site_id_site"), type_="foreignkey")
        batch.drop_column("site_id")
    op.drop_index(op.f("ix_sample_site_site_id"), table_name="sample_site")
    op.drop_table("sample_site")
