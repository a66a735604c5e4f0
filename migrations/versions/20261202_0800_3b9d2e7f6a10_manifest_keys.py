"""Partner installations' manifest keys (manifest_key), the key an imported shipment was signed with, and
each packed item's parent sample

Manifests are signed with each installation's Ed25519 key; a receiving installation trusts only the public
keys an admin registered here (revoked keys are kept, with when and by whom, so old imports stay explained).
An item's parent travels in the manifest so the receiver links an item to a local sample only when they agree;
items packed before this revision get their sample's parent.

Revision ID: 3b9d2e7f6a10
Revises: dc94f8bf1e47
Create Date: 2026-12-02 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lims.core.db

revision = "3b9d2e7f6a10"
down_revision = "dc94f8bf1e47"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "manifest_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("installation", sa.String(length=80), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("registered_at", lims.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("registered_by_id", sa.Integer(), nullable=True),
        sa.Column("revoked_at", lims.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("revoked_at IS NULL OR revoked_at >= registered_at",
                           name=op.f("ck_manifest_key_revoked_after_registered")),
        sa.ForeignKeyConstraint(["registered_by_id"], ["user.id"], name=op.f("fk_manifest_key_registered_by_id_user")),
        sa.ForeignKeyConstraint(["revoked_by_id"], ["user.id"], name=op.f("fk_manifest_key_revoked_by_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_manifest_key")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_manifest_key_fingerprint")),
    )
    with op.batch_alter_table("shipment") as batch:
        batch.add_column(sa.Column("manifest_key_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_shipment_manifest_key_id_manifest_key"), "manifest_key",
                                 ["manifest_key_id"], ["id"])
    with op.batch_alter_table("shipment_item") as batch:
        batch.add_column(sa.Column("parent_accession", sa.String(length=20), nullable=True))
    op.execute("""
        UPDATE shipment_item SET parent_accession = (
            SELECT p.accession FROM sample s JOIN sample p ON p.id = s.parent_id WHERE s.id = shipment_item.sample_id)
         WHERE sample_id IS NOT NULL""")


def downgrade() -> None:
    with op.batch_alter_table("shipment_item") as batch:
        batch.drop_column("parent_accession")
    with op.batch_alter_table("shipment") as batch:
        batch.drop_constraint(op.f("fk_shipment_manifest_key_id_manifest_key"), type_="foreignkey")
        batch.drop_column("manifest_key_id")
    op.drop_table("manifest_key")
