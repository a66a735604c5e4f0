"""Clinical imports: Trialbank per-table CSVs and REDCap flat exports, valid and broken."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from lims.clinical import redcap
from lims.clinical.csvfiles import parse_date
from lims.clinical.importer import import_tables
from lims.clinical.models import CRE, AdverseEvent, Allocation, ClinicalChange, ImportRun, Treatment

ENROL = date(2025, 1, 6)


@pytest.fixture()
def people(make_participant):
    return [make_participant(code="ZJ-801", enrolled_on=ENROL),
            make_participant(code="ZJ-802", enrolled_on=ENROL)]


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def _problems(report) -> set[tuple]:
    return {(i.file, i.row, i.field, i.reason) for i in report.problems}


TREATMENT = b"participant_id,rt_start,rt_end,rt_dose_gy,rt_fractions\nZJ-801,2025-01-13,2025-02-14,41.4,23\n"
CRE_FILE = b"participant_id,seq,date,overall\nZJ-801,1,2025-03-20,cCR\nZJ-802,1,2025-03-21,local\n"


def test_tables_import_inserts_then_changes_nothing(session, study, people, user):
    report = import_tables(session, study, {"treatment.csv": TREATMENT, "cre.csv": CRE_FILE},
                           by=user("data_manager"))
    assert report.applied and report.problems == []
    assert (report.inserted, report.updated) == (3, 0)
    assert people[0].rt_start_on == date(2025, 1, 13) and people[0].cre1_on == date(2025, 3, 20)
    run = session.get(ImportRun, report.run_id)
    assert run.by.username == "data_manager" and run.format == "tables"

    again = import_tables(session, study, {"treatment.csv": TREATMENT, "cre.csv": CRE_FILE},
                          by=user("data_manager"))
    assert again.applied and (again.inserted, again.updated, again.unchanged, again.changes) == (0, 0, 3, 0)
    assert _count(session, ImportRun) == 1


def test_corrected_file_updates_only_what_changed_and_keeps_the_old_value(session, study, people, user):
    import_tables(session, study, {"cre.csv": CRE_FILE}, by=user("data_manager"))
    corrected = CRE_FILE.replace(b"ZJ-802,1,2025-03-21,local", b"ZJ-802,1,2025-03-22,regional")
    report = import_tables(session, study, {"cre.csv": corrected}, by=user("admin"))
    assert (report.inserted, report.updated, report.unchanged) == (0, 1, 1)
    changes = session.scalars(select(ClinicalChange).where(ClinicalChange.import_run_id == report.run_id)
                              .order_by(ClinicalChange.field)).all()
    assert [(c.table, c.record_key, c.field, c.old_value, c.new_value) for c in changes] == [
        ("cre", "seq=1", "date", "2025-03-21", "2025-03-22"),
        ("cre", "seq=1", "overall", "local", "regional"),
    ]
    assert changes[0].import_run.by.username == "admin" and changes[0].import_run.at is not None
    assert session.scalar(select(CRE.overall).where(CRE.participant_id == people[1].id)) == "regional"


def test_awkward_but_valid_files(session, study, people, user):
    # UTF-8 with BOM, semicolons with decimal commas, several date formats, empty trailing rows.
    treatment = ("\ufeffparticipant_id;rt_start;rt_end;rt_dose_gy\nZJ-801;13/01/2025;14.02.2025;41,4\n"
                 "ZJ-802;20250113;14-Feb-2025;39,6\n;;;\n\n").encode("utf-8")
    # Latin-1 with an accented term.
    ae = "participant_id,term,grade,onset_date\nZJ-801,Œsophagite radique,2,2025-02-01\n".encode("cp1252")
    report = import_tables(session, study, {"treatment.csv": treatment, "adverse_events.csv": ae},
                           by=user("data_manager"))
    assert report.problems == [] and report.applied
    doses = dict(session.execute(select(Treatment.participant_id, Treatment.rt_dose_gy)).all())
    assert doses == {people[0].id: 41.4, people[1].id: 39.6}
    assert session.scalar(select(Treatment.rt_end)
                          .where(Treatment.participant_id == people[1].id)) == date(2025, 2, 14)
    assert session.scalar(select(AdverseEvent.term)) == "Œsophagite radique"


def test_every_problem_is_reported_and_nothing_written(session, study, people, user):
    files = {
        "cre.csv": b"participant_id,seq,date,overall,colour\nZJ-801,1,2025-13-45,cCR,red\n"
                   b"XX-999,1,2025-03-01,cCR,\nZJ-802,1,2024-12-01,maybe,\n",
        "deaths.csv": b"participant_id,date\nZJ-801,2025-02-01\n",
        "disease_events.csv": b"participant_id,date,type\nZJ-801,2025-05-01,DISTANT\n",
        "pathology.csv": b"participant_id,ypt,ypn\nZJ-802,ypT0,ypN0\n",
    }
    report = import_tables(session, study, files, by=user("data_manager"))
    assert not report.applied
    problems = _problems(report)
    assert ("cre.csv", 1, "colour", "unknown column for table cre") in problems
    assert ("cre.csv", 2, "date", "not a date (use YYYY-MM-DD)") in problems
    assert ("cre.csv", 3, "participant_id", "unknown participant in this study") in problems
    assert any(p[:3] == ("cre.csv", 4, "overall") and p[3].startswith("not one of cCR") for p in problems)
    assert _count(session, CRE) == _count(session, ImportRun) == 0

    # Without the parsing errors the consistency rules speak: before enrolment, after death, no resection.
    files["cre.csv"] = b"participant_id,seq,date,overall\nZJ-802,1,2024-12-01,local\n"
    report = import_tables(session, study, files, by=user("data_manager"))
    reasons = {(i.file, i.row, i.field, i.reason) for i in report.problems}
    assert ("cre.csv", 2, "date", "cre: date before enrolment") in reasons
    assert ("disease_events.csv", 2, "date", "disease_events: date after death") in reasons
    assert ("pathology.csv", 2, "participant_id", "pathology: pathology without a resection") in reasons
    assert not report.applied and _count(session, CRE) == 0


def test_duplicate_records_and_unknown_tables(session, study, people, user):
    report = import_tables(session, study, {
        "cre.csv": CRE_FILE + b"ZJ-801,1,2025-03-25,cCR\n", "labs.csv": b"participant_id,nlr\nZJ-801,2\n",
        "allocation.csv": b"participant_id,rand_date\nZJ-801,2025-03-30\n"}, by=user("data_manager"))
    problems = _problems(report)
    assert ("cre.csv", 4, "seq", "same cre record as cre.csv row 2") in problems
    assert any(p[0] == "labs.csv" and p[3].startswith("unknown table") for p in problems)
    assert ("allocation.csv", 1, "stratum", "required column missing from table allocation") in problems


def test_dates_in_several_formats():
    assert parse_date("2025-01-31") == parse_date("31/01/2025") == parse_date("31.01.2025") == date(
        2025, 1, 31)
    assert parse_date("01/31/2025", day_first=False) == parse_date("2025-01-31 10:30") == date(2025, 1, 31)
    with pytest.raises(ValueError, match="not a date"):
        parse_date("31/31/2025")


# ----- REDCap -----------------------------------------------------------------------------------------------
HEADER = (
    "record_id,redcap_event_name,redcap_repeat_instrument,redcap_repeat_instance,rand_stratum,rand_date,"
          "cre_date,cre_overall,ev_date,ev_type,ev_proof___1,ev_proof___2,ev_proof___3,form_1_complete\n")


def _redcap(*rows: str) -> bytes:
    return (HEADER + "".join(r + "\n" for r in rows)).encode()


def test_redcap_import_with_events_repeats_codes_and_checkboxes(session, study, people, user):
    data = _redcap(
        "ZJ-801,study_arm_1,,,3,2025-03-30,,,,,,,,2",
        "ZJ-801,cre1_arm_1,,,,,2025-03-20,1,,,,,,2",
        "ZJ-801,cre2_arm_1,,,,,2025-06-20,2,,,,,,2",
        "ZJ-801,study_arm_1,disease_event,1,,,,,2025-06-20,1,1,0,0,2",
    )
    people[0].eot_on = date(2025, 2, 14)
    report = redcap.import_redcap(session, study, "export.csv", data, by=user("data_manager"))
    assert report.problems == [] and report.applied, report.problems
    allocation = session.scalar(select(Allocation))
    assert (allocation.stratum, allocation.rand_date) == ("CCR_WW", date(2025, 3, 30))
    assert session.scalars(select(CRE.overall).order_by(CRE.seq)).all() == ["cCR", "local"]
    assert people[0].stratum == "CCR_WW" and people[0].randomised_on == date(2025, 3, 30)
    assert {v.timepoint.code for v in people[0].visits} >= {"CRE2", "CRE3"}  # W&W surveillance planned


def test_broken_redcap_files_are_reported_row_by_row(session, study, people, user):
    data = _redcap(
        "ZJ-801,study_arm_1,,,7,2025-03-30,,,,,,,,2",
        "ZJ-801,cre1_arm_1,,,,,20/03/2025,1,,,,,,2",
        "ZJ-801,week_99_arm_1,,,,,2025-03-20,1,,,,,,2",
        "ZJ-801,study_arm_1,disease_event,1,,,,,2025-06-20,1,1,0,1,2",
        "NB-404,cre1_arm_1,,,,,2025-03-20,1,,,,,,2",
        "ZJ-801,study_arm_1,lab_results,1,,,,,,,,,,2",
    ).replace(b"form_1_complete", b"mystery")
    report = redcap.import_redcap(session, study, "export.csv", data, by=user("data_manager"))
    problems = _problems(report)
    assert ("export.csv", 1, "mystery",
            "column not in the mapping (add it to the mapping or to ignore)") in problems
    assert any(p[:3] == ("export.csv", 2, "rand_stratum") and p[3].startswith("code not in the dictionary")
               for p in problems)
    assert ("export.csv", 4, "redcap_event_name", "event not in the mapping") in problems
    assert ("export.csv", 5, "ev_proof", "more than one option ticked for proof") in problems
    assert ("export.csv", 6, "record_id", "unknown participant in this study") in problems
    assert ("export.csv", 7, "redcap_repeat_instrument", "repeating form not in the mapping") in problems
    assert not report.applied and _count(session, CRE) == 0


def test_broken_mapping_is_reported(session, study, people, user):
    mapping = "events: {study_arm_1: null}\nforms:\n  - table: cre\n    fields: {date: cre_date, colour: x}\n"
    report = redcap.import_redcap(session, study, "export.csv", _redcap(), by=user("data_manager"),
                                  mapping_name="m.yaml", mapping_text=mapping)
    reasons = {(i.file, i.field, i.reason) for i in report.problems}
    assert ("m.yaml", "forms[0].fields.colour", "no attribute colour in cre") in reasons
    assert ("m.yaml", "forms[0].fields", "required attribute overall is not mapped") in reasons
    bad_yaml = redcap.import_redcap(session, study, "export.csv", _redcap(), by=user("data_manager"),
                                    mapping_text="events: [")
    assert bad_yaml.problems[0].reason.startswith("not valid YAML")
