"""Marker catalogue, marker results, import and export runs

Revision ID: 3d5b4807594e
Revises: be5652288b38
Create Date: 2026-11-24 14:21:35.378889
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lims.core.db


revision = '3d5b4807594e'
down_revision = 'be5652288b38'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('marker',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('assay', sa.String(length=200), nullable=False),
    sa.Column('platform', sa.String(length=200), nullable=False),
    sa.Column('specimen_types', sa.JSON(), nullable=False),
    sa.Column('lod', sa.Float(), nullable=True),
    sa.Column('lloq', sa.Float(), nullable=True),
    sa.Column('uloq', sa.Float(), nullable=True),
    sa.Column('transform', sa.String(length=10), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('updated_at', lims.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("category IN ('ctDNA', 'IHC', 'TMB', 'TIL', 'cytokine', 'microbiome_taxon', 'haematology', 'tumour_marker', 'other')", name=op.f('ck_marker_category')),
    sa.CheckConstraint("transform IN ('none', 'log2', 'log10', 'clr')", name=op.f('ck_marker_transform')),
    sa.CheckConstraint('lloq IS NULL OR lod IS NULL OR lloq >= lod', name=op.f('ck_marker_lloq_above_lod')),
    sa.CheckConstraint('lod IS NULL OR lod >= 0', name=op.f('ck_marker_lod')),
    sa.CheckConstraint('uloq IS NULL OR lloq IS NULL OR uloq > lloq', name=op.f('ck_marker_uloq_above_lloq')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_marker')),
    sa.UniqueConstraint('code', name=op.f('uq_marker_code'))
    )
    op.create_table('export_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=True),
    sa.Column('by_username', sa.String(length=80), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('at', lims.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('query', sa.JSON(), nullable=False),
    sa.Column('files', sa.JSON(), nullable=False),
    sa.Column('row_counts', sa.JSON(), nullable=False),
    sa.Column('excluded', sa.JSON(), nullable=False),
    sa.Column('software_version', sa.String(length=40), nullable=False),
    sa.Column('dfs_variant', sa.String(length=1), nullable=False),
    sa.ForeignKeyConstraint(['by_id'], ['user.id'], name=op.f('fk_export_run_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_run'))
    )
    op.create_table('marker_import',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('layout', sa.String(length=10), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('results', sa.Integer(), nullable=False),
    sa.Column('remeasurements', sa.Integer(), nullable=False),
    sa.Column('converted', sa.Integer(), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=True),
    sa.Column('at', lims.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['by_id'], ['user.id'], name=op.f('fk_marker_import_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_marker_import'))
    )
    op.create_table('marker_result',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('marker_id', sa.Integer(), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=True),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('qualifier', sa.String(length=6), nullable=True),
    sa.Column('original_value', sa.Float(), nullable=True),
    sa.Column('original_unit', sa.String(length=20), nullable=True),
    sa.Column('replicate', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.String(length=60), nullable=True),
    sa.Column('batch_id', sa.String(length=60), nullable=True),
    sa.Column('plate_id', sa.String(length=60), nullable=True),
    sa.Column('assay_date', sa.Date(), nullable=True),
    sa.Column('operator', sa.String(length=80), nullable=True),
    sa.CheckConstraint("qualifier IS NULL OR qualifier IN ('<LOD', '>ULOQ', 'NA')", name=op.f('ck_marker_result_qualifier')),
    sa.CheckConstraint('replicate >= 1', name=op.f('ck_marker_result_replicate')),
    sa.CheckConstraint('value IS NOT NULL OR qualifier IS NOT NULL', name=op.f('ck_marker_result_value_or_qualifier')),
    sa.ForeignKeyConstraint(['import_id'], ['marker_import.id'], name=op.f('fk_marker_result_import_id_marker_import')),
    sa.ForeignKeyConstraint(['marker_id'], ['marker.id'], name=op.f('fk_marker_result_marker_id_marker')),
    sa.ForeignKeyConstraint(['sample_id'], ['sample.id'], name=op.f('fk_marker_result_sample_id_sample')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_marker_result')),
    sa.UniqueConstraint('sample_id', 'marker_id', 'replicate', name=op.f('uq_marker_result_sample_id_marker_id_replicate'))
    )
    with op.batch_alter_table('marker_result', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_marker_result_import_id'), ['import_id'], unique=False)
        batch_op.create_index('ix_marker_result_marker_sample', ['marker_id', 'sample_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('marker_result', schema=None) as batch_op:
        batch_op.drop_index('ix_marker_result_marker_sample')
        batch_op.drop_index(batch_op.f('ix_marker_result_import_id'))

    op.drop_table('marker_result')
    op.drop_table('marker_import')
    op.drop_table('export_run')
    op.drop_table('marker')
