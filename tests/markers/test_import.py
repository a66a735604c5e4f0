"""Results import: valid long and wide files, every class of bad input, nothing written on failure."""

from __future__ import annotations

import io
from datetime import date

import pandas as pd
import pytest
from sqlalchemy import func, select

from lims.markers.importer import ImportFailed, import_results
from lims.markers.models import MarkerImportRun, MarkerResult

HEADER = "sample,marker,value,unit,qualifier,run_id,batch_id,plate_id,assay_date,operator,remeasurement\n"


def _count(session) -> int:
    return session.scalar(select(func.count(MarkerResult.id))) or 0


def _fail(session, text: str, filename: str = "results.csv"):
    before = (_count(session), session.scalar(select(func.count(MarkerImportRun.id))))
    with pytest.raises(ImportFailed) as info:
        import_results(session, text.encode(), filename=filename)
    assert (_count(session), session.scalar(select(func.count(MarkerImportRun.id)))) == before
    return info.value.report


def test_long_file_imports_converts_and_keeps_original(session, catalogue, sampled, user) -> None:
    _, acc = sampled()
    text = HEADER + "\n".join([
        f"{acc['CTDNA_PLASMA']},CTDNA_VAF,0.35,%,,R1,B1,P1,2025-03-01,ana,",
        f"{acc['SERUM']},IL6,0.004,ng/mL,,R1,B1,P1,2025-03-01,ana,no",
        f"{acc['SERUM_2']},il6,,pg/mL,<LOD,R1,B1,P1,2025-03-01,ana,",
        f"{acc['FFPE']},PDL1_CPS,12,score,,R2,,,,bo,",
    ]) + "\n"
    report = import_results(session, text.encode(), filename="lab.csv", by=user("data_manager"))
    assert report.ok and report.results == 4 and report.converted == 1 and report.qualified == 1
    rows = {r.marker.code + r.sample_id.__str__(): r for r in session.scalars(select(MarkerResult))}
    il6 = next(r for r in rows.values() if r.marker.code == "IL6" and r.value is not None)
    assert il6.value == pytest.approx(4.0) and il6.original_value == pytest.approx(0.004)
    assert il6.original_unit == "ng/mL" and il6.assay_date == date(2025, 3, 1) and il6.run_id == "R1"
    lod = next(r for r in rows.values() if r.qualifier == "<LOD")
    assert lod.value is None and lod.replicate == 1 and not lod.remeasurement
    run = session.get(MarkerImportRun, report.import_id)
    assert run.results == 4 and len(run.sha256) == 64 and run.by_id == user("data_manager").id


def test_wide_csv_and_xlsx_panels(session, catalogue, sampled) -> None:
    _, a = sampled()
    _, b = sampled()
    frame = pd.DataFrame({"accession": [a["SERUM"], b["SERUM"].replace("-", "")],
                          "IL6 [ng/L]": ["3.5", "<LOD"], "run_id": ["W1", "W1"]})
    report = import_results(session, frame.to_csv(index=False).encode(), filename="panel.csv")
    assert report.layout == "wide" and report.results == 2 and report.qualified == 1
    buffer = io.BytesIO()
    pd.DataFrame({"sample": [a["CTDNA_PLASMA"]], "CTDNA_VAF": [0.5]}).to_excel(buffer, index=False)
    report = import_results(session, buffer.getvalue(), filename="panel.xlsx")
    assert report.layout == "wide" and report.results == 1
    values = sorted(r.value for r in session.scalars(select(MarkerResult)) if r.value is not None)
    assert values == [pytest.approx(0.5), pytest.approx(3.5)]


def test_remeasurements_in_file_and_against_stored(session, catalogue, sampled) -> None:
    _, acc = sampled()
    s = acc["SERUM"]
    import_results(session, (HEADER + f"{s},IL6,5,pg/mL,,R1,,,,,\n").encode())
    report = _fail(session, HEADER + f"{s},IL6,6,pg/mL,,R2,,,,,\n")
    assert "already has a stored result" in report.problems[0].reason and report.problems[0].row == 2
    report = import_results(session,
                            (HEADER + f"{s},IL6,6,pg/mL,,R2,,,,,yes\n{s},IL6,7,pg/mL,,R3,,,,,yes\n").encode())
    assert report.remeasurements == 2
    replicates = sorted(r.replicate for r in session.scalars(select(MarkerResult)))
    assert replicates == [1, 2, 3]


@pytest.mark.parametrize(("line", "column", "reason"), [
    ("{serum},NOPE,1,pg/mL,,,,,,,", "marker", "no such marker"),
    ("TB-9999999-0,IL6,1,pg/mL,,,,,,,", "sample", "malformed accession"),
    ("{unknown},IL6,1,pg/mL,,,,,,,", "sample", "no sample"),
    ("{serum},IL6,1,cells/mm2,,,,,,,", "unit", "does not convert"),
    ("{serum},IL6,1,furlongs,,,,,,,", "unit", "does not convert"),
    ("{serum},IL6,one,pg/mL,,,,,,,", "value", "not a number"),
    ("{serum},IL6,,pg/mL,,,,,,,", "value", "no value and no qualifier"),
    ("{serum},IL6,3,pg/mL,NA,,,,,,", "value", "qualifier NA"),
    ("{serum},IL6,3,pg/mL,<LOQ,,,,,,", "qualifier", "qualifier must be"),
    ("{serum},IL6,3,pg/mL,,,,,03/01/2025,,", "assay_date", "not a date"),
    ("{serum},IL6,3,pg/mL,,,,,,,maybe", "remeasurement", "yes or no"),
    ("{serum},IL6,3,pg/mL,,,,,,,yes", "remeasurement", "no earlier result"),
    ("{plasma},IL6,3,pg/mL,,,,,,,", "sample", "is measured on SERUM"),
    ("{serum},IL6,3,pg/mL,,,,,,,\n{serum},IL6,4,pg/mL,,,,,,,", "sample", "duplicate of row 3"),
])
def test_every_bad_input_is_reported_and_nothing_written(session, catalogue, sampled, line, column,
                                                         reason) -> None:
    from lims.samples.accession import make_accession

    _, acc = sampled()
    import_results(session, (HEADER + f"{acc['CTDNA_PLASMA']},CTDNA_VAF,0.2,%,,,,,,,\n").encode())
    good = f"{acc['SERUM_2']},IL6,2,pg/mL,,,,,,,\n"
    text = HEADER + good + line.format(serum=acc["SERUM"], plasma=acc["CTDNA_PLASMA_2"],
                                       unknown=make_accession(9_999_001)) + "\n"
    report = _fail(session, text)
    problem = report.problems[-1]
    assert problem.column == column and reason in problem.reason, problem
    assert problem.row >= 3 and problem.file == "results.csv"
    assert report.to_dict()["ok"] is False


@pytest.mark.parametrize(("line", "rule"), [
    ("{serum},NOPE,1,pg/mL,,,,,,,", "marker-in-catalogue"),
    ("TB-9999999-0,IL6,1,pg/mL,,,,,,,", "sample-exists"),
    ("{serum},IL6,1,furlongs,,,,,,,", "unit-converts"),
    ("{serum},IL6,one,pg/mL,,,,,,,", "value-number"),
    ("{serum},IL6,inf,pg/mL,,,,,,,", "value-finite"),
    ("{serum},IL6,1e308,ng/mL,,,,,,,", "value-converts"),
    ("{serum},IL6,,pg/mL,,,,,,,", "value-or-qualifier"),
    ("{serum},IL6,3,pg/mL,NA,,,,,,", "qualifier-na-empty"),
    ("{serum},IL6,3,pg/mL,<LOQ,,,,,,", "qualifier-spelling"),
    ("{serum},IL6,3,pg/mL,,,,,03/01/2025,,", "assay-date"),
    ("{serum},IL6,3,pg/mL,,,,,,,maybe", "remeasurement-yes-no"),
    ("{serum},IL6,3,pg/mL,,,,,,,yes", "remeasurement-of-something"),
    ("{serum},IL6,3,pg/mL,," + "x" * 61 + ",,,,,", "run_id-length"),
    ("{plasma},IL6,3,pg/mL,,,,,,,", "marker-specimen-type"),
    ("{serum},IL6,3,pg/mL,,,,,,,\n{serum},IL6,4,pg/mL,,,,,,,", "duplicate-in-file"),
])
def test_each_problem_names_the_rule_that_refused_the_row(session, catalogue, sampled, line, rule) -> None:
    from lims.markers.schemas import ImportReportSchema

    _, acc = sampled()
    text = HEADER + line.format(serum=acc["SERUM"], plasma=acc["CTDNA_PLASMA"]) + "\n"
    report = _fail(session, text)
    assert [p.rule for p in report.problems] == [rule], report.problems
    assert ImportReportSchema().dump(report)["problems"][0]["rule"] == rule  # the API and the pages show it


def test_the_row_rules_are_named_once_and_say_what_they_check() -> None:
    from lims.markers.rules import FILE_RULES, ROW_RULES

    names = [r.name for r in (*ROW_RULES, *FILE_RULES)]
    assert len(names) == len(set(names))
    assert all(r.column and r.checks for r in (*ROW_RULES, *FILE_RULES))


def test_consent_withdrawn_or_out_of_scope_is_refused(session, catalogue, sampled) -> None:
    p, acc = sampled()
    q, acc_q = sampled()
    p.consent.withdrawn_on = date(2025, 6, 1)
    next(s for s in q.consent.scopes if s.scope == "MARKER_RESEARCH").granted = False
    session.flush()
    report = _fail(session,
                   HEADER + f"{acc['SERUM']},IL6,1,pg/mL,,,,,,,\n{acc_q['SERUM']},IL6,1,pg/mL,,,,,,,\n")
    reasons = [x.reason for x in report.problems]
    assert any("withdrawn consent" in r for r in reasons)
    assert any("does not cover marker research" in r for r in reasons)


def test_structural_problems(session, catalogue, sampled) -> None:
    assert "empty" in _fail(session, "").problems[0].reason
    assert "missing column" in _fail(session, "sample,marker,value\nx,y,1\n").problems[0].reason
    assert "no sample column" in _fail(session, "who,IL6\nx,1\n").problems[0].reason
    wide = _fail(session, "sample,IL6 [kg]\nTB-0000001-X,3\n")
    assert {p.column for p in wide.problems} >= {"sample", "IL6 [kg]"}


def test_an_import_changes_the_marker_version_so_cached_values_follow(session, study, catalogue,
                                                                      sampled) -> None:
    from lims.core import versions
    from lims.results.data import marker_values

    p, acc = sampled()
    before = versions.current(session, "clinical", "markers")
    assert p.code not in set(marker_values(session, study)["participant_id"])
    # The rows go in with the DB-API cursor (executemany, COPY), round the session's own write tracking.
    import_results(session, (HEADER + f"{acc['SERUM']},IL6,5,pg/mL,,R1,,,,,\n").encode())
    after = versions.current(session, "clinical", "markers")
    assert after[0] == before[0] and after[1] != before[1]
    values = marker_values(session, study)
    assert values[values["participant_id"] == p.code]["marker"].tolist() == ["IL6"]
