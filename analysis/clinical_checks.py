"""Consistency checks on the clinical tables, shared by the importer and the endpoint derivations.

``check_consistency(tables)`` never raises on bad data: it returns one ``Problem`` per finding so the importer
can show them row by row. Checks: unknown participants, duplicates in one-row-per-participant tables, values
outside the vocabularies, dates before enrolment (and disease events before randomisation), anything dated
after death, last alive before last disease assessment, disease events after the last disease assessment,
missing censoring dates, pathology without a resection, allocation inconsistent with CRE1, salvage facts on a
non-regrowth event, CREs showing distant disease or regrowth without a disease event, and (optionally) a
missing CRE1.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analysis.clinical_tables import (
    CRE_OVERALL,
    EVENT_TYPES,
    INTENTS,
    R_STATUSES,
    RANDOMISED_STRATA,
    RESECTED_R_STATUSES,
    STRATA,
    normalise_tables,
)


@dataclass(frozen=True)
class Problem:
    """One inconsistency found in the clinical tables."""

    table: str
    participant_id: str | None
    field: str
    value: object
    reason: str


_VOCABULARIES = {
    ("allocation", "stratum"): STRATA,
    ("cre", "overall"): CRE_OVERALL,
    ("surgery", "intent"): INTENTS,
    ("surgery", "r_status"): R_STATUSES,
    ("disease_events", "type"): EVENT_TYPES,
    ("disease_events", "salvage_r_status"): R_STATUSES,
    ("disease_events", "site"): ("local", "regional", "distant"),
}
_REQUIRED_VALUES = (
    ("participants", "enrol_date"),
    ("allocation", "stratum"),
    ("cre", "seq"),
    ("cre", "date"),
    ("cre", "overall"),
    ("surgery", "date"),
    ("surgery", "intent"),
    ("surgery", "r_status"),
    ("disease_events", "date"),
    ("disease_events", "type"),
    ("deaths", "date"),
)
_ONE_ROW_TABLES = ("participants", "treatment", "allocation", "deaths", "last_contact")
# Records that show the participant alive (and so cannot follow death).
_DATED_RECORDS = (
    ("treatment", "rt_start"),
    ("allocation", "rand_date"),
    ("cre", "date"),
    ("surgery", "date"),
    ("disease_events", "date"),
    ("disease_events", "salvage_surgery_date"),
    ("adverse_events", "onset_date"),
    ("qol_responses", "date"),
    ("last_contact", "last_alive_date"),
    ("last_contact", "last_disease_assessment_date"),
)


def _text(value: object) -> str:
    """Return value as text, '' for NA, so comparisons never meet pd.NA."""
    return "" if value is None or pd.isna(value) else str(value)


def _value(value: object) -> object:
    return value.date() if isinstance(value, pd.Timestamp) else value


def _compare(
    t: dict[str, pd.DataFrame], table: str, column: str, ref: pd.Series, later: bool, reason: str
) -> list[Problem]:
    """Report rows dated before (later=False) or after (later=True) the participant's reference date."""
    frame = t[table]
    dates = frame[column]
    refs = frame["participant_id"].map(ref)
    bad = (dates > refs) if later else (dates < refs)
    return [
        Problem(table, pid, column, _value(value), reason)
        for pid, value in zip(frame.loc[bad, "participant_id"], dates[bad], strict=True)
    ]


def check_consistency(tables: dict[str, pd.DataFrame], expect_cre1: bool = False) -> list[Problem]:
    """Return the inconsistencies found in the clinical tables (empty if none)."""
    t = normalise_tables(tables)
    problems: list[Problem] = []
    participants = t["participants"]
    known = set(participants["participant_id"].dropna())
    for table in ("participants", *(name for name in t if name != "participants")):
        frame = t[table]
        if not isinstance(frame, pd.DataFrame) or "participant_id" not in frame.columns:
            continue
        if table != "participants":
            for pid in frame.loc[~frame["participant_id"].isin(known), "participant_id"].unique():
                problems.append(Problem(table, pid, "participant_id", pid, "participant not in participants"))
        if table in _ONE_ROW_TABLES:
            for pid in frame.loc[frame["participant_id"].duplicated(), "participant_id"].unique():
                problems.append(
                    Problem(table, pid, "participant_id", pid, "more than one row for participant")
                )
    for (table, column), allowed in _VOCABULARIES.items():
        frame = t[table]
        bad = frame[column].notna() & ~frame[column].isin(allowed)
        for pid, value in zip(frame.loc[bad, "participant_id"], frame.loc[bad, column], strict=True):
            problems.append(Problem(table, pid, column, value, f"not one of {', '.join(allowed)}"))
    for table, column in _REQUIRED_VALUES:
        frame = t[table]
        for pid in frame.loc[frame[column].isna(), "participant_id"]:
            problems.append(Problem(table, pid, column, None, "missing value"))

    enrol = participants.drop_duplicates("participant_id").set_index("participant_id")["enrol_date"]
    death = t["deaths"].drop_duplicates("participant_id").set_index("participant_id")["date"]
    for table, column in _DATED_RECORDS:
        if table != "qol_responses":  # baseline questionnaires may precede enrolment
            problems += _compare(t, table, column, enrol, False, "date before enrolment")
        problems += _compare(t, table, column, death, True, "date after death")
    problems += _compare(t, "deaths", "date", enrol, False, "date before enrolment")

    allocation = t["allocation"].drop_duplicates("participant_id").set_index("participant_id")
    problems += _compare(
        t, "disease_events", "date", allocation["rand_date"], False, "disease event before randomisation"
    )
    contact = t["last_contact"].drop_duplicates("participant_id").set_index("participant_id")
    for column in ("last_alive_date", "last_disease_assessment_date"):
        problems += _compare(
            t, "last_contact", column, allocation["rand_date"], False, "censoring date before randomisation"
        )
    problems += _compare(
        t,
        "disease_events",
        "date",
        contact["last_disease_assessment_date"],
        True,
        "disease event after the last disease assessment",
    )
    alive_early = contact["last_alive_date"] < contact["last_disease_assessment_date"]
    for pid, value in contact.loc[alive_early, "last_alive_date"].items():
        problems.append(
            Problem(
                "last_contact",
                pid,
                "last_alive_date",
                _value(value),
                "last alive before last disease assessment",
            )
        )
    for column in ("last_alive_date", "last_disease_assessment_date"):
        for pid in sorted(known - set(contact.index[contact[column].notna()])):
            problems.append(Problem("last_contact", pid, column, None, "missing censoring date"))

    problems += _check_pathology(t)
    problems += _check_allocation(t, allocation, expect_cre1)
    problems += _check_events_vs_cre(t, allocation)
    return problems


def _check_pathology(t: dict[str, pd.DataFrame]) -> list[Problem]:
    surgery = t["surgery"]
    resected = surgery[surgery["r_status"].isin(RESECTED_R_STATUSES)]
    problems = []
    for _, row in t["pathology"].iterrows():
        own = resected[resected["participant_id"] == row["participant_id"]]
        if own.empty:
            problems.append(
                Problem(
                    "pathology",
                    row["participant_id"],
                    "participant_id",
                    row["participant_id"],
                    "pathology without a resection",
                )
            )
        elif pd.notna(row["surgery_date"]) and not (own["date"] == row["surgery_date"]).any():
            problems.append(
                Problem(
                    "pathology",
                    row["participant_id"],
                    "surgery_date",
                    _value(row["surgery_date"]),
                    "no resection on this date",
                )
            )
        pct = row["viable_pct"]
        if pd.notna(pct) and not 0 <= float(pct) <= 100:
            problems.append(
                Problem("pathology", row["participant_id"], "viable_pct", pct, "not within 0-100")
            )
    ev = t["disease_events"]
    salvage_on_other = (ev["type"] != "LOCAL_REGROWTH") & (
        ev["salvage_surgery_date"].notna() | ev["salvage_r_status"].notna()
    )
    for pid, kind in zip(
        ev.loc[salvage_on_other, "participant_id"], ev.loc[salvage_on_other, "type"], strict=True
    ):
        problems.append(
            Problem(
                "disease_events",
                pid,
                "salvage_r_status",
                kind,
                "salvage surgery recorded on an event that is not a local regrowth",
            )
        )
    return problems


def _check_allocation(
    t: dict[str, pd.DataFrame], allocation: pd.DataFrame, expect_cre1: bool
) -> list[Problem]:
    cre = t["cre"]
    cre1 = (
        cre[cre["seq"].eq(1).fillna(False).astype(bool)]
        .drop_duplicates("participant_id")
        .set_index("participant_id")
    )
    problems = []
    for pid, row in allocation.iterrows():
        randomised = _text(row["stratum"]) in RANDOMISED_STRATA
        if randomised and pd.isna(row["rand_date"]):
            problems.append(
                Problem("allocation", pid, "rand_date", None, "randomised stratum without a date")
            )
        if not randomised and pd.notna(row["rand_date"]):
            problems.append(
                Problem(
                    "allocation",
                    pid,
                    "rand_date",
                    _value(row["rand_date"]),
                    "randomisation date outside the cCR strata",
                )
            )
        overall = _text(cre1["overall"].get(pid))
        if overall in ("cCR", "local", "regional", "distant") and randomised != (overall == "cCR"):
            problems.append(
                Problem(
                    "allocation",
                    pid,
                    "stratum",
                    row["stratum"],
                    f"stratum does not match CRE1 result {overall}",
                )
            )
    if expect_cre1:
        for pid in t["participants"]["participant_id"]:
            if pid not in cre1.index:
                problems.append(Problem("cre", pid, "seq", 1, "CRE1 missing"))
    return problems


def _check_events_vs_cre(t: dict[str, pd.DataFrame], allocation: pd.DataFrame) -> list[Problem]:
    """Report CREs showing disease that no disease event explains (events alone drive the endpoints)."""
    ev = t["disease_events"]
    problems = []
    for _, row in t["cre"].iterrows():
        pid, overall, date = row["participant_id"], _text(row["overall"]), row["date"]
        own = ev[(ev["participant_id"] == pid) & (ev["date"] <= date)]
        if overall == "distant" and not own["type"].isin(["DISTANT", "PROGRESSION_PRECLUDING_SURGERY"]).any():
            problems.append(
                Problem("cre", pid, "overall", overall, "distant disease without a disease event")
            )
        watch = _text(allocation["stratum"].get(pid)) == "CCR_WW" and _text(row["seq"]) != "1"
        if watch and overall in ("local", "regional") and own.empty:
            problems.append(
                Problem(
                    "cre", pid, "overall", overall, "disease on a watch-and-wait CRE without a disease event"
                )
            )
    return problems
