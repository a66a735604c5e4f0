"""Storage capacity, label schemes and version counters; shipments; append-only custody events

Revision ID: be5652288b38
Revises: d741dda87886
Create Date: 2026-11-24 14:20:53.746710
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lims.core.db


revision = 'be5652288b38'
down_revision = 'd741dda87886'
branch_labels = None
depends_on = None


# Custody events are append-only: the database itself refuses UPDATE and DELETE (and TRUNCATE on
# PostgreSQL), so a bug or a careless SQL session cannot rewrite history. Someone with DDL rights
# can still drop the triggers; the hash chain (``lims audit verify``) is what catches that.
SQLITE_GUARD = [
    "CREATE TRIGGER custody_event_no_update BEFORE UPDATE ON custody_event "
    "BEGIN SELECT RAISE(ABORT, 'custody events are append-only: UPDATE refused'); END",
    "CREATE TRIGGER custody_event_no_delete BEFORE DELETE ON custody_event "
    "BEGIN SELECT RAISE(ABORT, 'custody events are append-only: DELETE refused'); END",
]
POSTGRES_GUARD = [
    "CREATE FUNCTION custody_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'custody events are append-only: % refused', TG_OP "
    "USING ERRCODE = 'insufficient_privilege'; END $$",
    "CREATE TRIGGER custody_event_no_change BEFORE UPDATE OR DELETE ON custody_event "
    "FOR EACH ROW EXECUTE FUNCTION custody_event_append_only()",
    "CREATE TRIGGER custody_event_no_truncate BEFORE TRUNCATE ON custody_event "
    "FOR EACH STATEMENT EXECUTE FUNCTION custody_event_append_only()",
]


def _guard_custody_events() -> None:
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_GUARD if dialect == "sqlite" else POSTGRES_GUARD if dialect == "postgresql" else []:
        op.execute(statement)


def _unguard_custody_events() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS custody_event_no_update")
        op.execute("DROP TRIGGER IF EXISTS custody_event_no_delete")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS custody_event_no_truncate ON custody_event")
        op.execute("DROP TRIGGER IF EXISTS custody_event_no_change ON custody_event")
        op.execute("DROP FUNCTION IF EXISTS custody_event_append_only()")


def upgrade() -> None:
    op.create_table('shipment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('origin', sa.String(length=80), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('from_site_id', sa.Integer(), nullable=False),
    sa.Column('to_site_id', sa.Integer(), nullable=True),
    sa.Column('destination', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('conditions', sa.String(length=20), nullable=False),
    sa.Column('courier', sa.String(length=100), nullable=True),
    sa.Column('tracking_number', sa.String(length=100), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', lims.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('released_at', lims.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('released_by_id', sa.Integer(), nullable=True),
    sa.Column('received_at', lims.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('received_by_id', sa.Integer(), nullable=True),
    sa.Column('arrival_temp_c', sa.Float(), nullable=True),
    sa.Column('manifest_sha256', sa.String(length=64), nullable=True),
    sa.Column('unexpected', sa.JSON(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("conditions IN ('dry_ice', 'ln2_dry_shipper', 'ambient', 'cold_pack')", name=op.f('ck_shipment_conditions')),
    sa.CheckConstraint("status != 'received' OR received_at IS NOT NULL", name=op.f('ck_shipment_received_has_time')),
    sa.CheckConstraint("status = 'draft' OR released_at IS NOT NULL", name=op.f('ck_shipment_released_has_time')),
    sa.CheckConstraint("status IN ('draft', 'released', 'received')", name=op.f('ck_shipment_status')),
    sa.CheckConstraint('to_site_id IS NOT NULL OR destination IS NOT NULL', name=op.f('ck_shipment_has_destination')),
    sa.CheckConstraint('to_site_id IS NULL OR to_site_id != from_site_id', name=op.f('ck_shipment_not_to_itself')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_shipment_created_by_id_user')),
    sa.ForeignKeyConstraint(['from_site_id'], ['site.id'], name=op.f('fk_shipment_from_site_id_site')),
    sa.ForeignKeyConstraint(['received_by_id'], ['user.id'], name=op.f('fk_shipment_received_by_id_user')),
    sa.ForeignKeyConstraint(['released_by_id'], ['user.id'], name=op.f('fk_shipment_released_by_id_user')),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_shipment_study_id_study')),
    sa.ForeignKeyConstraint(['to_site_id'], ['site.id'], name=op.f('fk_shipment_to_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipment')),
    sa.UniqueConstraint('code', 'origin', name=op.f('uq_shipment_code_origin'))
    )

    with op.batch_alter_table('shipment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shipment_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_shipment_study_id'), ['study_id'], unique=False)

    op.create_table('shipment_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shipment_id', sa.Integer(), nullable=False),
    sa.Column('accession', sa.String(length=20), nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=True),
    sa.Column('participant_code', sa.String(length=20), nullable=False),
    sa.Column('sample_type_code', sa.String(length=40), nullable=False),
    sa.Column('quantity', sa.Float(), nullable=True),
    sa.Column('unit', sa.String(length=10), nullable=False),
    sa.Column('from_location', sa.Text(), nullable=True),
    sa.Column('box_barcode', sa.String(length=40), nullable=True),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('damage', sa.Text(), nullable=True),
    sa.CheckConstraint("state IN ('packed', 'received', 'damaged', 'missing')", name=op.f('ck_shipment_item_state')),
    sa.ForeignKeyConstraint(['sample_id'], ['sample.id'], name=op.f('fk_shipment_item_sample_id_sample')),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipment.id'], name=op.f('fk_shipment_item_shipment_id_shipment'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipment_item')),
    sa.UniqueConstraint('shipment_id', 'accession', name=op.f('uq_shipment_item_shipment_id_accession'))
    )

    with op.batch_alter_table('shipment_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shipment_item_sample_id'), ['sample_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_shipment_item_shipment_id'), ['shipment_id'], unique=False)

    with op.batch_alter_table('placement', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))

    with op.batch_alter_table('storage_unit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('capacity', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('label_scheme', sa.String(length=4), server_default='A1', nullable=False))
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))

    _guard_custody_events()


def downgrade() -> None:
    _unguard_custody_events()

    with op.batch_alter_table('storage_unit', schema=None) as batch_op:
        batch_op.drop_column('version')
        batch_op.drop_column('label_scheme')
        batch_op.drop_column('capacity')

    with op.batch_alter_table('placement', schema=None) as batch_op:
        batch_op.drop_column('version')

    with op.batch_alter_table('shipment_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shipment_item_shipment_id'))
        batch_op.drop_index(batch_op.f('ix_shipment_item_sample_id'))

    op.drop_table('shipment_item')

    with op.batch_alter_table('shipment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shipment_study_id'))
        batch_op.drop_index(batch_op.f('ix_shipment_status'))

    op.drop_table('shipment')
