"""Marker fixtures: a small catalogue and participants with plasma, serum and FFPE samples."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest

from lims.markers.service import save_marker
from lims.samples.service import register_primary, split
from lims.studies.service import timepoint_by_code

CATALOGUE = [
    {"code": "CTDNA_VAF", "name": "ctDNA mean VAF", "category": "ctDNA", "unit": "%",
     "assay": "tumour-informed MRD",
     "specimen_types": ["CTDNA_PLASMA"], "lod": 0.01, "lloq": 0.02, "uloq": 100.0, "transform": "log10"},
    {"code": "IL6", "name": "Interleukin-6", "category": "cytokine", "unit": "pg/mL", "assay": "ELISA",
     "specimen_types": ["SERUM"], "lod": 0.5, "lloq": 1.0, "uloq": 500.0, "transform": "log2"},
    {"code": "PDL1_CPS", "name": "PD-L1 CPS", "category": "IHC", "unit": "score", "assay": "22C3",
     "specimen_types": ["FFPE"], "lod": None, "lloq": None, "uloq": None, "transform": "none"},
]


@pytest.fixture()
def catalogue(session: Any) -> dict[str, Any]:
    return {m["code"]: save_marker(session, m) for m in CATALOGUE}


@pytest.fixture()
def sampled(session: Any, study: Any, make_participant: Callable[..., Any],
            user: Callable[[str], Any]) -> Callable[..., Any]:
    """Return a factory: a participant with baseline plasma, serum and FFPE samples (accessions by type)."""
    tech = user("technician")
    types = {t.code: t for t in study.sample_types}

    def _make(stratum: str | None = "CCR_WW", **kwargs: Any) -> tuple[Any, dict[str, str]]:
        p = make_participant(stratum=stratum, rt_start_on=date(2025, 1, 20), eot_on=date(2025, 2, 24),
                             **kwargs)
        baseline = next(v for v in p.visits if v.timepoint.code == "BASELINE")
        baseline.status, baseline.actual_on = "done", date(2025, 1, 8)
        kit = {(k.sample_type.code, k.container_type.code if k.container_type else None): k
               for k in timepoint_by_code(study, "BASELINE").kit}
        at = datetime(2025, 1, 8, 8, 0, tzinfo=UTC)
        out: dict[str, str] = {}
        for container, child in (("STRECK", "CTDNA_PLASMA"), ("SST", "SERUM")):
            k = kit[("WHOLE_BLOOD", container)]
            blood = register_primary(session, baseline, k, sample_type=k.sample_type, quantity=10, unit="ml",
                                     by=tech, collected_at=at)
            kids = split(session, blood, sample_type=types[child], count=2, volume=1.0, unit="ml", by=tech,
                         derivation="derivative",
                         processing_started_at=datetime(2025, 1, 8, 10, 0, tzinfo=UTC),
                         frozen_at=datetime(2025, 1, 8, 11, 0, tzinfo=UTC))
            out[child] = kids[0].accession
            out[child + "_2"] = kids[1].accession
        k = kit[("FFPE", "FORMALIN_POT")]
        block = register_primary(session, baseline, k, sample_type=k.sample_type, quantity=1, unit="blocks",
                                 by=tech,
                                 collected_at=at)
        out["FFPE"] = block.accession
        session.flush()
        return p, out

    return _make
