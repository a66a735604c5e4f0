"""Clinical records per participant, mirroring the table contract of ``analysis.clinical_tables``.

Each model's ``__tablename__`` is ``clinical_<contract table>`` and its attributes carry the contract's column
names (``participant_id`` is the participant's row id here, its code in the contract frames). ``KEYS`` names
the natural key of each table, used by imports to match a row of a file with a stored record. Imports write an
``ImportRun`` and one ``ClinicalChange`` per inserted record or changed value (old, new, who, when, which
run).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.accounts.models import User
from lims.core.db import Base, UTCDateTime, utcnow
from lims.participants.models import Participant
from lims.studies.models import Study

ATTRIBUTIONS = ("unrelated", "unlikely", "possible", "probable", "definite")
SUBSEQUENT_KINDS = ("salvage_surgery", "systemic_therapy", "supportive_care", "radiotherapy")
AGENTS = ("carboplatin", "paclitaxel", "camrelizumab")


def _in(column: str, values: tuple[str, ...], nullable: bool = True) -> str:
    listed = ", ".join(f"'{v}'" for v in values)
    return f"{column} IS NULL OR {column} IN ({listed})" if nullable else f"{column} IN ({listed})"


def _participant_fk() -> Mapped[int]:
    return mapped_column(ForeignKey("participant.id", ondelete="CASCADE"), index=True)


class Treatment(Base):
    """Radiotherapy of the neoadjuvant course: first fraction is study day 1, the last is EOT."""

    __tablename__ = "clinical_treatment"
    __table_args__ = (
        UniqueConstraint("participant_id"),
        CheckConstraint("rt_end IS NULL OR rt_end >= rt_start", name="rt_order"),
        CheckConstraint("rt_dose_gy IS NULL OR (rt_dose_gy >= 0 AND rt_dose_gy <= 100)", name="dose"),
        CheckConstraint("rt_fractions IS NULL OR (rt_fractions >= 0 AND rt_fractions <= 60)",
                        name="fractions"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = _participant_fk()
    rt_start: Mapped[dt.date] = mapped_column(Date)
    rt_end: Mapped[dt.date | None] = mapped_column(Date)
    rt_dose_gy: Mapped[float | None] = mapped_column(Float)
    rt_fractions: Mapped[int | None] = mapped_column(Integer)


class DrugDose(Base):
    """One planned dose of chemotherapy or camrelizumab, given or omitted."""

    __tablename__ = "clinical_drug_dose"
    __table_args__ = (
        UniqueConstraint("participant_id", "agent", "date"),
        CheckConstraint(_in("agent", AGENTS, nullable=False), name="agent"),
        CheckConstraint("phase IS NULL OR phase IN ('neoadjuvant', 'maintenance')", name="phase"),
        CheckConstraint("dose IS NULL OR dose >= 0", name="dose"),
        CheckConstraint("cycle IS NULL OR cycle >= 1", name="cycle"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = _participant_fk()
    agent: Mapped[str] = mapped_column(String(20))
    date: Mapped[dt.date] = mapped_column(Date)
    dose: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(10))
    omitted: Mapped[bool | None] = mapped_column(Boolean)
    cycle: Mapped[int | None] = mapped_column(Integer)
    phase: Mapped[str | None] = mapped_column(String(12))


class Allocation(Base):
    """Stratum after CRE1 and, for cCR patients, the randomisation date (T0_rand)."""

    __tablename__ = "clinical_allocation"
    __table_args__ = (
        UniqueConstraint("participant_id"),
        CheckConstraint(_in("stratum", ("NON_CCR_SURGERY", "CCR_SURGERY", "CCR_WW"), nullable=False),
                        name="stratum"),
        CheckConstraint(_in("actual_strategy", ("surgery", "watch_and_wait", "none")), name="strategy"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = _participant_fk()
    stratum: Mapped[str] = mapped_column(String(20))
    rand_date: Mapped[dt.date | None] = mapped_column(Date)
    actual_strategy: Mapped[str | None] = mapped_column(String(20))
    crossover: Mapped[bool | None] = mapped_column(Boolean)


class CRE(Base):
    """A clinical response evaluation: endoscopy with biopsies, EUS-FNA, PET-CT, and the overall result."""

    __tablename__ = "clinical_cre"
    __table_args__ = (
        UniqueConstraint("participant_id", "seq"),
        CheckConstraint("seq >= 1 AND seq <= 14", name="seq"),
        CheckConstraint(_in("overall", ("cCR", "local", "regional", "distant", "not_evaluable"),
                            nullable=False),
                        name="overall"),
        CheckConstraint(_in("endoscopy_histology", ("tumour", "none", "non_diagnostic")), name="histology"),
        CheckConstraint(_in("fna_result", ("malignant", "benign", "non_diagnostic", "not_done")), name="fna"),
        CheckConstraint("n_biopsies IS NULL OR n_biopsies >= 0", name="biopsies"),
        CheckConstraint("suvmax IS NULL OR suvmax >= 0", name="suvmax"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = _participant_fk()
    seq: Mapped[int] = mapped_column(Integer)
    date: Mapped[dt.date] = mapped_column(Date)
    overall: Mapped[str] = mapped_column(String(20))
    planned_date: Mapped[dt.date | None] = mapped_column(Date)
    in_window: Mapped[bool | None] = mapped_column(Boolean)
    n_biopsies: Mapped[int | None] = mapped_column(Integer)
    bite_on_bite: Mapped[bool | None] = mapped_column(Boolean)
    endoscopy_histology: Mapped[str | None] = mapped_column(String(20))
    eus_suspicious_ln: Mapped[bool | None] = mapped_column(Boolean)
    fna_result: Mapped[str | None] = mapped_column(String(20))
    suvmax: Mapped[float | None] = mapped_column(Float)
    distant_m: Mapped[bool | None] = mapped_column(Boolean)


class Surgery(Base):
    """An oesophagectomy (or exploration), planned after CRE1 or salvage after a regrowth."""

    __tablename__ = "clinical_surgery"
    __table_args__ = (
        UniqueConstraint("participant_id", "date"),
        CheckConstraint(_in("intent", ("planned", "salvage"), nullable=False), name="intent"),
        CheckConstraint(_in("r_status", ("R0", "R1", "R2", "unresectable"), nullable=False), name="r_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = _participant_fk()
    date: Mapped[dt.date] = mapped_column(Date)
    intent: Mapped[str] = mapped_column(String(10))
    r_status: Mapped[str] = mapped_column(String(12))
    approach: Mapped[str | None] = mapped_column(String(40))
    clavien_dindo: Mapped[str | None] = mapped_column(String(5))
    death_90d: Mapped[bool | None] = mapped_column(Boolean)


class Pathology(Base):
    """Pathology of a resection specimen; pCR, MPR and a missing TRG are derived, never stored."""

    __tablename__ = "clinical_pathology"
    __table_args__ = (
        UniqueConstraint("participant_id", "surgery_date"),
        CheckConstraint("viable_pct IS NULL OR (viable_pct >= 0 AND viable_pct <= 100)", name="viable_pct"),
        CheckConstraint("ln_examined IS NULL OR ln_examined >= 0", name="ln_examined"),
        CheckConstraint("ln_positive IS NULL OR (ln_positive >= 0 AND (ln_examined IS NULL "
                        "OR ln_positive <= ln_examined))", name="ln_positive"),
        CheckConstraint(_in("trg_system", ("Mandard", "Becker", "CAP", "Chirieac")), name="trg_system"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = _participant_fk()
    surgery_date: Mapped[dt.date | None] = mapped_column(Date)
    specimen: Mapped[str | None] = mapped_column(String(100))
    ypt: Mapped[str] = mapped_column(String(10))
    ypn: Mapped[str] = mapped_column(String(10))
    ln_examined: Mapped[int | None] = mapped_column(Integer)
    ln_positive: Mapped[int | None] = mapped_column(Integer)
    viable_pct: Mapped[float | None] = mapped_column(Float)
    trg_system: Mapped[str | None] = mapped_column(String(10))
    trg_grade: Mapped[str | None] = mapped_column(String(4))


class DiseaseEvent(Base):
    """Regrowth, recurrence, progression or second primary, dated at the first assessment showing it."""

    __tablename__ = "clinical_disease_event"
    __table_args__ = (
        UniqueConstraint("participant_id", "type", "date"),
        CheckConstraint(_in("type", ("LOCAL_REGROWTH", "LOCAL_RECURRENCE", "REGIONAL", "DISTANT",
                                     "PROGRESSION_PRECLUDING_SURGERY", "SECOND_PRIMARY"), nullable=False),
                        name="type"),
        CheckConstraint(_in("proof", ("histology", "cytology", "imaging")), name="proof"),
        CheckConstraint(_in("site", ("local", "regional", "distant")), name="site"),
        CheckConstraint(_in("salvage_r_status", ("R0", "R1", "R2", "unresectable")), name="salvage_r_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = _participant_fk()
    date: Mapped[dt.date] = mapped_column(Date)
    type: Mapped[str] = mapped_column(String(40))
    proof: Mapped[str | None] = mapped_column(String(12))
    site: Mapped[str | None] = mapped_column(String(10))
    salvage_surgery_date: Mapped[dt.date | None] = mapped_column(Date)
    salvage_r_status: Mapped[str | None] = mapped_column(String(12))


class Death(Base):
    __tablename__ = "clinical_death"
    __table_args__ = (
        UniqueConstraint("participant_id"),
        CheckConstraint(_in("cause", ("disease", "treatment", "other", "unknown")), name="cause"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = _participant_fk()
    date: Mapped[dt.date] = mapped_column(Date)
    cause: Mapped[str | None] = mapped_column(String(10))


class LastContact(Base):
    """Censoring dates: last known alive (OS) and last disease assessment (DFS, EFS)."""

    __tablename__ = "clinical_last_contact"
    __table_args__ = (UniqueConstraint("participant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = _participant_fk()
    last_alive_date: Mapped[dt.date] = mapped_column(Date)
    last_disease_assessment_date: Mapped[dt.date] = mapped_column(Date)


class AdverseEvent(Base):
    """A CTCAE v5.0 adverse event; serious ones carry the date they were reported to the ethics committee."""

    __tablename__ = "clinical_adverse_event"
    __table_args__ = (
        UniqueConstraint("participant_id", "term", "onset_date"),
        CheckConstraint("grade >= 1 AND grade <= 5", name="grade"),
        CheckConstraint("end_date IS NULL OR end_date >= onset_date", name="end_after_onset"),
        *(CheckConstraint(_in(f"attribution_{t}", ATTRIBUTIONS), name=f"attribution_{t}")
          for t in ("rt", "chemo", "camrelizumab", "surgery")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = _participant_fk()
    term: Mapped[str] = mapped_column(String(120))
    grade: Mapped[int] = mapped_column(Integer)
    onset_date: Mapped[dt.date] = mapped_column(Date)
    meddra_code: Mapped[str | None] = mapped_column(String(12))
    soc: Mapped[str | None] = mapped_column(String(120))
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    serious: Mapped[bool | None] = mapped_column(Boolean)
    attribution_rt: Mapped[str | None] = mapped_column(String(10))
    attribution_chemo: Mapped[str | None] = mapped_column(String(10))
    attribution_camrelizumab: Mapped[str | None] = mapped_column(String(10))
    attribution_surgery: Mapped[str | None] = mapped_column(String(10))
    irae: Mapped[bool | None] = mapped_column(Boolean)
    ethics_reported_on: Mapped[dt.date | None] = mapped_column(Date)


class QoLResponse(Base):
    """One raw questionnaire item answer (value NULL = not answered); scale scores are always derived."""

    __tablename__ = "clinical_qol_response"
    __table_args__ = (
        UniqueConstraint("participant_id", "instrument", "timepoint", "item"),
        CheckConstraint(_in("instrument", ("QLQ-C30", "FACT-E"), nullable=False), name="instrument"),
        CheckConstraint("value IS NULL OR (value >= 0 AND value <= 7)", name="value"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = _participant_fk()
    instrument: Mapped[str] = mapped_column(String(10))
    timepoint: Mapped[str] = mapped_column(String(40))
    item: Mapped[str] = mapped_column(String(10))
    value: Mapped[float | None] = mapped_column(Float)
    date: Mapped[dt.date | None] = mapped_column(Date)


class SubsequentTreatment(Base):
    """Treatment chosen after a failure: salvage surgery, systemic therapy, radiotherapy or supportive
    care."""

    __tablename__ = "clinical_subsequent_treatment"
    __table_args__ = (
        UniqueConstraint("participant_id", "kind", "date"),
        CheckConstraint(_in("kind", SUBSEQUENT_KINDS, nullable=False), name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = _participant_fk()
    date: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(Text)


class ImportRun(Base):
    """One applied import of a clinical data file; its changes point back to it."""

    __tablename__ = "clinical_import_run"
    __table_args__ = (CheckConstraint("format IN ('redcap', 'tables')", name="format"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"), index=True)
    format: Mapped[str] = mapped_column(String(10))
    filenames: Mapped[list[str]] = mapped_column(JSON, default=list)
    sha256: Mapped[str] = mapped_column(String(64))
    by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))  # None: the scheduled REDCap sync
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    inserted: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)

    study: Mapped[Study] = relationship()
    by: Mapped[User | None] = relationship()


class ClinicalChange(Base):
    """A value an import inserted or changed: the audit trail of clinical data."""

    __tablename__ = "clinical_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    import_run_id: Mapped[int] = mapped_column(ForeignKey("clinical_import_run.id"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id", ondelete="CASCADE"), index=True)
    table: Mapped[str] = mapped_column(String(40))
    record_key: Mapped[str] = mapped_column(String(200))
    field: Mapped[str] = mapped_column(String(60))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)

    import_run: Mapped[ImportRun] = relationship()
    participant: Mapped[Participant] = relationship()


# Contract table -> model and natural key (besides the participant).
MODELS: dict[str, tuple[type[Base], tuple[str, ...]]] = {
    "treatment": (Treatment, ()),
    "drug_doses": (DrugDose, ("agent", "date")),
    "allocation": (Allocation, ()),
    "cre": (CRE, ("seq",)),
    "surgery": (Surgery, ("date",)),
    "pathology": (Pathology, ("surgery_date",)),
    "disease_events": (DiseaseEvent, ("type", "date")),
    "deaths": (Death, ()),
    "last_contact": (LastContact, ()),
    "adverse_events": (AdverseEvent, ("term", "onset_date")),
    "qol_responses": (QoLResponse, ("instrument", "timepoint", "item")),
    "subsequent_treatments": (SubsequentTreatment, ("kind", "date")),
}


class ClinicalLock(Base):
    """A participant's clinical data locked (e.g. for an analysis data cut): imports may no longer change
    them."""

    __tablename__ = "clinical_lock"
    __table_args__ = (UniqueConstraint("participant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id", ondelete="CASCADE"))
    locked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    reason: Mapped[str] = mapped_column(Text)

    by: Mapped[User] = relationship()
