"""Sample handling rules from the protocol: storage ranges, dead volumes, required pre-analytics; SPREC 3.0 codes

sample_type gains the long-term storage range the protocol allows, the dead volume of its tubes and the list of
pre-analytical fields that must be recorded when it is made; container_type gains the dead volume of the
primary container. An installed ESCC-WW study still at version 1.0 of the shipped protocol is brought to 1.1:
the same values as lims/protocols/escc_ww.toml, SPREC 3.0 container codes (Streck cell-free DNA BCT SCK, stool
tube with stabiliser OMN), and the file's new hash, so `lims demo` keeps recognising it. Other studies keep
NULL rules (nothing is refused for them until their protocol says so).

Revision ID: b3e7c41a9d02
Revises: e1d3a7c05b15
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "b3e7c41a9d02"
down_revision = "e1d3a7c05b15"
branch_labels = None
depends_on = None

OLD_SHA = "84ef87611de6a52b73c21f3b983738be38da4008fb7c7a392169c3691b4f44df"
NEW_SHA = "ef1fac7d3e6840a1800ec3a422bf38b252133bcca0e3744e93c07c2e5304c371"
BLOOD = ["processing_started_at", "precentrifugation_temp_c", "spin1_g", "spin1_min", "spin1_temp_c"]
STORED = ["frozen_at", "storage_temp_c", "storage_container"]
TYPES = {  # code: (coldest, warmest, dead volume, unit, required pre-analytics) as in escc_ww.toml 1.1
    "WHOLE_BLOOD": (-90, 8, None, None, []),
    "CTDNA_PLASMA": (-196, -60, 0.02, "ml", BLOOD + ["spin2_g", "spin2_min", "spin2_temp_c", "last_spin_ended_at",
                                                     "postspin_temp_c"] + STORED),
    "BUFFY_COAT": (-196, -60, 0.02, "ml", BLOOD + STORED),
    "SERUM": (-196, -60, 0.02, "ml", BLOOD + ["last_spin_ended_at", "postspin_temp_c"] + STORED),
    "PBMC": (-196, -135, None, None, BLOOD + STORED),
    "STOOL": (-196, -60, 10, "mg", ["processing_started_at", "precentrifugation_temp_c"] + STORED),
    "FFPE": (2, 30, None, None, ["collection_type", "excised_at", "fixation_type", "fixation_started_at",
                                 "fixation_ended_at", "storage_temp_c", "storage_container"]),
    "FROZEN_TISSUE": (-196, -60, None, None, ["collection_type", "excised_at", "fixation_type",
                                              "fixation_started_at", "storage_temp_c", "storage_container"]),
    "DNA": (-90, 8, None, None, []),
}
CONTAINERS = {  # code: (SPREC code, dead volume, unit)
    "K2EDTA": ("PED", 0.5, "ml"), "STRECK": ("SCK", 0.5, "ml"), "SST": ("SST", 0.5, "ml"),
    "CPT": ("CPT", 0.5, "ml"), "STOOL_KIT": ("OMN", 100, "mg"),
}


def upgrade() -> None:
    with op.batch_alter_table("sample_type") as batch:
        batch.add_column(sa.Column("storage_min_c", sa.Float(), nullable=True))
        batch.add_column(sa.Column("storage_max_c", sa.Float(), nullable=True))
        batch.add_column(sa.Column("dead_volume", sa.Float(), nullable=True))
        batch.add_column(sa.Column("dead_volume_unit", sa.String(length=12), nullable=True))
        batch.add_column(sa.Column("preanalytics", sa.JSON(), server_default="[]", nullable=False))
    with op.batch_alter_table("container_type") as batch:
        batch.add_column(sa.Column("dead_volume", sa.Float(), nullable=True))
        batch.add_column(sa.Column("dead_volume_unit", sa.String(length=12), nullable=True))
    conn = op.get_bind()
    study = conn.execute(sa.text("SELECT id FROM study WHERE code = 'ESCC-WW' AND protocol_sha256 = :sha"),
                         {"sha": OLD_SHA}).scalar()
    if study is None:
        return
    for code, (coldest, warmest, dead, unit, fields) in TYPES.items():
        conn.execute(sa.text(
            "UPDATE sample_type SET storage_min_c = :lo, storage_max_c = :hi, dead_volume = :dead, "
            "dead_volume_unit = :unit, preanalytics = :fields WHERE study_id = :study AND code = :code"),
            {"lo": coldest, "hi": warmest, "dead": dead, "unit": unit, "fields": json.dumps(fields),
             "study": study, "code": code})
    for code, (sprec, dead, unit) in CONTAINERS.items():
        conn.execute(sa.text(
            "UPDATE container_type SET sprec_code = :sprec, dead_volume = :dead, dead_volume_unit = :unit "
            "WHERE study_id = :study AND code = :code"),
            {"sprec": sprec, "dead": dead, "unit": unit, "study": study, "code": code})
    conn.execute(sa.text("UPDATE study SET protocol_sha256 = :sha, protocol_version = '1.1' WHERE id = :study"),
                 {"sha": NEW_SHA, "study": study})


def downgrade() -> None:
    with op.batch_alter_table("container_type") as batch:
        batch.drop_column("dead_volume_unit")
        batch.drop_column("dead_volume")
    with op.batch_alter_table("sample_type") as batch:
        batch.drop_column("preanalytics")
        batch.drop_column("dead_volume_unit")
        batch.drop_column("dead_volume")
        batch.drop_column("storage_max_c")
        batch.drop_column("storage_min_c")
