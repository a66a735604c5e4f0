"""What a signature run is asked: its outcomes, modes and thresholds, the form's options, and one check.

The syntax of the parameters has one owner, :class:`RunParametersSchema`, loaded alike from the JSON body and
from the page's form; :func:`check_parameters` adds what only the study knows (its time points and sample
types, the marker catalogue).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, TypedDict

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis.signatures.spec import PENALTIES, TRANSFORMS
from lims.core.errors import DomainError
from lims.core.fields import Boolean
from lims.core.forms import load_or_refuse
from lims.markers.models import CATEGORIES, Marker
from lims.results import data
from lims.studies.models import SampleType, Study, TimePoint


class Mode(TypedDict):
    """How thorough a run is: repeats of the nested cross-validation and permutations of the outcome."""

    repeats: int
    permutations: int
    label: str


REGROWTH_DAYS = 365
PREDICTABLE = ("pcr", "mpr")
DEFAULT_THRESHOLDS = (0.1, 0.2, 0.3, 0.4)
# Full: the design. Quick: the same nested CV with fewer repeats and permutations (a few seconds).
MODES: dict[str, Mode] = {
    "quick": {"repeats": 2, "permutations": 19,
              "label": "Quick (2 repeats, 19 permutations: p cannot go below 0.05; a few seconds)"},
    "full": {"repeats": 5, "permutations": 200,
             "label": "Full (5 repeats, 200 permutations; tens of seconds)"},
}
PENALTY_LABELS = {"l1": "L1 (lasso)", "elasticnet": "Elastic net (L1 share 0.5)", "ridge": "Ridge (L2)",
                  "none": "None (unpenalised)"}


@dataclass(frozen=True)
class SignatureOutcome:
    """An outcome of the signatures page: the frame's outcome, which value the model predicts, and what it
    means."""

    key: str
    label: str
    kind: str
    frame: data.Outcome
    event: float | None
    event_label: str
    watch_and_wait: bool


REGROWTH = data.Outcome(
    "regrowth_1y", "Regrowth by 1 year", "binary", "regrowth_1y", None,
    f"Local regrowth within {REGROWTH_DAYS} days of randomisation among participants who followed watch and "
    f"wait; participants without regrowth whose last disease assessment came before day {REGROWTH_DAYS} are "
    "left out.")

OUTCOMES = {
    "pcr": SignatureOutcome("pcr", "pCR (predicts residual disease)", "binary", data.OUTCOMES["pcr"], 0.0,
                            "residual disease (no pCR)", True),
    "mpr": SignatureOutcome("mpr", "MPR (predicts no MPR)", "binary", data.OUTCOMES["mpr"], 0.0,
                            "no major pathological response", True),
    "ccr": SignatureOutcome("ccr", "cCR at CRE1 (predicts no cCR)", "binary", data.OUTCOMES["ccr"], 0.0,
                            "no cCR at CRE1", False),
    "regrowth_1y": SignatureOutcome("regrowth_1y", "Regrowth by 1 year (watch and wait)", "binary", REGROWTH,
                                    1.0,
                                    f"local regrowth within {REGROWTH_DAYS} days", True),
    **{k: SignatureOutcome(k, o.label, "survival", o, None, "event", False)
       for k, o in data.OUTCOMES.items() if o.kind == "survival"},
}



FOLDS = "must be between {min} and {max}, got {input}"


class Thresholds(fields.Field):
    """Watch-and-wait thresholds: a list of probabilities, or text such as ``0.1, 0.2`` (a page's field)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[float]:
        items = value if isinstance(value, (list, tuple)) else str(value).replace(";", ",").replace(" ", ",")
        items = [v for v in (items.split(",") if isinstance(items, str) else items) if str(v).strip()]
        if not items:
            return list(DEFAULT_THRESHOLDS)
        out = []
        for item in items:
            try:
                t = float(item)
            except (TypeError, ValueError):
                raise ValidationError(f"threshold {item!r} is not a number; give probabilities such as 0.1, "
                                      "0.2"
                                      ) from None
            if not (math.isfinite(t) and 0 < t < 1):
                raise ValidationError(f"threshold {t:g} must lie strictly between 0 and 1")
            out.append(t)
        if len(out) > 12:
            raise ValidationError("give at most 12 thresholds")
        return sorted(set(out))


class RunParametersSchema(Schema):
    """A signature run's parameters, from a JSON body or from the signatures page's form."""

    outcome = fields.String(load_default="pcr", validate=validate.OneOf(list(OUTCOMES)),
                            metadata={"description": ", ".join(OUTCOMES)})
    timepoint = fields.String(load_default="BASELINE", validate=validate.Length(min=1, max=40))
    sample_types = fields.List(fields.String(validate=validate.Length(min=1, max=40)), required=True,
                               validate=validate.Length(min=1, max=20),
                               metadata={"description": "Markers of several sample types form one panel"})
    category = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(CATEGORIES))
    markers = fields.List(fields.String(validate=validate.Length(min=1, max=60)), load_default=list,
                          validate=validate.Length(max=2000),
                          metadata={"description": "Marker codes (empty: every marker measured at the time "
                                                   "point)"})
    covariates = fields.List(fields.String(validate=validate.OneOf(list(data.COVARIATES))), load_default=list,
                             metadata={"description": "Forced baseline covariates, never penalised"})
    transform = fields.String(load_default="log2", validate=validate.OneOf(list(TRANSFORMS)))
    penalty = fields.String(load_default="l1", validate=validate.OneOf(list(PENALTIES)))
    mode = fields.String(load_default="quick", validate=validate.OneOf(list(MODES)),
                         metadata={"description": "; ".join(m["label"] for m in MODES.values())})
    outer_folds = fields.Integer(load_default=5, validate=validate.Range(min=2, max=10, error=FOLDS))
    inner_folds = fields.Integer(load_default=4, validate=validate.Range(min=2, max=10, error=FOLDS))
    ccr_only = Boolean(load_default=False, metadata={"description": "Only cCR participants (pCR, MPR)"})
    thresholds = Thresholds(load_default=lambda: list(DEFAULT_THRESHOLDS),
                            metadata={"description": "Probabilities strictly between 0 and 1 (at most 12)"})

    @validates_schema
    def _ccr_only(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("ccr_only") and data.get("outcome") not in PREDICTABLE:
            raise ValidationError("'only cCR participants' applies to pCR and MPR (the watch-and-wait "
                                  "question among resected cCR participants)", field_name="ccr_only")


def choices(session: Session, study: Study) -> dict[str, list[tuple[str, str]]]:
    """Return the options of the signatures form."""
    timepoints = session.scalars(select(TimePoint).where(TimePoint.study_id == study.id)
                                 .order_by(TimePoint.order))
    types = session.scalars(select(SampleType).where(SampleType.study_id == study.id)
                            .order_by(SampleType.code))
    markers = session.scalars(select(Marker).order_by(Marker.category, Marker.code))
    return {
        "outcome": [(k, o.label) for k, o in OUTCOMES.items()],
        "timepoint": [(t.code, t.name) for t in timepoints],
        "sample_types": [(t.code, t.name) for t in types],
        "category": [("", "All markers"), *[(c, c) for c in CATEGORIES]],
        "markers": [(m.code, f"{m.code} ({m.category})") for m in markers],
        "covariates": list(data.COVARIATES.items()),
        "transform": [(t, t) for t in TRANSFORMS],
        "penalty": [(p, PENALTY_LABELS[p]) for p in PENALTIES],
        "mode": [(k, m["label"]) for k, m in MODES.items()],
    }


def check_parameters(session: Session, study: Study, raw: dict[str, Any]) -> dict[str, Any]:
    """Return clean run parameters from a page's form data (or a dict), or raise DomainError naming the field.

    ``raw`` is loaded with :class:`RunParametersSchema`, then checked with :func:`against_study`.
    """
    return against_study(session, study, load_or_refuse(RunParametersSchema(), raw))


def against_study(session: Session, study: Study, params: dict[str, Any]) -> dict[str, Any]:
    """Check parameters :class:`RunParametersSchema` loaded against the study: its time points and sample
    types, and the marker catalogue; return them in the study's order, or raise DomainError naming the
    field."""
    options = choices(session, study)
    timepoints = [k for k, _ in options["timepoint"]]
    if params["timepoint"] not in timepoints:
        raise DomainError(f"timepoint must be one of {', '.join(timepoints)}; got {params['timepoint']!r}",
                          field="timepoint")
    kinds = [k for k, _ in options["sample_types"]]
    unknown_types = sorted(set(params["sample_types"]) - set(kinds))
    if unknown_types:
        raise DomainError(f"choose one or more sample types from {', '.join(kinds)}; unknown: "
                          f"{', '.join(unknown_types)}", field="sample_types")
    params["sample_types"] = [t for t in kinds if t in set(params["sample_types"])]
    known = {k for k, _ in options["markers"]}
    markers = sorted(set(params["markers"]))
    unknown = [m for m in markers if m not in known]
    if unknown:
        raise DomainError(f"unknown marker(s) {', '.join(unknown)}; pick markers from the catalogue",
                          field="markers")
    params["markers"] = markers
    params["covariates"] = [c for c in data.COVARIATES if c in params["covariates"]]
    return params


