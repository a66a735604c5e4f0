"""Clinical tables out of the database, derived endpoints, QoL scores, toxicity and schedule anchors.

``clinical_tables`` returns the frames of the contract in ``analysis.clinical_tables`` (``participant_id`` is
the participant code, e.g. ``ZJ-014``) plus ``drug_doses`` and ``subsequent_treatments``; everything derived
(endpoints, QoL scales, worst toxicity) is computed from them by the pure functions of ``analysis``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING, Any, Literal, cast

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from lims.accounts.models import User
from lims.accounts.service import sign
from lims.clinical.models import CRE, MODELS, Allocation, ClinicalLock, Surgery, Treatment
from lims.core.errors import Conflict, DomainError
from lims.participants.models import Participant
from lims.participants.service import plan_visits
from lims.studies.models import Study

if TYPE_CHECKING:
    import pandas as pd

    from analysis.clinical_tables import EndpointSettings

# Columns of the two tables the contract does not know (they are kept as extra frames).
EXTRA_TABLES = {
    "drug_doses": ("agent", "date", "dose", "unit", "omitted", "cycle", "phase"),
    "subsequent_treatments": ("date", "kind", "detail"),
}
# Tables the endpoint derivations read (QoL answers are by far the largest and play no part).
ENDPOINT_TABLES = ("treatment", "allocation", "cre", "surgery", "pathology", "disease_events", "deaths",
                   "last_contact")
_T0 = {"randomisation": "rand", "rand": "rand", "enrolment": "enrol", "enrol": "enrol"}


def endpoint_settings(study: Study, variant: str | None = None) -> EndpointSettings:
    """Build the derivation settings from the study's protocol settings (``variant`` overrides DFS A/B)."""
    from analysis.clinical_tables import EndpointSettings

    s = study.settings or {}
    return EndpointSettings(
        # EndpointSettings refuses any other value
        dfs_variant=cast(Literal["A", "B"], variant or s.get("dfs_variant", "A")),
        dfs_t0=_T0.get(str(s.get("dfs_t0", "randomisation")), "rand"),  # type: ignore[arg-type]
        simultaneous_days=int(s.get("simultaneous_failure_days", 30)),
        acute_days=int(s.get("acute_toxicity_days", 90)),
        second_primary_is_event=bool(s.get("second_primary_is_event", False)),
        trg_system=s.get("trg_derived_system", "Chirieac"),
        c30_summary_min_scales=int(s.get("qol_c30_summary_min_scales", 13)),
        fact_subscale_min_fraction=float(s.get("qol_subscale_min_answered", 0.5)),
        fact_total_min_fraction=float(s.get("qol_total_min_answered", 0.8)),
        salvage_window_days=int(s.get("salvage_window_days", 90)),
    )


def table_columns(table: str) -> list[str]:
    """Return the stored columns of a clinical table, besides the participant."""
    if table in EXTRA_TABLES:
        return list(EXTRA_TABLES[table])
    model = MODELS[table][0]
    names = [c.name for c in model.__table__.columns if c.name not in ("id", "participant_id")]
    return names


def _participants_frame(participants: list[Participant]) -> pd.DataFrame:
    import pandas as pd

    from analysis.clinical_tables import TABLES

    rows = []
    for p in participants:
        consent = p.consents[0] if p.consents else None
        rows.append({
            "participant_id": p.code, "site": p.site.code, "enrol_date": p.enrolled_on,
            "consent_date": consent.signed_on if consent else None,
            "biobank_consent": consent.allows("MARKER_RESEARCH") if consent else None,
            "sex": p.sex, "age": p.age, "ecog": p.ecog, "tumour_location": p.tumour_location,
            "ct": p.ct, "cn": p.cn, "cm": p.cm, "stage": p.stage,
        })
    return pd.DataFrame(rows, columns=list(TABLES["participants"]))


def clinical_tables(session: Session, study: Study, participants: Iterable[Participant] | None = None,
                    only: Iterable[str] | None = None) -> dict[str, pd.DataFrame]:
    """Return the clinical tables of the study (or of some participants) as contract DataFrames.

    ``only`` limits the tables read (``participants`` is always there); the others come back empty.
    """
    import pandas as pd

    wanted = set(MODELS) if only is None else set(only)
    if participants is None:
        people = list(session.scalars(
            select(Participant).where(Participant.study_id == study.id).order_by(Participant.code)
            .options(selectinload(Participant.site), selectinload(Participant.consents))))
    else:
        people = list(participants)
    codes = {p.id: p.code for p in people}
    tables = {"participants": _participants_frame(people)}
    for table, (model, _key) in MODELS.items():
        columns = table_columns(table)
        if table not in wanted:
            tables[table] = pd.DataFrame(columns=["participant_id", *columns])
            continue
        stmt = select(model.participant_id, *(getattr(model, c) for c in columns))  # type: ignore[attr-defined]
        if participants is None:
            stmt = stmt.join(Participant, Participant.id == model.participant_id).where(  # type: ignore[attr-defined]
                Participant.study_id == study.id)
        else:
            stmt = stmt.where(model.participant_id.in_(list(codes)))  # type: ignore[attr-defined]
        rows = [(codes[r[0]], *r[1:]) for r in session.execute(stmt) if r[0] in codes]
        tables[table] = pd.DataFrame(rows, columns=["participant_id", *columns])
    return tables


def derived_endpoints(session: Session, study: Study, variant: str | None = None,
                      participants: Iterable[Participant] | None = None) -> pd.DataFrame:
    """Return the per-participant endpoints (cCR, pCR, MPR, TRG, OS, DFS, EFS, first failure)."""
    from analysis.endpoints import derive

    tables = clinical_tables(session, study, participants, only=ENDPOINT_TABLES)
    return derive(tables, endpoint_settings(study, variant))


def qol_scores(session: Session, study: Study,
               participant: Participant | None = None) -> dict[str, pd.DataFrame]:
    """Return QLQ-C30 and FACT-E scale scores per participant and time point."""
    from analysis.qol import score_fact_e, score_qlq_c30

    tables = clinical_tables(session, study, None if participant is None else [participant],
                             only=["qol_responses"])
    settings = endpoint_settings(study)
    responses = tables["qol_responses"]
    return {"QLQ-C30": score_qlq_c30(responses, settings), "FACT-E": score_fact_e(responses, settings)}


def toxicity(session: Session, study: Study, participant: Participant) -> pd.DataFrame:
    """Return the worst CTCAE grade per term for one participant, overall, acute and chronic."""
    from analysis.toxicity import worst_grade

    tables = clinical_tables(session, study, [participant], only=["adverse_events", "treatment"])
    return worst_grade(tables["adverse_events"], tables["treatment"], endpoint_settings(study))


def sync_anchors(session: Session, participant: Participant) -> None:
    """Copy the schedule anchors from the clinical records onto the participant and re-plan visits."""
    pid = participant.id
    treatment = session.scalar(select(Treatment).where(Treatment.participant_id == pid))
    allocation = session.scalar(select(Allocation).where(Allocation.participant_id == pid))
    cre1 = session.scalar(select(CRE).where(CRE.participant_id == pid, CRE.seq == 1))
    surgeries = list(session.scalars(select(Surgery).where(Surgery.participant_id == pid)
                                     .order_by(Surgery.date)))
    planned = [s for s in surgeries if s.intent == "planned"] or surgeries
    anchors: dict[str, date | str | None] = {
        "rt_start_on": treatment.rt_start if treatment else participant.rt_start_on,
        "eot_on": treatment.rt_end if treatment and treatment.rt_end else participant.eot_on,
        "cre1_on": cre1.date if cre1 else participant.cre1_on,
        "stratum": allocation.stratum if allocation else participant.stratum,
        "randomised_on": allocation.rand_date if allocation else participant.randomised_on,
        "surgery_on": planned[0].date if planned else participant.surgery_on,
    }
    changed = False
    for name, value in anchors.items():
        if getattr(participant, name) != value:
            setattr(participant, name, value)
            changed = True
    if changed:
        session.flush()
        plan_visits(session, participant)


def records(session: Session, participant: Participant) -> dict[str, list[Any]]:
    """Return the participant's clinical records per table, each sorted by its natural key."""
    out: dict[str, list[Any]] = {}
    for table, (model, key) in MODELS.items():
        order = [getattr(model, k) for k in key] or [model.id]  # type: ignore[attr-defined]
        out[table] = list(session.scalars(
            select(model).where(model.participant_id == participant.id).order_by(*order)))  # type: ignore[attr-defined]
    return out


def lock_of(session: Session, participant: Participant) -> ClinicalLock | None:
    """Return the participant's clinical data lock, if any."""
    return session.scalar(select(ClinicalLock).where(ClinicalLock.participant_id == participant.id))


def lock_clinical(session: Session, participant: Participant, *, reason: str, by: User,
                  signature: tuple[str, str]) -> ClinicalLock:
    """Lock a participant's clinical data under an electronic signature; imports then leave them alone."""
    if not reason.strip():
        raise DomainError("say why the clinical data are locked (e.g. the analysis data cut)", field="reason")
    if lock_of(session, participant) is not None:
        raise Conflict(f"the clinical data of {participant.code} are already locked")
    password, meaning = signature
    sign(session, by, password=password, meaning=meaning, record_type="clinical_lock",
         record_id=participant.code,
         content={"participant": participant.code, "reason": reason.strip()},
         statement=f"I lock the clinical data of {participant.code}: {reason.strip()}")
    lock = ClinicalLock(participant_id=participant.id, by_id=by.id, reason=reason.strip())
    session.add(lock)
    session.flush()
    return lock


def unlock_clinical(session: Session, participant: Participant, *, reason: str, by: User,
                    signature: tuple[str, str]) -> None:
    """Lift a participant's clinical data lock under an electronic signature."""
    lock = lock_of(session, participant)
    if lock is None:
        raise Conflict(f"the clinical data of {participant.code} are not locked")
    if not reason.strip():
        raise DomainError("say why the lock is lifted", field="reason")
    password, meaning = signature
    sign(session, by, password=password, meaning=meaning, record_type="clinical_unlock",
         record_id=participant.code,
         content={"participant": participant.code, "reason": reason.strip(), "locked_by": lock.by_id},
         statement=f"I unlock the clinical data of {participant.code}: {reason.strip()}")
    session.delete(lock)
    session.flush()
