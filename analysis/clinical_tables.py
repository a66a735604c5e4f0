"""Input contract for the outcome derivations: one plain pandas DataFrame per clinical table.

The endpoint, toxicity and QoL functions take ``tables: dict[str, DataFrame]`` keyed by the table names below.
``TABLES`` maps table -> column -> ``Column(dtype, description, required)`` so the importer and the data
dictionary of exports can reuse it. Conventions:

- ``participant_id`` is a string key present in every table; ``participants`` has one row per participant.
- Text columns come back as object dtype holding ``str`` or ``None``.
- ``date`` columns may hold datetime64, ``datetime.date`` or ISO strings; ``normalise_tables`` turns them into
  datetime64[ns] at midnight. A missing date is NaT.
- A missing table is an empty table; a missing optional column is all-NA; a missing required column raises.
- Vocabularies are in ``STRATA``, ``CRE_OVERALL``, ``EVENT_TYPES``, ``R_STATUSES`` and ``INTENTS``.

Tables (required columns first):

participants   participant_id, site, enrol_date (= T0_enrol) | consent_date, biobank_consent, sex, age, ecog,
               tumour_location, ct, cn, cm, stage
treatment      participant_id, rt_start (day 1) | rt_end (EOT), rt_dose_gy, rt_fractions
allocation     participant_id, stratum, rand_date (= T0_rand, NaT unless randomised) | actual_strategy,
               crossover
cre            participant_id, seq, date, overall | planned_date, in_window, endoscopy_histology,
               eus_suspicious_ln, fna_result, suvmax, distant_m
surgery        participant_id, date, intent, r_status | approach, clavien_dindo, death_90d
pathology      participant_id, ypt, ypn | surgery_date, specimen, ln_examined, ln_positive, viable_pct,
               trg_system, trg_grade
disease_events participant_id, date, type | proof, site, salvage_surgery_date, salvage_r_status
deaths         participant_id, date | cause
last_contact   participant_id, last_alive_date, last_disease_assessment_date
adverse_events participant_id, term, grade, onset_date | meddra_code, soc, end_date, serious, attribution_rt,
               attribution_chemo, attribution_camrelizumab, attribution_surgery, irae
qol_responses  participant_id, instrument, timepoint, item, value | date
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import pandas as pd


class Column(NamedTuple):
    """One column of the contract: pandas dtype (or 'date'), meaning, and whether it must be present."""

    dtype: str
    description: str
    required: bool = True


STRATA = ("NON_CCR_SURGERY", "CCR_SURGERY", "CCR_WW")
RANDOMISED_STRATA = ("CCR_SURGERY", "CCR_WW")
CRE_OVERALL = ("cCR", "local", "regional", "distant", "not_evaluable")
EVENT_TYPES = (
    "LOCAL_REGROWTH",
    "LOCAL_RECURRENCE",
    "REGIONAL",
    "DISTANT",
    "PROGRESSION_PRECLUDING_SURGERY",
    "SECOND_PRIMARY",
)
R_STATUSES = ("R0", "R1", "R2", "unresectable")
RESECTED_R_STATUSES = ("R0", "R1", "R2")
INTENTS = ("planned", "salvage")
FAILURE_SITES = ("local", "regional", "distant")

_PID = Column("string", "Participant identifier (trial number)")
_ATTRIBUTION = "string: unrelated|unlikely|possible|probable|definite"

TABLES: dict[str, dict[str, Column]] = {
    "participants": {
        "participant_id": Column("string", "Participant identifier, unique in this table"),
        "site": Column("string", "Enrolling site identifier"),
        "enrol_date": Column("date", "Enrolment date = T0_enrol"),
        "consent_date": Column("date", "Informed consent date", False),
        "biobank_consent": Column("boolean", "Consent to biobanking", False),
        "sex": Column("string", "M|F", False),
        "age": Column("Int64", "Age in years at enrolment", False),
        "ecog": Column("Int64", "ECOG performance status 0-4", False),
        "tumour_location": Column("string", "upper|middle|lower thoracic oesophagus", False),
        "ct": Column("string", "Clinical T (AJCC 8), e.g. cT3", False),
        "cn": Column("string", "Clinical N, e.g. cN1", False),
        "cm": Column("string", "Clinical M, e.g. cM0", False),
        "stage": Column("string", "AJCC 8 clinical stage group", False),
    },
    "treatment": {
        "participant_id": _PID,
        "rt_start": Column("date", "First radiotherapy fraction = study day 1"),
        "rt_end": Column("date", "Last radiotherapy fraction = end of treatment (EOT)", False),
        "rt_dose_gy": Column("float64", "Delivered dose, Gy", False),
        "rt_fractions": Column("Int64", "Delivered fractions", False),
    },
    "allocation": {
        "participant_id": _PID,
        "stratum": Column("string", "NON_CCR_SURGERY|CCR_SURGERY|CCR_WW"),
        "rand_date": Column("date", "Randomisation date = T0_rand; NaT unless cCR and randomised"),
        "actual_strategy": Column("string", "Strategy actually followed: surgery|watch_and_wait|none", False),
        "crossover": Column("boolean", "Actual strategy differs from the allocated one", False),
    },
    "cre": {
        "participant_id": _PID,
        "seq": Column("Int64", "Clinical response evaluation number 1..14 (CRE1 after nCRT)"),
        "date": Column("date", "Actual date of the evaluation"),
        "overall": Column("string", "cCR|local|regional|distant|not_evaluable"),
        "planned_date": Column("date", "Planned date from the schedule", False),
        "in_window": Column("boolean", "Actual date within the visit window", False),
        "endoscopy_histology": Column("string", "tumour|none|non_diagnostic", False),
        "eus_suspicious_ln": Column("boolean", "EUS shows a suspicious lymph node", False),
        "fna_result": Column("string", "malignant|benign|non_diagnostic|not_done", False),
        "suvmax": Column("float64", "PET-CT SUVmax of the primary", False),
        "distant_m": Column("boolean", "Distant metastasis on PET-CT/CT", False),
    },
    "surgery": {
        "participant_id": _PID,
        "date": Column("date", "Date of operation"),
        "intent": Column("string", "planned|salvage"),
        "r_status": Column("string", "R0|R1|R2|unresectable (explored, not resected)"),
        "approach": Column("string", "Surgical approach, e.g. McKeown|Ivor Lewis|MIE", False),
        "clavien_dindo": Column("string", "Worst Clavien-Dindo grade, e.g. IIIa", False),
        "death_90d": Column("boolean", "Death within 90 days of surgery", False),
    },
    "pathology": {
        "participant_id": _PID,
        "ypt": Column("string", "Pathological T after therapy, e.g. ypT0|ypTis|ypT1a|ypT3"),
        "ypn": Column("string", "Pathological N after therapy, e.g. ypN0|ypN1"),
        "surgery_date": Column("date", "Date of the operation the specimen comes from", False),
        "specimen": Column("string", "Specimen description", False),
        "ln_examined": Column("Int64", "Lymph nodes examined", False),
        "ln_positive": Column("Int64", "Lymph nodes with viable tumour", False),
        "viable_pct": Column("float64", "Percent viable tumour in the primary bed, 0-100", False),
        "trg_system": Column("string", "Mandard|Becker|CAP|Chirieac as recorded by the pathologist", False),
        "trg_grade": Column(
            "string", "Grade in that system: Mandard 1-5, Becker 1a|1b|2|3, CAP 0-3, Chirieac 1-4", False
        ),
    },
    "disease_events": {
        "participant_id": _PID,
        "date": Column("date", "Date of the first assessment showing the event"),
        "type": Column("string", "|".join(EVENT_TYPES)),
        "proof": Column("string", "histology|cytology|imaging", False),
        "site": Column("string", "local|regional|distant: site of a PROGRESSION_PRECLUDING_SURGERY", False),
        "salvage_surgery_date": Column("date", "Salvage operation for a LOCAL_REGROWTH", False),
        "salvage_r_status": Column("string", "R0|R1|R2|unresectable of that salvage operation", False),
    },
    "deaths": {
        "participant_id": _PID,
        "date": Column("date", "Date of death"),
        "cause": Column("string", "disease|treatment|other|unknown", False),
    },
    "last_contact": {
        "participant_id": _PID,
        "last_alive_date": Column("date", "Last date known alive (OS censoring)"),
        "last_disease_assessment_date": Column("date", "Last disease assessment (DFS/EFS censoring)"),
    },
    "adverse_events": {
        "participant_id": _PID,
        "term": Column("string", "CTCAE v5.0 term (MedDRA LLT)"),
        "grade": Column("Int64", "CTCAE grade 1-5"),
        "onset_date": Column("date", "Onset date"),
        "meddra_code": Column("string", "MedDRA code", False),
        "soc": Column("string", "MedDRA system organ class", False),
        "end_date": Column("date", "Resolution date; NaT if ongoing", False),
        "serious": Column("boolean", "Serious adverse event", False),
        "attribution_rt": Column("string", _ATTRIBUTION, False),
        "attribution_chemo": Column("string", _ATTRIBUTION, False),
        "attribution_camrelizumab": Column("string", _ATTRIBUTION, False),
        "attribution_surgery": Column("string", _ATTRIBUTION, False),
        "irae": Column("boolean", "Immune-related adverse event", False),
    },
    "qol_responses": {
        "participant_id": _PID,
        "instrument": Column("string", "QLQ-C30|FACT-E"),
        "timepoint": Column("string", "Schedule time point, e.g. baseline|EOT|CRE1"),
        "item": Column("string", "Item code: QLQ-C30 1..30 (or Q1..Q30); FACT-E GP1, HN1, E1, ..."),
        "value": Column("float64", "Raw response; NA = not answered"),
        "date": Column("date", "Date the questionnaire was completed", False),
    },
}


@dataclass(frozen=True)
class EndpointSettings:
    """Study conventions marked G in domain.md (and choices it leaves open), with their defaults."""

    dfs_variant: Literal["A", "B"] = "A"
    # DFS origin for derive(): "rand" gives DFS only to randomised cCR patients; "enrol" gives it to all.
    dfs_t0: Literal["rand", "enrol"] = "rand"
    simultaneous_days: int = 30
    acute_days: int = 90
    second_primary_is_event: bool = False
    # System used to derive TRG from % viable tumour when no grade was recorded.
    trg_system: Literal["Chirieac", "Becker"] = "Chirieac"
    c30_summary_min_scales: int = 13
    fact_subscale_min_fraction: float = 0.5
    fact_total_min_fraction: float = 0.8
    # DFS variant B: a salvage operation counts for a regrowth only within this many days of it (and before
    # the next regrowth); a regrowth left longer is unsalvaged and counts as an event at its date.
    salvage_window_days: int = 90

    def __post_init__(self) -> None:
        if self.dfs_variant not in ("A", "B"):
            raise ValueError(f"dfs_variant must be 'A' or 'B', not {self.dfs_variant!r}")
        if self.dfs_t0 not in ("rand", "enrol"):
            raise ValueError(f"dfs_t0 must be 'rand' or 'enrol', not {self.dfs_t0!r}")
        if self.trg_system not in ("Chirieac", "Becker"):
            raise ValueError(f"TRG can only be derived as Chirieac or Becker, not {self.trg_system!r}")
        if self.simultaneous_days < 0 or self.acute_days < 0 or self.salvage_window_days < 0:
            raise ValueError("simultaneous_days, acute_days and salvage_window_days must be >= 0")
        if not 1 <= self.c30_summary_min_scales <= 13:
            raise ValueError("c30_summary_min_scales must be 1..13")
        for name in ("fact_subscale_min_fraction", "fact_total_min_fraction"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1)")


def date_columns(table: str) -> list[str]:
    """Return the date columns of a contract table."""
    return [name for name, col in TABLES[table].items() if col.dtype == "date"]


def _coerce(values: pd.Series, dtype: str, table: str) -> pd.Series:
    """Return values in the contract dtype; a value that cannot be converted raises ValueError."""
    try:
        if dtype == "date":
            return pd.to_datetime(values.astype(object).where(values.notna(), None)).dt.normalize()
        if dtype in ("Int64", "float64"):
            return pd.to_numeric(values.astype(object).where(values.notna(), None)).astype(dtype)
        if dtype == "boolean":
            return values.astype(object).where(values.notna(), None).astype("boolean")
        # Plain objects, not pandas "string": comparisons with a missing value give False instead of NA.
        return values.astype(object).where(values.notna(), None).map(lambda v: v if v is None else str(v))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"table {table!r} column {values.name!r} is not {dtype}: {exc}") from exc


def normalise_table(table: str, frame: pd.DataFrame | None) -> pd.DataFrame:
    """Return a copy of one table with every contract column present, dates as midnight datetime64."""
    spec = TABLES[table]
    frame = pd.DataFrame(columns=list(spec)) if frame is None else frame.copy()
    missing = [name for name, col in spec.items() if col.required and name not in frame.columns]
    if missing and len(frame.columns) > 0:
        raise ValueError(f"table {table!r} lacks required column(s): {', '.join(missing)}")
    for name in spec:
        if name not in frame.columns:
            frame[name] = pd.NA
    for name, col in spec.items():
        frame[name] = _coerce(frame[name], col.dtype, table)
    return frame.reset_index(drop=True)


class NormalisedTables(dict):
    """Tables ``normalise_tables`` returned: normalising them again only copies them."""


def normalise_tables(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Return every contract table normalised; absent tables become empty ones, extra keys are kept.

    The derivations normalise what they are given, and ``derive`` hands each one tables it normalised already:
    those are copied, not converted again (the conversion is most of a derivation's time).
    """
    if isinstance(tables, NormalisedTables):
        return NormalisedTables({k: v.copy() if isinstance(v, pd.DataFrame) else v
                                 for k, v in tables.items()})
    out = NormalisedTables(tables)
    for table in TABLES:
        out[table] = normalise_table(table, tables.get(table))
    return out
