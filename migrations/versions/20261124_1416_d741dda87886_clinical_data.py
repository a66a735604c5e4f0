"""Clinical data: treatment, allocation, CREs, surgery, pathology, events, AEs, QoL and the import audit

Revision ID: d741dda87886
Revises: 8f7d0f12272a
Create Date: 2026-11-24 14:16:47.563049
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lims.core.db


revision = 'd741dda87886'
down_revision = '8f7d0f12272a'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('clinical_import_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('format', sa.String(length=10), nullable=False),
    sa.Column('filenames', sa.JSON(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=False),
    sa.Column('at', lims.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('inserted', sa.Integer(), nullable=False),
    sa.Column('updated', sa.Integer(), nullable=False),
    sa.Column('unchanged', sa.Integer(), nullable=False),
    sa.CheckConstraint("format IN ('redcap', 'tables')", name=op.f('ck_clinical_import_run_format')),
    sa.ForeignKeyConstraint(['by_id'], ['user.id'], name=op.f('fk_clinical_import_run_by_id_user')),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_clinical_import_run_study_id_study')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinical_import_run'))
    )
    with op.batch_alter_table('clinical_import_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinical_import_run_study_id'), ['study_id'], unique=False)

    op.create_table('clinical_adverse_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('term', sa.String(length=120), nullable=False),
    sa.Column('grade', sa.Integer(), nullable=False),
    sa.Column('onset_date', sa.Date(), nullable=False),
    sa.Column('meddra_code', sa.String(length=12), nullable=True),
    sa.Column('soc', sa.String(length=120), nullable=True),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('serious', sa.Boolean(), nullable=True),
    sa.Column('attribution_rt', sa.String(length=10), nullable=True),
    sa.Column('attribution_chemo', sa.String(length=10), nullable=True),
    sa.Column('attribution_camrelizumab', sa.String(length=10), nullable=True),
    sa.Column('attribution_surgery', sa.String(length=10), nullable=True),
    sa.Column('irae', sa.Boolean(), nullable=True),
    sa.Column('ethics_reported_on', sa.Date(), nullable=True),
    sa.CheckConstraint("attribution_camrelizumab IS NULL OR attribution_camrelizumab IN ('unrelated', 'unlikely', 'possible', 'probable', 'definite')", name=op.f('ck_clinical_adverse_event_attribution_camrelizumab')),
    sa.CheckConstraint("attribution_chemo IS NULL OR attribution_chemo IN ('unrelated', 'unlikely', 'possible', 'probable', 'definite')", name=op.f('ck_clinical_adverse_event_attribution_chemo')),
    sa.CheckConstraint("attribution_rt IS NULL OR attribution_rt IN ('unrelated', 'unlikely', 'possible', 'probable', 'definite')", name=op.f('ck_clinical_adverse_event_attribution_rt')),
    sa.CheckConstraint("attribution_surgery IS NULL OR attribution_surgery IN ('unrelated', 'unlikely', 'possible', 'probable', 'definite')", name=op.f('ck_clinical_adverse_event_attribution_surgery')),
    sa.CheckConstraint('end_date IS NULL OR end_date >= onset_date', name=op.f('ck_clinical_adverse_event_end_after_onset')),
    sa.CheckConstraint('grade >= 1 AND grade <= 5', name=op.f('ck_clinical_adverse_event_grade')),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_clinical_adverse_event_participant_id_participant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinical_adverse_event')),
    sa.UniqueConstraint('participant_id', 'term', 'onset_date', name=op.f('uq_clinical_adverse_event_participant_id_term_onset_date'))
    )
    with op.batch_alter_table('clinical_adverse_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinical_adverse_event_participant_id'), ['participant_id'], unique=False)

    op.create_table('clinical_allocation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('stratum', sa.String(length=20), nullable=False),
    sa.Column('rand_date', sa.Date(), nullable=True),
    sa.Column('actual_strategy', sa.String(length=20), nullable=True),
    sa.Column('crossover', sa.Boolean(), nullable=True),
    sa.CheckConstraint("actual_strategy IS NULL OR actual_strategy IN ('surgery', 'watch_and_wait', 'none')", name=op.f('ck_clinical_allocation_strategy')),
    sa.CheckConstraint("stratum IN ('NON_CCR_SURGERY', 'CCR_SURGERY', 'CCR_WW')", name=op.f('ck_clinical_allocation_stratum')),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_clinical_allocation_participant_id_participant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinical_allocation')),
    sa.UniqueConstraint('participant_id', name=op.f('uq_clinical_allocation_participant_id'))
    )
    with op.batch_alter_table('clinical_allocation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinical_allocation_participant_id'), ['participant_id'], unique=False)

    op.create_table('clinical_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('import_run_id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('table', sa.String(length=40), nullable=False),
    sa.Column('record_key', sa.String(length=200), nullable=False),
    sa.Column('field', sa.String(length=60), nullable=False),
    sa.Column('old_value', sa.Text(), nullable=True),
    sa.Column('new_value', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['import_run_id'], ['clinical_import_run.id'], name=op.f('fk_clinical_change_import_run_id_clinical_import_run')),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_clinical_change_participant_id_participant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinical_change'))
    )
    with op.batch_alter_table('clinical_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinical_change_import_run_id'), ['import_run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_clinical_change_participant_id'), ['participant_id'], unique=False)

    op.create_table('clinical_cre',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('overall', sa.String(length=20), nullable=False),
    sa.Column('planned_date', sa.Date(), nullable=True),
    sa.Column('in_window', sa.Boolean(), nullable=True),
    sa.Column('n_biopsies', sa.Integer(), nullable=True),
    sa.Column('bite_on_bite', sa.Boolean(), nullable=True),
    sa.Column('endoscopy_histology', sa.String(length=20), nullable=True),
    sa.Column('eus_suspicious_ln', sa.Boolean(), nullable=True),
    sa.Column('fna_result', sa.String(length=20), nullable=True),
    sa.Column('suvmax', sa.Float(), nullable=True),
    sa.Column('distant_m', sa.Boolean(), nullable=True),
    sa.CheckConstraint("endoscopy_histology IS NULL OR endoscopy_histology IN ('tumour', 'none', 'non_diagnostic')", name=op.f('ck_clinical_cre_histology')),
    sa.CheckConstraint("fna_result IS NULL OR fna_result IN ('malignant', 'benign', 'non_diagnostic', 'not_done')", name=op.f('ck_clinical_cre_fna')),
    sa.CheckConstraint("overall IN ('cCR', 'local', 'regional', 'distant', 'not_evaluable')", name=op.f('ck_clinical_cre_overall')),
    sa.CheckConstraint('n_biopsies IS NULL OR n_biopsies >= 0', name=op.f('ck_clinical_cre_biopsies')),
    sa.CheckConstraint('seq >= 1 AND seq <= 14', name=op.f('ck_clinical_cre_seq')),
    sa.CheckConstraint('suvmax IS NULL OR suvmax >= 0', name=op.f('ck_clinical_cre_suvmax')),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_clinical_cre_participant_id_participant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinical_cre')),
    sa.UniqueConstraint('participant_id', 'seq', name=op.f('uq_clinical_cre_participant_id_seq'))
    )
    with op.batch_alter_table('clinical_cre', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinical_cre_participant_id'), ['participant_id'], unique=False)

    op.create_table('clinical_death',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('cause', sa.String(length=10), nullable=True),
    sa.CheckConstraint("cause IS NULL OR cause IN ('disease', 'treatment', 'other', 'unknown')", name=op.f('ck_clinical_death_cause')),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_clinical_death_participant_id_participant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinical_death')),
    sa.UniqueConstraint('participant_id', name=op.f('uq_clinical_death_participant_id'))
    )
    with op.batch_alter_table('clinical_death', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinical_death_participant_id'), ['participant_id'], unique=False)

    op.create_table('clinical_disease_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('proof', sa.String(length=12), nullable=True),
    sa.Column('site', sa.String(length=10), nullable=True),
    sa.Column('salvage_surgery_date', sa.Date(), nullable=True),
    sa.Column('salvage_r_status', sa.String(length=12), nullable=True),
    sa.CheckConstraint("proof IS NULL OR proof IN ('histology', 'cytology', 'imaging')", name=op.f('ck_clinical_disease_event_proof')),
    sa.CheckConstraint("salvage_r_status IS NULL OR salvage_r_status IN ('R0', 'R1', 'R2', 'unresectable')", name=op.f('ck_clinical_disease_event_salvage_r_status')),
    sa.CheckConstraint("site IS NULL OR site IN ('local', 'regional', 'distant')", name=op.f('ck_clinical_disease_event_site')),
    sa.CheckConstraint("type IN ('LOCAL_REGROWTH', 'LOCAL_RECURRENCE', 'REGIONAL', 'DISTANT', 'PROGRESSION_PRECLUDING_SURGERY', 'SECOND_PRIMARY')", name=op.f('ck_clinical_disease_event_type')),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_clinical_disease_event_participant_id_participant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinical_disease_event')),
    sa.UniqueConstraint('participant_id', 'type', 'date', name=op.f('uq_clinical_disease_event_participant_id_type_date'))
    )
    with op.batch_alter_table('clinical_disease_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinical_disease_event_participant_id'), ['participant_id'], unique=False)

    op.create_table('clinical_drug_dose',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('agent', sa.String(length=20), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('dose', sa.Float(), nullable=True),
    sa.Column('unit', sa.String(length=10), nullable=True),
    sa.Column('omitted', sa.Boolean(), nullable=True),
    sa.Column('cycle', sa.Integer(), nullable=True),
    sa.Column('phase', sa.String(length=12), nullable=True),
    sa.CheckConstraint("agent IN ('carboplatin', 'paclitaxel', 'camrelizumab')", name=op.f('ck_clinical_drug_dose_agent')),
    sa.CheckConstraint("phase IS NULL OR phase IN ('neoadjuvant', 'maintenance')", name=op.f('ck_clinical_drug_dose_phase')),
    sa.CheckConstraint('cycle IS NULL OR cycle >= 1', name=op.f('ck_clinical_drug_dose_cycle')),
    sa.CheckConstraint('dose IS NULL OR dose >= 0', name=op.f('ck_clinical_drug_dose_dose')),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_clinical_drug_dose_participant_id_participant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinical_drug_dose')),
    sa.UniqueConstraint('participant_id', 'agent', 'date', name=op.f('uq_clinical_drug_dose_participant_id_agent_date'))
    )
    with op.batch_alter_table('clinical_drug_dose', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinical_drug_dose_participant_id'), ['participant_id'], unique=False)

    op.create_table('clinical_last_contact',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('last_alive_date', sa.Date(), nullable=False),
    sa.Column('last_disease_assessment_date', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_clinical_last_contact_participant_id_participant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinical_last_contact')),
    sa.UniqueConstraint('participant_id', name=op.f('uq_clinical_last_contact_participant_id'))
    )
    with op.batch_alter_table('clinical_last_contact', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinical_last_contact_participant_id'), ['participant_id'], unique=False)

    op.create_table('clinical_pathology',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('surgery_date', sa.Date(), nullable=True),
    sa.Column('specimen', sa.String(length=100), nullable=True),
    sa.Column('ypt', sa.String(length=10), nullable=False),
    sa.Column('ypn', sa.String(length=10), nullable=False),
    sa.Column('ln_examined', sa.Integer(), nullable=True),
    sa.Column('ln_positive', sa.Integer(), nullable=True),
    sa.Column('viable_pct', sa.Float(), nullable=True),
    sa.Column('trg_system', sa.String(length=10), nullable=True),
    sa.Column('trg_grade', sa.String(length=4), nullable=True),
    sa.CheckConstraint("trg_system IS NULL OR trg_system IN ('Mandard', 'Becker', 'CAP', 'Chirieac')", name=op.f('ck_clinical_pathology_trg_system')),
    sa.CheckConstraint('ln_examined IS NULL OR ln_examined >= 0', name=op.f('ck_clinical_pathology_ln_examined')),
    sa.CheckConstraint('ln_positive IS NULL OR (ln_positive >= 0 AND (ln_examined IS NULL OR ln_positive <= ln_examined))', name=op.f('ck_clinical_pathology_ln_positive')),
    sa.CheckConstraint('viable_pct IS NULL OR (viable_pct >= 0 AND viable_pct <= 100)', name=op.f('ck_clinical_pathology_viable_pct')),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_clinical_pathology_participant_id_participant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinical_pathology')),
    sa.UniqueConstraint('participant_id', 'surgery_date', name=op.f('uq_clinical_pathology_participant_id_surgery_date'))
    )
    with op.batch_alter_table('clinical_pathology', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinical_pathology_participant_id'), ['participant_id'], unique=False)

    op.create_table('clinical_qol_response',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('instrument', sa.String(length=10), nullable=False),
    sa.Column('timepoint', sa.String(length=40), nullable=False),
    sa.Column('item', sa.String(length=10), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('date', sa.Date(), nullable=True),
    sa.CheckConstraint("instrument IN ('QLQ-C30', 'FACT-E')", name=op.f('ck_clinical_qol_response_instrument')),
    sa.CheckConstraint('value IS NULL OR (value >= 0 AND value <= 7)', name=op.f('ck_clinical_qol_response_value')),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_clinical_qol_response_participant_id_participant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinical_qol_response')),
    sa.UniqueConstraint('participant_id', 'instrument', 'timepoint', 'item', name=op.f('uq_clinical_qol_response_participant_id_instrument_timepoint_item'))
    )
    with op.batch_alter_table('clinical_qol_response', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinical_qol_response_participant_id'), ['participant_id'], unique=False)

    op.create_table('clinical_subsequent_treatment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.CheckConstraint("kind IN ('salvage_surgery', 'systemic_therapy', 'supportive_care', 'radiotherapy')", name=op.f('ck_clinical_subsequent_treatment_kind')),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_clinical_subsequent_treatment_participant_id_participant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinical_subsequent_treatment')),
    sa.UniqueConstraint('participant_id', 'kind', 'date', name=op.f('uq_clinical_subsequent_treatment_participant_id_kind_date'))
    )
    with op.batch_alter_table('clinical_subsequent_treatment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinical_subsequent_treatment_participant_id'), ['participant_id'], unique=False)

    op.create_table('clinical_surgery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('intent', sa.String(length=10), nullable=False),
    sa.Column('r_status', sa.String(length=12), nullable=False),
    sa.Column('approach', sa.String(length=40), nullable=True),
    sa.Column('clavien_dindo', sa.String(length=5), nullable=True),
    sa.Column('death_90d', sa.Boolean(), nullable=True),
    sa.CheckConstraint("intent IN ('planned', 'salvage')", name=op.f('ck_clinical_surgery_intent')),
    sa.CheckConstraint("r_status IN ('R0', 'R1', 'R2', 'unresectable')", name=op.f('ck_clinical_surgery_r_status')),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_clinical_surgery_participant_id_participant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinical_surgery')),
    sa.UniqueConstraint('participant_id', 'date', name=op.f('uq_clinical_surgery_participant_id_date'))
    )
    with op.batch_alter_table('clinical_surgery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinical_surgery_participant_id'), ['participant_id'], unique=False)

    op.create_table('clinical_treatment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('rt_start', sa.Date(), nullable=False),
    sa.Column('rt_end', sa.Date(), nullable=True),
    sa.Column('rt_dose_gy', sa.Float(), nullable=True),
    sa.Column('rt_fractions', sa.Integer(), nullable=True),
    sa.CheckConstraint('rt_dose_gy IS NULL OR (rt_dose_gy >= 0 AND rt_dose_gy <= 100)', name=op.f('ck_clinical_treatment_dose')),
    sa.CheckConstraint('rt_end IS NULL OR rt_end >= rt_start', name=op.f('ck_clinical_treatment_rt_order')),
    sa.CheckConstraint('rt_fractions IS NULL OR (rt_fractions >= 0 AND rt_fractions <= 60)', name=op.f('ck_clinical_treatment_fractions')),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_clinical_treatment_participant_id_participant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinical_treatment')),
    sa.UniqueConstraint('participant_id', name=op.f('uq_clinical_treatment_participant_id'))
    )
    with op.batch_alter_table('clinical_treatment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinical_treatment_participant_id'), ['participant_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('clinical_treatment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clinical_treatment_participant_id'))

    op.drop_table('clinical_treatment')
    with op.batch_alter_table('clinical_surgery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clinical_surgery_participant_id'))

    op.drop_table('clinical_surgery')
    with op.batch_alter_table('clinical_subsequent_treatment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clinical_subsequent_treatment_participant_id'))

    op.drop_table('clinical_subsequent_treatment')
    with op.batch_alter_table('clinical_qol_response', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clinical_qol_response_participant_id'))

    op.drop_table('clinical_qol_response')
    with op.batch_alter_table('clinical_pathology', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clinical_pathology_participant_id'))

    op.drop_table('clinical_pathology')
    with op.batch_alter_table('clinical_last_contact', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clinical_last_contact_participant_id'))

    op.drop_table('clinical_last_contact')
    with op.batch_alter_table('clinical_drug_dose', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clinical_drug_dose_participant_id'))

    op.drop_table('clinical_drug_dose')
    with op.batch_alter_table('clinical_disease_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clinical_disease_event_participant_id'))

    op.drop_table('clinical_disease_event')
    with op.batch_alter_table('clinical_death', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clinical_death_participant_id'))

    op.drop_table('clinical_death')
    with op.batch_alter_table('clinical_cre', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clinical_cre_participant_id'))

    op.drop_table('clinical_cre')
    with op.batch_alter_table('clinical_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clinical_change_participant_id'))
        batch_op.drop_index(batch_op.f('ix_clinical_change_import_run_id'))

    op.drop_table('clinical_change')
    with op.batch_alter_table('clinical_allocation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clinical_allocation_participant_id'))

    op.drop_table('clinical_allocation')
    with op.batch_alter_table('clinical_adverse_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clinical_adverse_event_participant_id'))

    op.drop_table('clinical_adverse_event')
    with op.batch_alter_table('clinical_import_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clinical_import_run_study_id'))

    op.drop_table('clinical_import_run')
