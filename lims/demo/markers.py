"""Demo marker catalogue and results (shared/domain.md section 8), with signal tied to the response at CRE1.

Responders (stratum CCR_*, a cCR at CRE1) get less post-nCRT ctDNA (15 % vs 45 % positive), lower IL-6 and
NLR, more tumour-infiltrating lymphocytes and a gut microbiome richer in the genera linked to immunotherapy
response, so the analyses have something to find. Some values fall below the LOD and a few are measured twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.orm import selectinload

from lims.demo import DemoContext
from lims.markers.models import MarkerImportRun, MarkerResult
from lims.markers.service import save_marker
from lims.participants.models import Consent, Participant, Visit
from lims.samples.models import Sample
from lims.studies.models import SampleType, TimePoint

GENERA = ("Bacteroides", "Faecalibacterium", "Prevotella", "Bifidobacterium", "Akkermansia", "Ruminococcus",
          "Roseburia", "Blautia", "Eubacterium", "Alistipes", "Parabacteroides", "Streptococcus",
          "Lactobacillus",
          "Escherichia", "Veillonella", "Dialister", "Collinsella", "Coprococcus", "Dorea", "Fusobacterium")
# Genera enriched in responders (immunotherapy literature) and in non-responders.
RESPONDER_GENERA = ("Bifidobacterium", "Akkermansia", "Faecalibacterium", "Ruminococcus")
NON_RESPONDER_GENERA = ("Escherichia", "Fusobacterium", "Streptococcus")
CYTOKINES = {"IL6": ("Interleukin-6", 4.0, 0.8), "IL8": ("Interleukin-8", 12.0, 0.9),
             "IL10": ("Interleukin-10", 2.0, 0.8), "TNFA": ("Tumour necrosis factor alpha", 6.0, 0.7),
             "IFNG": ("Interferon gamma", 3.0, 0.9)}
POST_NCRT = ("EOT", "CRE1", "PRE_OP", "POST_OP", "RELAPSE")


def catalogue() -> list[dict[str, Any]]:
    """Return the demo catalogue definitions."""
    items: list[dict[str, Any]] = [
        {"code": "CTDNA_VAF", "name": "ctDNA mean variant allele fraction (tumour-informed MRD)",
         "category": "ctDNA",
         "unit": "%", "assay": "tumour-informed MRD panel (16 variants)", "platform": "NGS",
         "specimen_types": ["CTDNA_PLASMA"], "lod": 0.01, "lloq": 0.02, "uloq": 100.0, "transform": "log10"},
        {"code": "PDL1_CPS", "name": "PD-L1 combined positive score", "category": "IHC", "unit": "score",
         "assay": "PD-L1 IHC 22C3 pharmDx", "platform": "Dako Autostainer Link 48",
         "specimen_types": ["FFPE"],
         "lod": None, "lloq": None, "uloq": 100.0, "transform": "none"},
        {"code": "PDL1_TPS", "name": "PD-L1 tumour proportion score", "category": "IHC", "unit": "%",
         "assay": "PD-L1 IHC 22C3 pharmDx", "platform": "Dako Autostainer Link 48",
         "specimen_types": ["FFPE"],
         "lod": None, "lloq": None, "uloq": 100.0, "transform": "none"},
        {"code": "TMB", "name": "Tumour mutational burden", "category": "TMB", "unit": "mut/Mb",
         "assay": "targeted panel (1.1 Mb)", "platform": "NGS", "specimen_types": ["FFPE", "FROZEN_TISSUE"],
         "lod": None, "lloq": None, "uloq": None, "transform": "log2"},
        {"code": "STILS", "name": "Stromal tumour-infiltrating lymphocytes", "category": "TIL", "unit": "%",
         "assay": "H&E, International TILs Working Group", "platform": "pathologist review",
         "specimen_types": ["FFPE"], "lod": None, "lloq": None, "uloq": 100.0, "transform": "none"},
        {"code": "CD8_DENSITY", "name": "CD8+ T-cell density (tumour)", "category": "IHC",
         "unit": "cells/mm2",
         "assay": "CD8 IHC (C8/144B), digital image analysis", "platform": "QuPath",
         "specimen_types": ["FFPE"],
         "lod": 1.0, "lloq": 1.0, "uloq": None, "transform": "log2"},
        {"code": "SCC_AG", "name": "Squamous cell carcinoma antigen", "category": "tumour_marker",
         "unit": "ng/mL",
         "assay": "CMIA", "platform": "Abbott Architect", "specimen_types": ["SERUM"], "lod": 0.1,
         "lloq": 0.1,
         "uloq": 70.0, "transform": "log2"},
        {"code": "NLR", "name": "Neutrophil-to-lymphocyte ratio", "category": "haematology", "unit": "ratio",
         "assay": "complete blood count", "platform": "Sysmex XN", "specimen_types": ["WHOLE_BLOOD"],
         "lod": None, "lloq": None, "uloq": None, "transform": "log2"},
    ]
    for code, (name, _median, _sd) in CYTOKINES.items():
        items.append({"code": code, "name": name, "category": "cytokine", "unit": "pg/mL",
                      "assay": "multiplex electrochemiluminescence", "platform": "MSD V-PLEX",
                      "specimen_types": ["SERUM"], "lod": 0.6, "lloq": 1.0, "uloq": 2000.0,
                      "transform": "log2"})
    for genus in GENERA:
        items.append({"code": f"MB_{genus.upper()}", "name": f"{genus} (relative abundance)",
                      "category": "microbiome_taxon", "unit": "%", "assay": "16S rRNA V3-V4, genus level",
                      "platform": "Illumina MiSeq", "specimen_types": ["STOOL"], "lod": 0.001, "lloq": 0.001,
                      "uloq": 100.0, "transform": "clr"})
    return items


def _pick_samples(ctx: DemoContext) -> dict[tuple[int, str, str], tuple[int, int]]:
    """One sample per (participant, time point, sample type): the first derivative or primary registered."""
    rows = ctx.session.execute(
        select(Sample.id, Sample.participant_id, TimePoint.code, SampleType.code, Visit.actual_on)
        .join(Visit, Visit.id == Sample.visit_id).join(TimePoint, TimePoint.id == Visit.timepoint_id)
        .join(SampleType, SampleType.id == Sample.sample_type_id)
        .where(Sample.study_id == ctx.study.id, Sample.accession.is_not(None))
        .order_by(Sample.id))
    picked: dict[tuple[int, str, str], tuple[int, int]] = {}
    for sid, pid, tp, stype, actual in rows:
        key = (pid, tp, stype)
        if key not in picked:
            picked[key] = (sid, actual.toordinal() if actual else 0)
    return picked


def generate(ctx: DemoContext) -> None:
    """Add the marker catalogue and results on the demo's samples (bulk inserted)."""
    session = ctx.session
    markers = {m["code"]: save_marker(session, m) for m in catalogue()}
    eligible, responder = _participants(ctx)
    run = MarkerImportRun(filename="demo-generated", layout="long", sha256="0" * 64,
                          by_id=getattr(ctx.users.get("datamanager"), "id", None))
    session.add(run)
    session.flush()
    results = _Results(ctx, {code: m.id for code, m in markers.items()}, run.id)
    for (pid, tp, stype), (sid, day) in sorted(_pick_samples(ctx).items()):
        if pid in eligible:
            _measure(results, stype, tp, sid, day, responder[pid])
    rows = results.rows
    _remeasure(rows, results.ids, ctx.rng)
    if rows:
        session.execute(insert(MarkerResult.__table__), rows)
    run.results = len(rows)
    run.remeasurements = sum(r["replicate"] > 1 for r in rows)
    run.converted = sum(r["original_unit"] is not None for r in rows)
    session.flush()
    ctx.summary.extra["markers"] = len(markers)
    ctx.summary.extra["marker results"] = len(rows)


def _participants(ctx: DemoContext) -> tuple[set[int], dict[int, bool]]:
    """Return who consented to marker research, and who responded (a cCR stratum), by participant id."""
    people = {p.id: p for p in ctx.session.scalars(
        select(Participant).where(Participant.study_id == ctx.study.id)
        .options(selectinload(Participant.consents).selectinload(Consent.scopes)))}
    eligible = {pid for pid, p in people.items() if p.consent is not None
                and p.consent.allows("MARKER_RESEARCH")}
    return eligible, {pid: (p.stratum or "").startswith("CCR") for pid, p in people.items()}


@dataclass
class _Results:
    """The result rows of the demo's one import run, as they will be bulk inserted."""

    ctx: DemoContext
    ids: dict[str, int]
    run_id: int
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, sample_id: int, code: str, value: float | None, *, lod: float | None = None, day: int = 0,
            batch: str = "B1", original_unit: str | None = None) -> None:
        """Add one result: below ``lod`` it is a ``<LOD`` without value; assayed 20-90 days after ``day``."""
        qualifier = None
        if value is not None and lod is not None and value < lod:
            value, qualifier = None, "<LOD"
        assay = date.fromordinal(day) + timedelta(days=int(self.ctx.rng.integers(20, 90))) if day else None
        if assay is not None and assay > self.ctx.data_cut:
            assay = self.ctx.data_cut
        self.rows.append({
            "sample_id": sample_id, "marker_id": self.ids[code], "import_id": self.run_id,
            "value": None if value is None else float(round(value, 6)), "qualifier": qualifier,
            "original_value": None if value is None or original_unit is None else float(round(value, 6)),
            "original_unit": original_unit if value is not None else None, "replicate": 1,
            "run_id": f"{code[:6]}-{batch}", "batch_id": batch,
            "plate_id": f"P{len(self.rows) // 96 + 1:03d}", "assay_date": assay, "operator": "demo lab"})


def _measure(results: _Results, stype: str, tp: str, sid: int, day: int, resp: bool) -> None:
    """Measure one sample with the markers of its type; responders get the planted signal."""
    rng, add = results.ctx.rng, results.add
    if stype == "CTDNA_PLASMA":
        post = tp in POST_NCRT or tp.startswith("CRE")
        positive = rng.random() < ((0.15 if resp else 0.45) if post
                                   else (0.6 if tp == "MID_NCRT" else 0.95))
        median = 0.1 if post else 0.5
        vaf = float(rng.lognormal(np.log(median), 1.0)) if positive else float(rng.uniform(0.0, 0.009))
        add(sid, "CTDNA_VAF", vaf, lod=0.01, day=day)
    elif stype == "SERUM":
        for code, (_name, median, sd) in CYTOKINES.items():
            shift = (0.75 if resp else 1.3) if code in ("IL6", "IL8") else 1.0
            shift *= 1.3 if tp == "EOT" else 1.0
            add(sid, code, float(rng.lognormal(np.log(median * shift), sd)), lod=0.6, day=day,
                original_unit="ng/L" if code == "IL10" else None)
        scc = float(rng.lognormal(np.log(1.2 * (0.8 if resp and tp != "BASELINE" else 1.0)), 0.55))
        add(sid, "SCC_AG", scc, lod=0.1, day=day)
    elif stype == "WHOLE_BLOOD":
        base = float(rng.lognormal(np.log(2.4 * (0.8 if resp else 1.2)), 0.35))
        add(sid, "NLR", base * (2.5 if tp == "EOT" else 1.0), day=day)
    elif stype == "FFPE" and tp == "BASELINE":
        _tissue(results, sid, day, resp)
    elif stype == "STOOL":
        _microbiome(results, sid, day, resp)


def _tissue(results: _Results, sid: int, day: int, resp: bool) -> None:
    """PD-L1, TMB, TILs and CD8 density on the baseline biopsy."""
    rng, add = results.ctx.rng, results.add
    add(sid, "PDL1_CPS",
        float(min(100, round(rng.lognormal(np.log(10 * (1.4 if resp else 0.8)), 1.1)))), day=day)
    add(sid, "PDL1_TPS", float(min(100, round(rng.lognormal(np.log(1.0), 1.6), 1))), day=day)
    add(sid, "TMB", float(rng.lognormal(np.log(4.0), 0.6)), day=day)
    a, b = (3.0, 12.0) if resp else (2.0, 14.0)
    add(sid, "STILS", float(round(100 * rng.beta(a, b), 0)), day=day)
    add(sid, "CD8_DENSITY", float(rng.lognormal(np.log(150 * (1.4 if resp else 0.8)), 0.7)), lod=1.0,
        day=day)


def _microbiome(results: _Results, sid: int, day: int, resp: bool) -> None:
    """Relative abundances of the genera (a Dirichlet draw), tilted towards the responders' genera."""
    alpha = np.full(len(GENERA), 1.0)
    alpha[:3] = (8.0, 5.0, 4.0)
    for i, genus in enumerate(GENERA):
        if genus in RESPONDER_GENERA:
            alpha[i] *= 2.2 if resp else 0.8
        if genus in NON_RESPONDER_GENERA:
            alpha[i] *= 0.6 if resp else 1.8
    shares = results.ctx.rng.dirichlet(alpha * 2.0) * 100.0
    for genus, share in zip(GENERA, shares, strict=True):
        results.add(sid, f"MB_{genus.upper()}", float(share), lod=0.001, day=day)


def _remeasure(rows: list[dict[str, Any]], ids: dict[str, int], rng: np.random.Generator) -> None:
    """Add a few re-measurements: IL-6 and ctDNA repeated on the same sample in a later run."""
    repeats = [r for r in rows if r["marker_id"] in (ids["IL6"], ids["CTDNA_VAF"]) and r["value"] is not None]
    for r in [repeats[i] for i in rng.choice(len(repeats), size=min(8, len(repeats)), replace=False)]:
        rows.append({**r, "value": float(round(r["value"] * rng.normal(1.0, 0.08), 6)), "replicate": 2,
                     "original_value": None, "original_unit": None, "run_id": f"{r['run_id']}-RERUN",
                     "batch_id": "B2"})
