"""What an association screen is asked: its outcome, marker set, transform, cut, adjustment and timing.

The syntax of the parameters has one owner, :class:`RunParametersSchema`, loaded alike from the JSON body and
from the page's form (``lims.core.forms.form_data``); :func:`against_study` adds what only the study and the
catalogue know (its time points and sample types, the marker codes) and the rules that tie two parameters
together (a landmark needs a survival outcome, the optimal cut no covariates: a domain refusal, 400, not a
malformed body, 422).
"""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, fields, post_load, validate
from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.core.errors import DomainError
from lims.core.forms import load_or_refuse
from lims.markers.models import CATEGORIES, Marker
from lims.results import data
from lims.studies.models import SampleType, Study, TimePoint

CUTS = {"none": "continuous (per unit of the transformed marker)", "median": "median split (high vs low)",
        "optimal": "maximally selected cut (Lausen-Schumacher adjusted p)"}
TRANSFORMS = {"catalogue": "each marker's catalogue transform", "log2": "log2 (effect per doubling)",
              "log10": "log10 (effect per ten-fold)", "none": "none (raw)",
              "clr": "centred log-ratio (compositions)"}
MAX_LANDMARK_DAYS = 3650


def _one_of(name: str, choices: Any) -> validate.OneOf:
    return validate.OneOf(list(choices), error=f"{name} must be one of {{choices}}; got {{input!r}}")


class MarkerCodes(fields.List):
    """Marker codes: a list, or text such as ``IL6, IL8`` or ``IL6 IL8`` (the page's one text field)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(fields.String(validate=validate.Length(min=1, max=60)), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[Any]:
        items = [value] if isinstance(value, str) else value
        if isinstance(items, (list, tuple)) and all(isinstance(item, str) for item in items):
            items = [code for item in items for code in re.split(r"[\s,]+", item) if code]
        return super()._deserialize(items, attr, data, **kwargs)


def _number(name: str, description: str, *, unit: str = "", high: float | None = None) -> fields.Float:
    """An optional number >= 0 (at most ``high``) whose messages name the field, the value and the unit."""
    of = f" of {unit}" if unit else ""
    bounds = f"between 0 and {high:g} {unit}".rstrip() if high is not None else f">= 0{of}"
    return fields.Float(load_default=None, allow_none=True, metadata={"description": description},
                        validate=validate.Range(min=0, max=high,
                                                error=f"{name} must be {bounds}, got {{input:g}}"),
                        error_messages={"invalid": f"{name} must be a number{of}, got {{input!r}}",
                                        "special": f"{name} must be a finite number{of}"})


class RunParametersSchema(Schema):
    """An association screen's parameters, from a JSON body or from the associations page's form."""

    outcome = fields.String(required=True, validate=_one_of("outcome", data.OUTCOMES),
                            metadata={"description": "ccr, pcr, mpr, dfs_a, dfs_b, os or efs"})
    timepoint = fields.String(load_default="BASELINE", validate=validate.Length(min=1, max=40))
    sample_type = fields.String(required=True, validate=validate.Length(min=1, max=40))
    category = fields.String(load_default=None, allow_none=True, validate=_one_of("category", CATEGORIES),
                             metadata={"description": "Marker set: one catalogue category (all when empty)"})
    markers = MarkerCodes(load_default=list, validate=validate.Length(max=2000))
    transform = fields.String(load_default="log2", validate=_one_of("transform", TRANSFORMS))
    cut = fields.String(load_default="none", validate=_one_of("cut", CUTS))
    covariates = fields.List(fields.String(validate=validate.OneOf(
        list(data.COVARIATES), error="unknown adjustment covariate {input!r}; use {choices}")),
        load_default=list)
    pseudocount = _number("pseudocount", "Added to every value before a log transform; without it a marker "
                                         "with zeros is skipped (with a note)")
    landmark = _number("landmark", "Days after the time origin (survival outcomes)", unit="days",
                       high=MAX_LANDMARK_DAYS)
    allow_post_baseline = fields.Boolean(
        load_default=False,
        metadata={"description": "Analyse markers collected after the time origin from the origin anyway "
                                 "(guarantee-time bias; every output says so). Without it such markers need "
                                 "a landmark"})

    @post_load
    def _whole_numbers(self, params: dict[str, Any], **_: Any) -> dict[str, Any]:
        """Keep 120 as 120 (not 120.0): the run's conditions and saved parameters read as typed."""
        for name in ("pseudocount", "landmark"):
            value = params.get(name)
            if value is not None and float(value).is_integer():
                params[name] = int(value)
        return params


def choices(session: Session, study: Study) -> dict[str, list[tuple[str, str]]]:
    """Return the options of the associations form (time points and sample types of the study)."""
    timepoints = session.scalars(select(TimePoint).where(TimePoint.study_id == study.id)
                                 .order_by(TimePoint.order))
    types = session.scalars(select(SampleType).where(SampleType.study_id == study.id)
                            .order_by(SampleType.code))
    return {
        "outcome": [(k, o.label) for k, o in data.OUTCOMES.items()],
        "timepoint": [(t.code, t.name) for t in timepoints],
        "sample_type": [(t.code, t.name) for t in types],
        "category": [("", "All markers"), *[(c, c) for c in CATEGORIES]],
        "transform": list(TRANSFORMS.items()),
        "cut": list(CUTS.items()),
        "covariates": list(data.COVARIATES.items()),
    }


def check_parameters(session: Session, study: Study, raw: dict[str, Any]) -> dict[str, Any]:
    """Return clean screen parameters from a page's form data (or a dict), or raise DomainError naming the
    field.

    ``raw`` is loaded with :class:`RunParametersSchema`, then checked with :func:`against_study`.
    """
    return against_study(session, study, load_or_refuse(RunParametersSchema(), raw))


def against_study(session: Session, study: Study, params: dict[str, Any]) -> dict[str, Any]:
    """Check parameters :class:`RunParametersSchema` loaded against the study (time point, sample type), the
    marker catalogue (codes in any case, returned as catalogued) and the rules between parameters; return them
    with lists in a fixed order, or raise DomainError naming the field."""
    options = choices(session, study)
    for field in ("timepoint", "sample_type"):
        allowed = [k for k, _ in options[field]]
        if params[field] not in allowed:
            raise DomainError(f"{field.replace('_', ' ')} must be one of {', '.join(allowed)}; "
                              f"got {params[field]!r}", field=field)
    known = {code.lower(): code for code in session.scalars(select(Marker.code))}
    unknown = sorted({m for m in params["markers"] if m.lower() not in known})
    if unknown:
        raise DomainError(f"unknown marker(s) {', '.join(unknown)}; use codes from the marker catalogue",
                          field="markers")
    params["markers"] = sorted({known[m.lower()] for m in params["markers"]})
    params["covariates"] = [c for c in data.COVARIATES if c in params["covariates"]]
    spec = data.OUTCOMES[params["outcome"]]
    if params["landmark"] is not None and spec.kind != "survival":
        raise DomainError(f"a landmark applies to survival outcomes only, not to {spec.label}",
                          field="landmark")
    if params["cut"] == "optimal" and params["covariates"]:
        raise DomainError("the optimal cut has no adjusted p-value with covariates; use the median split or "
                          "none", field="cut")
    return params
