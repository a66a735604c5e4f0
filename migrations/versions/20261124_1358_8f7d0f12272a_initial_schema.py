"""initial schema

Revision ID: 8f7d0f12272a
Revises: 
Create Date: 2026-11-24 13:58:04.273804
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lims.core.db


revision = '8f7d0f12272a'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('custody_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_custody_head_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_custody_head'))
    )
    op.create_table('site',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=10), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site')),
    sa.UniqueConstraint('code', name=op.f('uq_site_code'))
    )
    op.create_table('study',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('protocol_version', sa.String(length=40), nullable=False),
    sa.Column('protocol_sha256', sa.String(length=64), nullable=False),
    sa.Column('accession_prefix', sa.String(length=4), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_study')),
    sa.UniqueConstraint('code', name=op.f('uq_study_code'))
    )
    op.create_table('user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', lims.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', lims.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role IN ('admin', 'lab_manager', 'technician', 'data_manager', 'researcher', 'pi', 'monitor')", name=op.f('ck_user_role')),
    sa.CheckConstraint('failed_logins >= 0', name=op.f('ck_user_failed_logins')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user')),
    sa.UniqueConstraint('username', name=op.f('uq_user_username'))
    )
    op.create_table('accession_counter',
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('last_serial', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_accession_counter_study_id_study')),
    sa.PrimaryKeyConstraint('study_id', name=op.f('pk_accession_counter'))
    )
    op.create_table('container_type',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('sprec_code', sa.String(length=3), nullable=True),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_container_type_study_id_study'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_container_type')),
    sa.UniqueConstraint('study_id', 'code', name=op.f('uq_container_type_study_id_code'))
    )
    op.create_table('participant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('enrolled_on', sa.Date(), nullable=False),
    sa.Column('stratum', sa.String(length=40), nullable=True),
    sa.Column('sex', sa.String(length=1), nullable=True),
    sa.Column('age', sa.Integer(), nullable=True),
    sa.Column('ecog', sa.Integer(), nullable=True),
    sa.Column('tumour_location', sa.String(length=10), nullable=True),
    sa.Column('ct', sa.String(length=5), nullable=True),
    sa.Column('cn', sa.String(length=5), nullable=True),
    sa.Column('cm', sa.String(length=5), nullable=True),
    sa.Column('stage', sa.String(length=10), nullable=True),
    sa.Column('rt_start_on', sa.Date(), nullable=True),
    sa.Column('eot_on', sa.Date(), nullable=True),
    sa.Column('cre1_on', sa.Date(), nullable=True),
    sa.Column('randomised_on', sa.Date(), nullable=True),
    sa.Column('surgery_on', sa.Date(), nullable=True),
    sa.CheckConstraint("sex IS NULL OR sex IN ('M', 'F')", name=op.f('ck_participant_sex')),
    sa.CheckConstraint('age IS NULL OR (age >= 18 AND age <= 100)', name=op.f('ck_participant_age')),
    sa.CheckConstraint('ecog IS NULL OR (ecog >= 0 AND ecog <= 4)', name=op.f('ck_participant_ecog')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_participant_site_id_site')),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_participant_study_id_study')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_participant')),
    sa.UniqueConstraint('id', 'study_id', name=op.f('uq_participant_id_study_id')),
    sa.UniqueConstraint('study_id', 'code', name=op.f('uq_participant_study_id_code'))
    )
    op.create_table('sample_type',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('sprec_type', sa.String(length=3), nullable=True),
    sa.Column('unit', sa.String(length=12), nullable=False),
    sa.Column('retention_years', sa.Integer(), nullable=True),
    sa.CheckConstraint("kind IN ('fluid', 'solid', 'derivative')", name=op.f('ck_sample_type_kind')),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_sample_type_study_id_study'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sample_type')),
    sa.UniqueConstraint('study_id', 'code', name=op.f('uq_sample_type_study_id_code'))
    )
    op.create_table('storage_unit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('barcode', sa.String(length=40), nullable=False),
    sa.Column('set_temp_c', sa.Float(), nullable=True),
    sa.Column('rows', sa.Integer(), nullable=True),
    sa.Column('cols', sa.Integer(), nullable=True),
    sa.Column('box_type', sa.String(length=40), nullable=True),
    sa.Column('allowed_types', sa.String(length=400), nullable=True),
    sa.CheckConstraint("(kind = 'box' AND COALESCE(rows, 0) BETWEEN 1 AND 26 AND COALESCE(cols, 0) BETWEEN 1 AND 99) OR (kind != 'box' AND rows IS NULL AND cols IS NULL)", name=op.f('ck_storage_unit_grid_only_for_boxes')),
    sa.CheckConstraint("kind IN ('freezer', 'ln2_tank', 'fridge', 'cabinet', 'shelf', 'rack', 'box', 'bag', 'bin', 'block_cabinet')", name=op.f('ck_storage_unit_kind')),
    sa.CheckConstraint('parent_id IS NULL OR parent_id != id', name=op.f('ck_storage_unit_not_own_parent')),
    sa.ForeignKeyConstraint(['parent_id'], ['storage_unit.id'], name=op.f('fk_storage_unit_parent_id_storage_unit')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_storage_unit_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_storage_unit')),
    sa.UniqueConstraint('site_id', 'barcode', name=op.f('uq_storage_unit_site_id_barcode'))
    )
    with op.batch_alter_table('storage_unit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_storage_unit_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_storage_unit_site_id'), ['site_id'], unique=False)

    op.create_table('stratum',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('randomised', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_stratum_study_id_study'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stratum')),
    sa.UniqueConstraint('study_id', 'code', name=op.f('uq_stratum_study_id_code'))
    )
    op.create_table('study_site',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('enrolment_weight', sa.Double(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_study_site_site_id_site')),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_study_site_study_id_study'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_study_site')),
    sa.UniqueConstraint('study_id', 'site_id', name=op.f('uq_study_site_study_id_site_id'))
    )
    op.create_table('timepoint',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('order', sa.Integer(), nullable=False),
    sa.Column('anchor', sa.String(length=20), nullable=False),
    sa.Column('day', sa.Integer(), nullable=False),
    sa.Column('window_before', sa.Integer(), nullable=False),
    sa.Column('window_after', sa.Integer(), nullable=False),
    sa.Column('cre_number', sa.Integer(), nullable=True),
    sa.Column('strata', sa.JSON(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.CheckConstraint("anchor IN ('enrolment', 'rt_start', 'eot', 'cre1', 'randomisation', 'surgery', 'event')", name=op.f('ck_timepoint_anchor')),
    sa.CheckConstraint('window_before >= 0 AND window_after >= 0', name=op.f('ck_timepoint_window')),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_timepoint_study_id_study'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_timepoint')),
    sa.UniqueConstraint('study_id', 'code', name=op.f('uq_timepoint_study_id_code'))
    )
    op.create_table('user_site',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_user_site_site_id_site'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_user_site_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'site_id', name=op.f('pk_user_site'))
    )
    op.create_table('consent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=40), nullable=False),
    sa.Column('signed_on', sa.Date(), nullable=False),
    sa.Column('withdrawn_on', sa.Date(), nullable=True),
    sa.Column('withdrawal_reason', sa.Text(), nullable=True),
    sa.CheckConstraint('withdrawn_on IS NULL OR withdrawn_on >= signed_on', name=op.f('ck_consent_withdrawal_after_signature')),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_consent_participant_id_participant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent'))
    )
    op.create_table('kit_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('timepoint_id', sa.Integer(), nullable=False),
    sa.Column('sample_type_id', sa.Integer(), nullable=False),
    sa.Column('container_type_id', sa.Integer(), nullable=True),
    sa.Column('volume', sa.Double(), nullable=False),
    sa.Column('unit', sa.String(length=12), nullable=False),
    sa.Column('yields', sa.JSON(), nullable=False),
    sa.Column('processing', sa.Text(), nullable=False),
    sa.Column('optional', sa.Boolean(), nullable=False),
    sa.CheckConstraint('volume > 0', name=op.f('ck_kit_item_volume')),
    sa.ForeignKeyConstraint(['container_type_id'], ['container_type.id'], name=op.f('fk_kit_item_container_type_id_container_type')),
    sa.ForeignKeyConstraint(['sample_type_id'], ['sample_type.id'], name=op.f('fk_kit_item_sample_type_id_sample_type')),
    sa.ForeignKeyConstraint(['timepoint_id'], ['timepoint.id'], name=op.f('fk_kit_item_timepoint_id_timepoint'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kit_item'))
    )
    op.create_table('visit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('timepoint_id', sa.Integer(), nullable=False),
    sa.Column('occurrence', sa.Integer(), nullable=False),
    sa.Column('planned_on', sa.Date(), nullable=True),
    sa.Column('window_start', sa.Date(), nullable=True),
    sa.Column('window_end', sa.Date(), nullable=True),
    sa.Column('actual_on', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', lims.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status != 'done' OR actual_on IS NOT NULL", name=op.f('ck_visit_done_has_date')),
    sa.CheckConstraint("status IN ('planned', 'done', 'missed', 'not_applicable')", name=op.f('ck_visit_status')),
    sa.CheckConstraint('window_start IS NULL OR window_end >= window_start', name=op.f('ck_visit_window')),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_visit_participant_id_participant'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['timepoint_id'], ['timepoint.id'], name=op.f('fk_visit_timepoint_id_timepoint')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visit')),
    sa.UniqueConstraint('id', 'participant_id', name=op.f('uq_visit_id_participant_id')),
    sa.UniqueConstraint('participant_id', 'timepoint_id', 'occurrence', name=op.f('uq_visit_participant_id_timepoint_id_occurrence'))
    )
    op.create_table('consent_scope',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('consent_id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=40), nullable=False),
    sa.Column('granted', sa.Boolean(), nullable=False),
    sa.CheckConstraint("scope IN ('MARKER_RESEARCH', 'GENETIC_RESEARCH', 'THIRD_PARTY_SHARING', 'FUTURE_CONTACT')", name=op.f('ck_consent_scope_scope')),
    sa.ForeignKeyConstraint(['consent_id'], ['consent.id'], name=op.f('fk_consent_scope_consent_id_consent'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_scope')),
    sa.UniqueConstraint('consent_id', 'scope', name=op.f('uq_consent_scope_consent_id_scope'))
    )
    op.create_table('sample',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('accession', sa.String(length=20), nullable=True),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=True),
    sa.Column('kit_item_id', sa.Integer(), nullable=True),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('sample_type_id', sa.Integer(), nullable=False),
    sa.Column('container_type_id', sa.Integer(), nullable=True),
    sa.Column('derivation', sa.String(length=12), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('quantity', sa.Float(), nullable=True),
    sa.Column('initial_quantity', sa.Float(), nullable=True),
    sa.Column('unit', sa.String(length=10), nullable=False),
    sa.Column('freeze_thaw_count', sa.Integer(), nullable=False),
    sa.Column('missed_reason', sa.Text(), nullable=True),
    sa.Column('haemolysed', sa.Boolean(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', lims.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('collected_at', lims.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('processing_started_at', lims.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('precentrifugation_temp_c', sa.Float(), nullable=True),
    sa.Column('spun', sa.Boolean(), nullable=True),
    sa.Column('spin1_g', sa.Float(), nullable=True),
    sa.Column('spin1_min', sa.Float(), nullable=True),
    sa.Column('spin1_temp_c', sa.Float(), nullable=True),
    sa.Column('spin1_brake', sa.Boolean(), nullable=True),
    sa.Column('spin2_done', sa.Boolean(), nullable=True),
    sa.Column('spin2_g', sa.Float(), nullable=True),
    sa.Column('spin2_min', sa.Float(), nullable=True),
    sa.Column('spin2_temp_c', sa.Float(), nullable=True),
    sa.Column('spin2_brake', sa.Boolean(), nullable=True),
    sa.Column('last_spin_ended_at', lims.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('postspin_temp_c', sa.Float(), nullable=True),
    sa.Column('frozen_at', lims.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('storage_temp_c', sa.Float(), nullable=True),
    sa.Column('storage_container', sa.String(length=12), nullable=True),
    sa.Column('storage_via_minus80', sa.Boolean(), nullable=True),
    sa.Column('collection_type', sa.String(length=3), nullable=True),
    sa.Column('clamped_at', lims.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('excised_at', lims.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('fixation_started_at', lims.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('fixation_ended_at', lims.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('fixation_type', sa.String(length=3), nullable=True),
    sa.CheckConstraint("(derivation = 'primary') = (parent_id IS NULL)", name=op.f('ck_sample_parent_unless_primary')),
    sa.CheckConstraint("derivation IN ('primary', 'aliquot', 'derivative', 'pool')", name=op.f('ck_sample_derivation')),
    sa.CheckConstraint("status != 'missed' OR missed_reason IS NOT NULL", name=op.f('ck_sample_missed_has_reason')),
    sa.CheckConstraint("status = 'missed' OR accession IS NOT NULL", name=op.f('ck_sample_accession_unless_missed')),
    sa.CheckConstraint("status IN ('missed', 'collected', 'received', 'in_storage', 'checked_out', 'in_transit', 'consumed', 'disposed', 'quarantined')", name=op.f('ck_sample_status')),
    sa.CheckConstraint("unit IN ('ml', 'ul', 'mg', 'g', 'ug', 'ng', 'cells', 'blocks', 'slides')", name=op.f('ck_sample_unit')),
    sa.CheckConstraint('freeze_thaw_count >= 0', name=op.f('ck_sample_freeze_thaw_count')),
    sa.CheckConstraint('initial_quantity IS NULL OR initial_quantity >= 0', name=op.f('ck_sample_initial_quantity')),
    sa.CheckConstraint('quantity IS NULL OR quantity >= 0', name=op.f('ck_sample_quantity')),
    sa.ForeignKeyConstraint(['container_type_id'], ['container_type.id'], name=op.f('fk_sample_container_type_id_container_type')),
    sa.ForeignKeyConstraint(['kit_item_id'], ['kit_item.id'], name=op.f('fk_sample_kit_item_id_kit_item')),
    sa.ForeignKeyConstraint(['parent_id'], ['sample.id'], name=op.f('fk_sample_parent_id_sample')),
    sa.ForeignKeyConstraint(['participant_id', 'study_id'], ['participant.id', 'participant.study_id'], name=op.f('fk_sample_participant_id_study_id_participant')),
    sa.ForeignKeyConstraint(['sample_type_id'], ['sample_type.id'], name=op.f('fk_sample_sample_type_id_sample_type')),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_sample_study_id_study')),
    sa.ForeignKeyConstraint(['visit_id', 'participant_id'], ['visit.id', 'visit.participant_id'], name=op.f('fk_sample_visit_id_participant_id_visit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sample')),
    sa.UniqueConstraint('accession', name=op.f('uq_sample_accession'))
    )
    with op.batch_alter_table('sample', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sample_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sample_participant_id'), ['participant_id'], unique=False)
        batch_op.create_index('ix_sample_participant_visit', ['participant_id', 'visit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sample_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_sample_study_id'), ['study_id'], unique=False)

    op.create_table('custody_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('at', lims.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('site_code', sa.String(length=10), nullable=True),
    sa.Column('from_location', sa.Text(), nullable=True),
    sa.Column('to_location', sa.Text(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('corrects_id', sa.Integer(), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.CheckConstraint("action IN ('collected', 'missed', 'received', 'processed', 'aliquoted', 'derived', 'pooled', 'stored', 'moved', 'checked_out', 'checked_in', 'thawed', 'shipped', 'shipment_received', 'consumed', 'disposed', 'label_printed', 'quarantined', 'released', 'correction')", name=op.f('ck_custody_event_action')),
    sa.CheckConstraint('seq >= 1', name=op.f('ck_custody_event_seq')),
    sa.ForeignKeyConstraint(['corrects_id'], ['custody_event.id'], name=op.f('fk_custody_event_corrects_id_custody_event')),
    sa.ForeignKeyConstraint(['sample_id'], ['sample.id'], name=op.f('fk_custody_event_sample_id_sample')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_custody_event_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_custody_event')),
    sa.UniqueConstraint('hash', name=op.f('uq_custody_event_hash')),
    sa.UniqueConstraint('prev_hash', name=op.f('uq_custody_event_prev_hash')),
    sa.UniqueConstraint('seq', name=op.f('uq_custody_event_seq'))
    )
    with op.batch_alter_table('custody_event', schema=None) as batch_op:
        batch_op.create_index('ix_custody_event_sample_seq', ['sample_id', 'seq'], unique=False)

    op.create_table('placement',
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('row', sa.Integer(), nullable=True),
    sa.Column('col', sa.Integer(), nullable=True),
    sa.CheckConstraint('(row IS NULL) = (col IS NULL)', name=op.f('ck_placement_row_and_col_together')),
    sa.CheckConstraint('row IS NULL OR (row >= 1 AND col >= 1)', name=op.f('ck_placement_position_positive')),
    sa.ForeignKeyConstraint(['sample_id'], ['sample.id'], name=op.f('fk_placement_sample_id_sample')),
    sa.ForeignKeyConstraint(['unit_id'], ['storage_unit.id'], name=op.f('fk_placement_unit_id_storage_unit')),
    sa.PrimaryKeyConstraint('sample_id', name=op.f('pk_placement')),
    sa.UniqueConstraint('unit_id', 'row', 'col', name=op.f('uq_placement_unit_id_row_col'))
    )
    with op.batch_alter_table('placement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_placement_unit_id'), ['unit_id'], unique=False)

    op.create_table('pool_member',
    sa.Column('pool_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['sample.id'], name=op.f('fk_pool_member_member_id_sample')),
    sa.ForeignKeyConstraint(['pool_id'], ['sample.id'], name=op.f('fk_pool_member_pool_id_sample'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('pool_id', 'member_id', name=op.f('pk_pool_member'))
    )



def downgrade() -> None:

    op.drop_table('pool_member')
    with op.batch_alter_table('placement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_placement_unit_id'))

    op.drop_table('placement')
    with op.batch_alter_table('custody_event', schema=None) as batch_op:
        batch_op.drop_index('ix_custody_event_sample_seq')

    op.drop_table('custody_event')
    with op.batch_alter_table('sample', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sample_study_id'))
        batch_op.drop_index(batch_op.f('ix_sample_status'))
        batch_op.drop_index('ix_sample_participant_visit')
        batch_op.drop_index(batch_op.f('ix_sample_participant_id'))
        batch_op.drop_index(batch_op.f('ix_sample_parent_id'))

    op.drop_table('sample')
    op.drop_table('consent_scope')
    op.drop_table('visit')
    op.drop_table('kit_item')
    op.drop_table('consent')
    op.drop_table('user_site')
    op.drop_table('timepoint')
    op.drop_table('study_site')
    op.drop_table('stratum')
    with op.batch_alter_table('storage_unit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_storage_unit_site_id'))
        batch_op.drop_index(batch_op.f('ix_storage_unit_parent_id'))

    op.drop_table('storage_unit')
    op.drop_table('sample_type')
    op.drop_table('participant')
    op.drop_table('container_type')
    op.drop_table('accession_counter')
    op.drop_table('user')
    op.drop_table('study')
    op.drop_table('site')
    op.drop_table('custody_head')

