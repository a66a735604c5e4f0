"""The demo's marker part: catalogue, results on the right sample types, LOD values, re-measurements,
signal."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select

from lims import demo
from lims.config import DEFAULT_PROTOCOL
from lims.markers.models import Marker, MarkerResult
from lims.samples.models import Sample
from lims.studies.models import SampleType


def test_demo_markers(session, tmp_path) -> None:
    summary = demo.load(session, seed=7, participants=12, instance_path=str(tmp_path),
                        protocol_path=DEFAULT_PROTOCOL)
    assert summary.extra["markers"] >= 30 and summary.extra["marker results"] > 300
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
