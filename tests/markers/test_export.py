"""Dataset export: pseudonymisation, consent exclusion, dictionary, manifest hashes, long vs wide, formats."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import date

import pandas as pd
import pytest
from sqlalchemy import select

from lims.core.errors import DomainError, Forbidden
from lims.core.models import AuditEvent
from lims.markers.export import ExportQuery, build_dataset, export_dataset
from lims.markers.importer import import_results
from lims.markers.models import ExportRun
from lims.samples.models import Sample

HEADER = "sample,marker,value,unit,qualifier,run_id,assay_date,remeasurement\n"


@pytest.fixture()
def results(session, catalogue, sampled):
    """Three participants with results; one withdraws, one has no marker-research consent afterwards."""
    people = []
    lines = []
    for i, stratum in enumerate(("CCR_WW", "NON_CCR_SURGERY", "CCR_SURGERY", "CCR_WW")):
        p, acc = sampled(stratum=stratum)
        people.append(p)
        lines += [f"{acc['CTDNA_PLASMA']},CTDNA_VAF,{0.1 * (i + 1):.2f},%,,R1,2025-03-0{i + 1},",
                  f"{acc['SERUM']},IL6,{2 + i},pg/mL,,R1,2025-03-0{i + 1},",
                  f"{acc['SERUM_2']},IL6,,pg/mL,<LOD,R1,2025-03-0{i + 1},",
                  f"{acc['FFPE']},PDL1_CPS,{5 * i},score,,R2,,"]
        if i == 0:
            lines.append(f"{acc['SERUM']},IL6,9,pg/mL,,R9,2025-04-01,yes")
    import_results(session, (HEADER + "\n".join(lines) + "\n").encode(), filename="seed.csv")
    people[2].consent.withdrawn_on = date(2025, 6, 1)
    next(s for s in people[3].consent.scopes if s.scope == "MARKER_RESEARCH").granted = False
    session.flush()
    return people


def _unzip(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _read(content: bytes, fmt: str) -> pd.DataFrame:
    if fmt == "csv":
        return pd.read_csv(io.BytesIO(content))
    if fmt == "xlsx":
        return pd.read_excel(io.BytesIO(content))
    return pd.read_parquet(io.BytesIO(content))


def test_long_export_is_pseudonymised_and_consent_aware(session, study, results, user) -> None:
    researcher = user("researcher")
    out = export_dataset(session, study, ExportQuery(form="long", format="csv"), by=researcher)
    files = _unzip(out.content)
    assert set(files) == {"data.csv", "data_dictionary.csv", "manifest.json"}
    data = pd.read_csv(io.BytesIO(files["data.csv"]))
    codes = {p.code for p in results}
    assert set(data["participant_id"]) == {results[0].code, results[1].code}
    text = files["data.csv"].decode()
    for accession in session.scalars(select(Sample.accession).where(Sample.accession.is_not(None))):
        assert accession not in text
    assert "2025-" not in text, "a researcher must see study days, never calendar dates"
    assert not any(c.endswith("_date") for c in data.columns)
    # 8 Jan vs enrolled 6 Jan
    assert data["collection_day"].notna().all() and (data["collection_day"] == 3).all()
    manifest = json.loads(files["manifest.json"])
    assert manifest["excluded_participants"]["withdrawn consent"] == 1
    assert manifest["excluded_participants"]["consent does not cover marker research"] == 1
    assert manifest["excluded_participants"]["results of excluded participants"] == 8
    assert manifest["exported_by"] == {"username": "researcher", "role": "researcher"}
    assert manifest["dfs_variant"] == "A" and manifest["software"]["version"]
    assert manifest["query"]["form"] == "long" and manifest["row_counts"]["rows"] == len(data) == 9
    for name, digest in manifest["files"].items():
        assert hashlib.sha256(files[name]).hexdigest() == digest
    audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "dataset_export")).all()
    assert audit[-1].object_id == str(manifest["export_id"]) and audit[-1].username == "researcher"
    run = session.get(ExportRun, manifest["export_id"])
    assert run.files == manifest["files"] and run.by_username == "researcher" and run.row_counts["rows"] == 9
    assert codes  # the fixture made four participants


def test_dictionary_covers_every_column(session, study, results, user) -> None:
    for form in ("long", "wide"):
        ds = build_dataset(session, study, ExportQuery(form=form), role="researcher")
        assert list(ds.dictionary["name"]) == list(ds.frame.columns)
        assert ds.dictionary["label"].str.len().gt(0).all()
        assert ds.dictionary["type"].isin(["integer", "number", "string", "boolean", "date"]).all()
        described = ds.dictionary.set_index("name")
        assert described.loc["stratum", "allowed_values"].startswith("NON_CCR_SURGERY")
        assert "study day" in described.loc["collection_day", "derivation"] or "enrolment" in \
            described.loc["collection_day", "derivation"]
    long = build_dataset(session, study, ExportQuery(form="long"),
                         role="researcher").dictionary.set_index("name")
    assert long.loc["marker", "allowed_values"] == "CTDNA_VAF; IL6; PDL1_CPS"
    assert long.loc["value", "unit"] and long.loc["qualifier", "allowed_values"] == "<LOD; >ULOQ; NA"


def test_dates_only_for_roles_allowed_to_see_them(session, study, results, user) -> None:
    with pytest.raises(Forbidden):
        export_dataset(session, study, ExportQuery(dates=True), by=user("researcher"))
    ds = build_dataset(session, study, ExportQuery(dates=True), role="pi")
    assert {"collection_date", "assay_date", "enrol_date"} <= set(ds.frame.columns)
    assert ds.frame["collection_date"].iloc[0] == date(2025, 1, 8)


def test_long_and_wide_agree(session, study, results) -> None:
    long = build_dataset(session, study, ExportQuery(form="long"), role="researcher").frame
    wide = build_dataset(session, study, ExportQuery(form="wide"), role="researcher").frame
    assert len(wide) == long.groupby(["participant_id", "timepoint"]).ngroups
    latest = long[long["latest"]]
    per_cell = latest.sort_values(["sample_key"]).drop_duplicates(["participant_id", "timepoint", "marker"],
                                                                  keep="last")
    for row in per_cell.itertuples():
        w = wide[(wide["participant_id"]
                  == row.participant_id) & (wide["timepoint"] == row.timepoint)].iloc[0]
        if pd.isna(row.value):
            assert pd.isna(w[row.marker])
        else:
            assert w[row.marker] == pytest.approx(row.value)
    # The re-measurement replaced the first IL-6 value in the wide form; both are in the long form.
    first = results[0].code
    il6 = long[(long["participant_id"] == first) & (long["marker"] == "IL6")]
    assert sorted(il6["replicate"]) == [1, 1, 2] and il6["remeasurement"].sum() == 1
    assert 2.0 not in set(wide["IL6"]), "a superseded replicate must not reach the wide form"
    assert wide.loc[wide["participant_id"] == first, "IL6__qualifier"].iloc[0] == "<LOD"
    assert "SERUM__sprec" in wide.columns and "CTDNA_PLASMA__freeze_thaw_count" in wide.columns


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet"])
@pytest.mark.parametrize("form", ["long", "wide"])
def test_formats_read_back_to_the_same_values(session, study, results, user, fmt, form) -> None:
    query = ExportQuery(form=form, format=fmt, outcomes=[])
    frame = build_dataset(session, study, query, role="researcher").frame
    out = export_dataset(session, study, query, by=user("researcher"))
    back = _read(_unzip(out.content)[f"data.{fmt}"], fmt)
    assert list(back.columns) == list(frame.columns) and len(back) == len(frame)
    for column in frame.columns:
        a, b = frame[column], back[column]
        if pd.api.types.is_numeric_dtype(b) and not pd.api.types.is_bool_dtype(b):
            assert pd.to_numeric(a, errors="coerce").astype(float).fillna(-1e9).tolist() == pytest.approx(
                b.astype(float).fillna(-1e9).tolist()), column
        else:
            assert a.astype(object).where(a.notna(),
                                          None).map(lambda v: None if v is None else str(v)).tolist() == \
                b.astype(object).where(b.notna(),
                                       None).map(lambda v: None if v is None else str(v)).tolist(), column


def test_filters_and_bad_queries(session, study, results) -> None:
    ds = build_dataset(session, study,
                       ExportQuery(markers=["il6"], strata=["CCR_WW"], sample_types=["SERUM"]),
                       role="researcher")
    assert set(ds.frame["marker"]) == {"IL6"} and set(ds.frame["stratum"]) == {"CCR_WW"}
    assert ds.excluded["consent does not cover marker research"] == 1  # the second CCR_WW participant
    with pytest.raises(DomainError, match="unknown marker"):
        build_dataset(session, study, ExportQuery(markers=["NOPE"]), role="researcher")
    with pytest.raises(DomainError, match="form"):
        build_dataset(session, study, ExportQuery(form="tall"), role="researcher")
    with pytest.raises(DomainError, match="unknown outcome"):
        build_dataset(session, study, ExportQuery(outcomes=["enrol_date"]), role="researcher")


@pytest.mark.parametrize("form", ["long", "wide"])
def test_block_by_block_equals_one_read(session, study, results, form, monkeypatch) -> None:
    """The wide pivot is filled block by block as the results are read: a result per block gives the frame
    (values, qualifiers, superseded replicates, dates, exclusion counts) that one block of all results
    gives."""
    from lims.markers import export_read

    query = ExportQuery(form=form, dates=True)
    one = build_dataset(session, study, query, role="pi", today=date(2026, 1, 1))
    monkeypatch.setattr(export_read, "READ_BLOCK", 1)
    blocked = build_dataset(session, study, query, role="pi", today=date(2026, 1, 1))
    pd.testing.assert_frame_equal(blocked.frame, one.frame, check_exact=True)
    pd.testing.assert_frame_equal(blocked.dictionary, one.dictionary, check_exact=True)
    assert blocked.excluded == one.excluded
    assert len(one.frame) > 1
