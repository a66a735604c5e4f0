"""The demo's marker part: catalogue, results on the right sample types, LOD values, re-measurements,
signal."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lims.core.database import make_engine
from lims.markers.models import Marker, MarkerResult
from lims.samples.models import Sample
from lims.studies.models import SampleType
from tests.demo_db import DemoDatabase


def test_demo_markers(demo_database: DemoDatabase, tmp_path: Path) -> None:
    with demo_database.copy(tmp_path) as (url, _):
        engine = make_engine(url)
        try:
            with Session(engine) as session:
                _check_markers(session, demo_database.report)
        finally:
            engine.dispose()


def _check_markers(session: Session, report: str) -> None:
    markers, results = (int(re.search(rf"(\d+) {what},", report).group(1))
                        for what in ("markers", "marker results"))
    assert markers >= 30 and results > 300
    assert session.scalar(select(func.count(Marker.id))) == markers
    assert session.scalar(select(func.count(MarkerResult.id))) == results
    rows = pd.DataFrame(session.execute(
        select(Marker.code, Marker.specimen_types, SampleType.code, MarkerResult.qualifier,
               MarkerResult.replicate,
               MarkerResult.value)
        .join(MarkerResult, MarkerResult.marker_id == Marker.id)
        .join(Sample, Sample.id == MarkerResult.sample_id)
        .join(SampleType, SampleType.id == Sample.sample_type_id)).all(),
        columns=["marker", "allowed", "type", "qualifier", "replicate", "value"])
    assert all(t in allowed for t, allowed in zip(rows["type"], rows["allowed"], strict=True))
    assert {"CTDNA_VAF", "IL6", "NLR", "SCC_AG", "PDL1_CPS", "TMB", "MB_AKKERMANSIA"} <= set(rows["marker"])
    assert (rows["qualifier"] == "<LOD").sum() > 0 and (rows["replicate"] > 1).sum() > 0
    assert rows["value"].isna().equals(rows["qualifier"].notna())
    microbiome = rows[rows["marker"].str.startswith("MB_")]
    assert microbiome["marker"].nunique() == 20
