"""Label printers per site or bench, and the print queue (jobs and the labels of each job)

Revision ID: 3c1a9e7d5b20
Revises: 7ae791138672
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lims.core.db

revision = "3c1a9e7d5b20"
down_revision = "7ae791138672"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "printer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("bench", sa.String(length=80), nullable=True),
        sa.Column("connection", sa.String(length=8), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("queue", sa.String(length=127), nullable=True),
        sa.Column("stock", sa.String(length=40), nullable=False),
        sa.Column("dpi", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", lims.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("connection IN ('tcp', 'cups')", name=op.f("ck_printer_connection")),
        sa.CheckConstraint("language IN ('zpl', 'pdf')", name=op.f("ck_printer_language")),
        sa.CheckConstraint("connection = 'cups' OR language = 'zpl'", name=op.f("ck_printer_pdf_through_cups")),
        sa.CheckConstraint("connection != 'tcp' OR host IS NOT NULL", name=op.f("ck_printer_tcp_has_host")),
        sa.CheckConstraint("connection != 'cups' OR queue IS NOT NULL", name=op.f("ck_printer_cups_has_queue")),
        sa.CheckConstraint("port IS NULL OR (port >= 1 AND port <= 65535)", name=op.f("ck_printer_port")),
        sa.CheckConstraint("dpi IN (203, 300, 600)", name=op.f("ck_printer_dpi")),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_printer_site_id_site")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_printer")),
        sa.UniqueConstraint("site_id", "name", name=op.f("uq_printer_site_id_name")),
    )
    op.create_index(op.f("ix_printer_site_id"), "printer", ["site_id"], unique=False)
    op.create_table(
        "print_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("printer_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("label_count", sa.Integer(), nullable=False),
        sa.Column("start_position", sa.Integer(), nullable=False),
        sa.Column("reprint_reason", sa.Text(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", lims.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", lims.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("layout", sa.String(length=80), nullable=True),
        sa.Column("content_sha256", sa.String(length=64), nullable=True),
        sa.Column("external_id", sa.String(length=80), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('queued', 'sending', 'sent', 'failed')", name=op.f("ck_print_job_status")),
        sa.CheckConstraint("subject IN ('samples', 'storage')", name=op.f("ck_print_job_subject")),
        sa.CheckConstraint("label_count >= 1", name=op.f("ck_print_job_label_count")),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_print_job_attempts")),
        sa.CheckConstraint("start_position >= 1", name=op.f("ck_print_job_start_position")),
        sa.ForeignKeyConstraint(["created_by_id"], ["user.id"], name=op.f("fk_print_job_created_by_id_user")),
        sa.ForeignKeyConstraint(["printer_id"], ["printer.id"], name=op.f("fk_print_job_printer_id_printer")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_print_job")),
    )
    op.create_index(op.f("ix_print_job_printer_id"), "print_job", ["printer_id"], unique=False)
    op.create_index("ix_print_job_status", "print_job", ["status"], unique=False)
    op.create_table(
        "print_job_item",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("(sample_id IS NULL) != (unit_id IS NULL)", name=op.f("ck_print_job_item_one_subject")),
        sa.ForeignKeyConstraint(["job_id"], ["print_job.id"], name=op.f("fk_print_job_item_job_id_print_job"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["sample_id"], ["sample.id"], name=op.f("fk_print_job_item_sample_id_sample")),
        sa.ForeignKeyConstraint(["unit_id"], ["storage_unit.id"], name=op.f("fk_print_job_item_unit_id_storage_unit")),
        sa.PrimaryKeyConstraint("job_id", "position", name=op.f("pk_print_job_item")),
    )
    op.create_index(op.f("ix_print_job_item_sample_id"), "print_job_item", ["sample_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_print_job_item_sample_id"), table_name="print_job_item")
    op.drop_table("print_job_item")
    op.drop_index("ix_print_job_status", table_name="print_job")
    op.drop_index(op.f("ix_print_job_printer_id"), table_name="print_job")
    op.drop_table("print_job")
    op.drop_index(op.f("ix_printer_site_id"), table_name="printer")
    op.drop_table("printer")
