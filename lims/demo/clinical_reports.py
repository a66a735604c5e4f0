"""Demo clinical data the participant reports or the team grades: adverse events (CTCAE) and QoL answers
(QLQ-C30, FACT-E), on the participant's done visits, before the data cut and never after a death."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np

from analysis.qol import FACT_E_REVERSED, FACT_E_SUBSCALES
from lims.clinical.models import AdverseEvent, QoLResponse, Surgery

if TYPE_CHECKING:
    from lims.demo.clinical import Patient

QOL_TIMEPOINTS = ("BASELINE", "EOT", "CRE1", "POST_OP", "FU3M", "FU6M", "FU12M")

_NCRT_AES = (  # term, SOC, probability, grade distribution, irAE, attribution column
    ("Lymphocyte count decreased", "Investigations", .85, ((1, 2, 3, 4), (.2, .27, .4, .13)), False, "rt"),
    ("Neutrophil count decreased", "Investigations", .45, ((1, 2, 3, 4), (.4, .27, .25, .08)), False,
     "chemo"),
    ("Oesophagitis", "Gastrointestinal disorders", .6, ((1, 2, 3), (.5, .4, .1)), False, "rt"),
    ("Reactive cutaneous capillary endothelial proliferation", "Skin and subcutaneous tissue disorders", .4,
     ((1, 2), (.7, .3)), True, "camrelizumab"),
    ("Pneumonitis", "Respiratory, thoracic and mediastinal disorders", .08, ((1, 2, 3), (.4, .35, .25)), True,
     "camrelizumab"),
    ("Hypothyroidism", "Endocrine disorders", .1, ((1, 2), (.6, .4)), True, "camrelizumab"),
)


def adverse_events(pt: Patient, rng: np.random.Generator) -> None:
    """Add the chemoradiotherapy toxicities, late stenosis (watch and wait) and anastomotic leaks."""
    p = pt.p
    if p.rt_start_on is None:
        return
    for term, soc, prob, (grades, weights), irae, cause in _NCRT_AES:
        if rng.random() >= prob:
            continue
        onset = p.rt_start_on + timedelta(days=int(rng.integers(7, 80)))
        if not pt.ok(onset):
            continue
        grade = int(rng.choice(grades, p=weights))
        serious = grade >= 3 and (term in ("Pneumonitis", "Oesophagitis") or rng.random() < 0.15)
        reported = None
        if serious:
            late = rng.random() < 0.15
            reported = onset + timedelta(days=int(rng.integers(9, 20) if late else rng.integers(1, 7)))
            if reported > pt.cut:
                reported = None
        end = onset + timedelta(days=int(rng.integers(7, 60)))
        pt.add(AdverseEvent, term=term, grade=grade, onset_date=onset, soc=soc,
               end_date=end if pt.ok(end) else None, serious=serious, irae=irae,
               **{f"attribution_{cause}": "probable"}, ethics_reported_on=reported)
    if p.stratum == "CCR_WW" and rng.random() < 0.10:
        onset = p.rt_start_on + timedelta(days=int(rng.integers(120, 400)))
        if pt.ok(onset):
            pt.add(AdverseEvent, term="Oesophageal stenosis", grade=int(rng.choice([2, 3], p=[.7, .3])),
                   onset_date=onset, soc="Gastrointestinal disorders", serious=False, irae=False,
                   attribution_rt="probable")
    surgeries = [r for r in pt.rows.get(Surgery, []) if r["r_status"] != "unresectable"]
    if surgeries and rng.random() < 0.12 and not any(r["term"] == "Anastomotic leak"
                                                       for r in pt.rows.get(AdverseEvent, [])):
        onset = surgeries[0]["date"] + timedelta(days=int(rng.integers(4, 10)))
        if pt.ok(onset):
            pt.add(AdverseEvent, term="Anastomotic leak", grade=int(rng.choice([2, 3], p=[.5, .5])),
                   onset_date=onset,
                   soc="Gastrointestinal disorders", serious=True, irae=False, attribution_surgery="definite",
                   ethics_reported_on=min(onset + timedelta(days=int(rng.integers(1, 7))), pt.cut))


def qol(pt: Patient, rng: np.random.Generator, done: dict[str, date]) -> None:
    """Add QLQ-C30 and FACT-E answers at the done visits of the QoL schedule, worse after surgery."""
    p = pt.p
    level = rng.normal(0, 1)  # the participant's general well-being
    timepoints = [(code, day) for code, day in done.items() if code in QOL_TIMEPOINTS
                  or (p.stratum == "CCR_WW" and code.startswith("CRE") and code != "CRE1")]
    for code, day in sorted(timepoints, key=lambda t: t[1]):
        if not pt.ok(day) or rng.random() < 0.1:
            continue
        shift = 0.0
        if p.surgery_on and p.surgery_on <= day:
            months = (day - p.surgery_on).days / 30.4
            shift = -12.0 * max(0.0, 1 - months / 12) if months > 1 else -15.0
        elif p.stratum == "CCR_WW":
            shift = -3.0
        z = level + rng.normal(0, 0.5)
        ql2 = float(np.clip(65 + 20 * z + shift, 0, 100))
        for item in range(1, 31):
            if item >= 29:
                value = float(np.clip(round(1 + 6 * ql2 / 100 + rng.normal(0, 0.5)), 1, 7))
            else:
                # Items 1-28: 1 = not at all ... 4 = very much (problems); better well-being, lower answers.
                value = float(np.clip(round(2.0 - 0.6 * z - shift / 25 + rng.normal(0, 0.6)), 1, 4))
            pt.add(QoLResponse, instrument="QLQ-C30", timepoint=code, item=str(item),
                   value=None if rng.random() < 0.02 else value, date=day)
        for scale, items in FACT_E_SUBSCALES.items():
            mean = (2.65 if scale == "ECS" else 2.75) + 0.45 * z + shift / 40
            for fact_item in items:
                score = float(np.clip(round(mean + rng.normal(0, 0.7)), 0, 4))
                value = 4 - score if fact_item in FACT_E_REVERSED else score
                pt.add(QoLResponse, instrument="FACT-E", timepoint=code, item=fact_item,
                       value=None if rng.random() < 0.02 else value, date=day)
