"""Demo clinical data (shared/domain.md section 8), consistent with the schedule anchors of the core demo.

The core demo has set each participant's stratum, RT start, EOT, CRE1, randomisation and planned surgery
(dropouts have no CRE1; a CRE1 without a stratum is distant disease at CRE1). This part adds treatment, CREs,
allocation, surgery and pathology, disease events (watch-and-wait regrowth with a Weibull time, salvage,
distant spread, recurrences after surgery), deaths, censoring dates, adverse events and QoL answers, all on or
before the data cut and never after a death (adverse events and QoL answers in
``lims.demo.clinical_reports``). The result is also written as a REDCap-style flat export with
its mapping file to ``<instance>/demo-clinical/`` (``lims clinical import-redcap`` reads it back).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, selectinload

from lims.clinical.models import (
    CRE,
    AdverseEvent,
    Allocation,
    Death,
    DiseaseEvent,
    DrugDose,
    LastContact,
    Pathology,
    QoLResponse,
    SubsequentTreatment,
    Surgery,
    Treatment,
)
from lims.clinical.redcap import default_mapping_text, export_redcap
from lims.demo.clinical_reports import adverse_events, qol
from lims.participants.models import Participant

# Weibull (shape, scale in days) of the time to each kind of failure, fitted to the recipe's rates.
WW_REGROWTH = (0.8, 2373.0)        # 20 % at 12 mo, 30 % at 24 mo
WW_DISTANT = (0.607, 21660.0)      # 8 % at 12 mo, 15 % at 36 mo
RECURRENCE = {"NON_CCR_SURGERY": (0.47, 3265.0), "CCR_SURGERY": (0.47, 43800.0)}  # 30 %/45 %; 10 % at 1 y
OTHER_DEATH_RATE = -np.log(0.98) / 365.0


def _weibull(rng: np.random.Generator, shape_scale: tuple[float, float]) -> float:
    shape, scale = shape_scale
    return float(scale * rng.weibull(shape))


class Patient:
    """Collects one participant's rows, refusing anything after death or the data cut."""

    def __init__(self, p: Participant, cut: date) -> None:
        self.p = p
        self.cut = cut
        self.death: date | None = None
        self.cause: str | None = None
        self.rows: dict[type, list[dict[str, Any]]] = {}
        self.assessments: list[date] = []
        self.last_visit = max((v.actual_on for v in p.visits if v.status == "done" and v.actual_on),
                              default=p.enrolled_on)

    def ok(self, day: date | None) -> bool:
        return day is not None and day <= self.cut and (self.death is None or day <= self.death)

    def die(self, day: date, cause: str) -> bool:
        """Record death on ``day`` unless it falls after the data cut or an earlier death.

        The core demo has already held the participant's visits, so nobody dies before the last one: a death
        from the disease is postponed to a fortnight after it, any other death is not recorded.
        """
        if day <= self.last_visit:
            if cause != "disease":
                return False
            day = self.last_visit + timedelta(days=14)
        if not self.ok(day):
            return False
        self.death, self.cause = day, cause
        return True

    def add(self, model: type, **values: Any) -> None:
        self.rows.setdefault(model, []).append({"participant_id": self.p.id, **values})


def generate(ctx: Any) -> None:
    """Add complete clinical data for every demo participant."""
    session: Session = ctx.session
    rng: np.random.Generator = ctx.rng
    people = list(session.scalars(
        select(Participant).where(Participant.study_id == ctx.study.id).order_by(Participant.code)
        .options(selectinload(Participant.visits))))
    batches: dict[type, list[dict[str, Any]]] = {}
    counts = {"deaths": 0, "disease events": 0, "adverse events": 0}
    for p in people:
        patient = _simulate(p, rng, ctx.data_cut)
        for model, rows in patient.rows.items():
            batches.setdefault(model, []).extend(rows)
    for model, rows in batches.items():
        session.execute(insert(model), rows)
    counts["deaths"] = len(batches.get(Death, []))
    counts["disease events"] = len(batches.get(DiseaseEvent, []))
    counts["adverse events"] = len(batches.get(AdverseEvent, []))
    counts["QoL answers"] = len(batches.get(QoLResponse, []))
    ctx.summary.extra.update(counts)
    _export(ctx)


def _export(ctx: Any) -> None:
    """Write the demo's clinical data as a REDCap-style export with its mapping into the instance folder."""
    folder = Path(ctx.instance_path) / "demo-clinical"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "redcap_export.csv").write_bytes(export_redcap(ctx.session, ctx.study))
    (folder / "redcap_mapping.yaml").write_text(default_mapping_text(), encoding="utf-8")


def _simulate(p: Participant, rng: np.random.Generator, cut: date) -> Patient:
    pt = Patient(p, cut)
    # Death from other causes, at any time after the anchors the core demo has already dated.
    anchored = max(d for d in (p.enrolled_on, p.eot_on, p.cre1_on, p.randomised_on, p.surgery_on) if d)
    other_death = p.enrolled_on + timedelta(days=int(rng.exponential(1 / OTHER_DEATH_RATE)))
    if other_death > anchored:
        pt.die(other_death, "other")
    done = {v.timepoint.code: v.actual_on for v in p.visits if v.status == "done" and v.actual_on}
    _treatment(pt, rng)
    if p.cre1_on is not None:
        _response_and_beyond(pt, rng, done)
    if pt.death is not None:
        pt.add(Death, date=pt.death, cause=pt.cause)
    adverse_events(pt, rng)
    qol(pt, rng, done)
    _last_contact(pt, rng)
    return pt


def _treatment(pt: Patient, rng: np.random.Generator) -> None:
    p = pt.p
    if p.rt_start_on is None:
        return
    full = rng.random() < 0.92
    fractions = 23 if full else int(rng.integers(12, 23))
    pt.add(Treatment, rt_start=p.rt_start_on, rt_end=p.eot_on, rt_dose_gy=round(fractions * 1.8, 1),
           rt_fractions=fractions)
    omitted_p = 0.03 if rng.random() < 0.88 else 0.45
    for week in range(5):
        day = p.rt_start_on + timedelta(days=7 * week)
        if not pt.ok(day):
            continue
        omitted = bool(rng.random() < omitted_p)
        pt.add(DrugDose, agent="carboplatin", date=day, dose=None if omitted else 2.0, unit="AUC",
               omitted=omitted, cycle=week + 1, phase="neoadjuvant")
        pt.add(DrugDose, agent="paclitaxel", date=day, dose=None if omitted else 50.0, unit="mg/m2",
               omitted=omitted, cycle=week + 1, phase="neoadjuvant")
    for cycle, offset in ((1, 0), (2, 21)):
        day = p.rt_start_on + timedelta(days=offset)
        if pt.ok(day):
            pt.add(DrugDose, agent="camrelizumab", date=day, dose=200.0, unit="mg", omitted=False,
                   cycle=cycle,
                   phase="neoadjuvant")


def _cre(pt: Patient, rng: np.random.Generator, seq: int, day: date, overall: str) -> None:
    tumour = overall == "local"
    pt.add(CRE, seq=seq, date=day, overall=overall, n_biopsies=int(rng.integers(4, 9)), bite_on_bite=True,
           endoscopy_histology="tumour" if tumour else "none", eus_suspicious_ln=overall == "regional",
           fna_result="malignant" if overall == "regional" else "not_done",
           suvmax=round(float(rng.uniform(4, 12) if overall != "cCR" else rng.uniform(1.5, 3.5)), 1),
           distant_m=overall == "distant")
    pt.assessments.append(day)


def _response_and_beyond(pt: Patient, rng: np.random.Generator, done: dict[str, date]) -> None:
    """Record CRE1, allocation, surgery or surveillance and the first failure."""
    p = pt.p
    cre1 = p.cre1_on
    assert cre1 is not None
    if p.stratum is None:
        # Distant disease at CRE1: no surgery, systemic therapy, death from disease.
        _cre(pt, rng, 1, cre1, "distant")
        pt.add(DiseaseEvent, date=cre1, type="PROGRESSION_PRECLUDING_SURGERY", proof="imaging",
               site="distant")
        _after_failure(pt, rng, cre1, "systemic_therapy", median_days=270)
        return
    overall = "cCR" if p.stratum in ("CCR_SURGERY",
                                     "CCR_WW") else str(rng.choice(["local", "regional"], p=[.8, .2]))
    _cre(pt, rng, 1, cre1, overall)
    if p.stratum == "NON_CCR_SURGERY":
        pt.add(Allocation, stratum="NON_CCR_SURGERY", rand_date=None, actual_strategy="surgery",
               crossover=False)
    elif p.randomised_on is not None:
        strategy = "surgery" if p.stratum == "CCR_SURGERY" else "watch_and_wait"
        pt.add(Allocation, stratum=p.stratum, rand_date=p.randomised_on, actual_strategy=strategy,
               crossover=False)
    else:
        return  # randomisation falls after the data cut
    if p.stratum == "CCR_WW":
        _watch_and_wait(pt, rng, done)
        return
    if p.surgery_on is None:
        return
    _planned_surgery(pt, rng, p.surgery_on)
    return


def _resection(pt: Patient, rng: np.random.Generator, day: date, intent: str, pcr_p: float, mpr_p: float,
               r_p: tuple[float, float, float, float]) -> str:
    r_status = str(rng.choice(["R0", "R1", "R2", "unresectable"], p=r_p))
    death_90d = bool(rng.random() < 0.02)
    pt.add(Surgery, date=day, intent=intent, r_status=r_status,
           approach=str(rng.choice(["McKeown", "Ivor Lewis", "MIE"])),
           clavien_dindo=str(rng.choice(["0", "I", "II", "IIIa", "IIIb"], p=[.35, .2, .25, .12, .08])),
           death_90d=death_90d)
    pt.assessments.append(day)
    if r_status != "unresectable":
        if rng.random() < pcr_p:
            ypt, ypn, pct = "ypT0", "ypN0", 0.0
        elif rng.random() < (mpr_p - pcr_p) / (1 - pcr_p):
            ypt = str(rng.choice(["ypT0", "ypT1a", "ypT1b", "ypT2"], p=[.2, .3, .3, .2]))
            ypn = "ypN1" if ypt == "ypT0" else str(rng.choice(["ypN0", "ypN1"], p=[.7, .3]))
            pct = float(rng.integers(1, 11)) if ypt != "ypT0" else 0.0
        else:
            ypt = str(rng.choice(["ypT1b", "ypT2", "ypT3"], p=[.2, .35, .45]))
            ypn = str(rng.choice(["ypN0", "ypN1", "ypN2"], p=[.5, .35, .15]))
            pct = float(rng.integers(11, 90))
        examined = int(rng.integers(15, 40))
        positive = 0 if ypn == "ypN0" else int(rng.integers(1, 4 if ypn == "ypN1" else 7))
        recorded = rng.random() < 0.5
        grade = (None if not recorded else "1" if pct == 0 else "2" if pct <= 10 else "3" if pct <= 50
                 else "4")
        pt.add(Pathology, surgery_date=day, specimen="oesophagectomy", ypt=ypt, ypn=ypn, ln_examined=examined,
               ln_positive=positive, viable_pct=pct, trg_system="Chirieac" if recorded else None,
               trg_grade=grade)
    if death_90d:
        death = day + timedelta(days=int(rng.integers(5, 85)))
        if not pt.die(death, "treatment"):
            pt.rows[Surgery][-1]["death_90d"] = False
        else:
            pt.add(AdverseEvent, term="Anastomotic leak", grade=5, onset_date=day + timedelta(days=4),
                   end_date=death, serious=True, attribution_surgery="definite", irae=False,
                   ethics_reported_on=day + timedelta(days=6), soc="Gastrointestinal disorders")
    return r_status


def _planned_surgery(pt: Patient, rng: np.random.Generator, day: date) -> None:
    p = pt.p
    if not pt.ok(day):
        return
    ccr = p.stratum == "CCR_SURGERY"
    r_status = _resection(pt, rng, day, "planned", .65 if ccr else .12, .85 if ccr else .40,
                          (.95, .04, .005, .005))
    if pt.cause == "treatment":
        return
    # Follow-up imaging every 3 months; a recurrence shows at the next assessment after it arises.
    scans = [day + timedelta(days=91 * k) for k in range(1, 21)]
    scans = [s for s in scans if pt.ok(s)]
    if r_status in ("R2", "unresectable"):
        _after_failure(pt, rng, day, "systemic_therapy", median_days=300)
        return
    onset = day + timedelta(days=_weibull(rng, RECURRENCE[str(p.stratum)]))
    for scan in scans:
        if scan >= onset:
            kind = str(rng.choice(["LOCAL_RECURRENCE", "REGIONAL", "DISTANT"], p=[.25, .3, .45]))
            pt.assessments.append(scan)
            pt.add(DiseaseEvent, date=scan, type=kind, proof=str(rng.choice(["histology", "imaging"])))
            _after_failure(pt, rng, scan, "systemic_therapy" if kind == "DISTANT" else "radiotherapy",
                           median_days=420)
            return
        pt.assessments.append(scan)
    return


def _watch_and_wait(pt: Patient, rng: np.random.Generator, done: dict[str, date]) -> None:
    p = pt.p
    rand = p.randomised_on
    assert rand is not None
    regrowth = rand + timedelta(days=_weibull(rng, WW_REGROWTH))
    distant = rand + timedelta(days=_weibull(rng, WW_DISTANT))
    visits = sorted((day, int(code[3:])) for code, day in done.items()
                    if code.startswith("CRE") and code != "CRE1" and day > rand)
    for day, seq in visits:
        if not pt.ok(day):
            break
        if day >= distant:
            _cre(pt, rng, seq, day, "distant")
            pt.add(DiseaseEvent, date=day, type="DISTANT", proof="imaging")
            _after_failure(pt, rng, day, "systemic_therapy", median_days=300)
            return
        if day >= regrowth:
            _cre(pt, rng, seq, day, "local")
            pt.add(DiseaseEvent, date=day, type="LOCAL_REGROWTH", proof="histology")
            salvage = day + timedelta(days=int(rng.integers(14, 36)))
            if not pt.ok(salvage) or rng.random() < 0.08:
                _after_failure(pt, rng, day, "systemic_therapy", median_days=500)
                return
            pt.add(SubsequentTreatment, date=salvage, kind="salvage_surgery",
                   detail="oesophagectomy for regrowth")
            r_status = _resection(pt, rng, salvage, "salvage", .0, .2,
                                  (.85 / .92, .05 / .92, .01 / .92, .01 / .92))
            if pt.cause != "treatment" and r_status != "R0":
                _after_failure(pt, rng, salvage, "systemic_therapy", median_days=450)
                return
            return
        _cre(pt, rng, seq, day, "cCR")
    return


def _after_failure(pt: Patient, rng: np.random.Generator, day: date, treatment: str,
                   median_days: float) -> None:
    """Start the treatment chosen after a failure and let the disease kill in time."""
    start = day + timedelta(days=int(rng.integers(7, 30)))
    if pt.ok(start):
        pt.add(SubsequentTreatment, date=start, kind=treatment,
               detail={"systemic_therapy": "camrelizumab + chemotherapy",
                       "radiotherapy": "salvage radiotherapy"}
               .get(treatment, "best supportive care"))
    pt.die(day + timedelta(days=int(rng.exponential(median_days / np.log(2))) + 20), "disease")


def _last_contact(pt: Patient, rng: np.random.Generator) -> None:
    p = pt.p
    if p.rt_start_on is None:
        return
    if p.cre1_on is None:  # dropped out before CRE1: last seen around EOT
        seen = min(p.eot_on or p.rt_start_on, pt.cut)
        alive = pt.death or seen
        pt.add(LastContact, last_alive_date=alive, last_disease_assessment_date=min(seen, alive))
        return
    dated = [r["date"] for r in pt.rows.get(DiseaseEvent, [])]
    # Randomisation follows a complete CRE1 work-up, so it is the first assessment of the randomised.
    assessment = max(d for d in [*pt.assessments, *dated, p.cre1_on, p.randomised_on] if d)
    if pt.death is not None:
        pt.add(LastContact, last_alive_date=pt.death, last_disease_assessment_date=min(assessment, pt.death))
        return
    alive = max(assessment, pt.cut - timedelta(days=int(rng.integers(0, 60))))
    pt.add(LastContact, last_alive_date=alive, last_disease_assessment_date=assessment)
