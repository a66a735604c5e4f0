"""What pre-analytical values are possible: physical ranges, the protocol's required fields, storage ranges.

The one owner of "is this value possible at a bench": the processing page, the tissue form, their JSON API and
the services all ask :func:`problems`. Physical ranges are facts of the equipment (no centrifuge spins at
-1600 g, nothing is stored at +80 °C) and live here; what a study requires per sample type (which values must
be recorded, at which temperature a type is kept) comes from its protocol file.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from lims.access.dates import from_local
from lims.core.errors import DomainError
from lims.core.vocabulary import COLLECTION_TYPES, FIXATIONS, field_label
from lims.studies.models import SampleType

# field -> (lowest, highest, unit): what laboratory equipment can physically do.
RANGES: dict[str, tuple[float, float, str]] = {
    "precentrifugation_temp_c": (-5.0, 45.0, "°C"),
    "spin1_g": (50.0, 100_000.0, "g"),
    "spin2_g": (50.0, 100_000.0, "g"),
    "spin1_min": (1.0, 240.0, "min"),
    "spin2_min": (1.0, 240.0, "min"),
    "spin1_temp_c": (-20.0, 45.0, "°C"),
    "spin2_temp_c": (-20.0, 45.0, "°C"),
    "postspin_temp_c": (-5.0, 45.0, "°C"),
    "storage_temp_c": (-200.0, 40.0, "°C"),
}
STORAGE_CONTAINERS = ("PP", "CRYO", "PRIMARY", "PARAFFIN")
TISSUE_CONTAINERS = ("CRYO", "PARAFFIN", "PRIMARY")
COLLECTION_CODES = tuple(COLLECTION_TYPES)
FIXATION_CODES = tuple(FIXATIONS)
FROZEN_FIXATIONS = ("SNP", "OCT")
# Collections with vascular clamping: the clamping time starts warm ischaemia and must be recorded.
CLAMPED_COLLECTIONS = ("SRG",)
# No step of processing or fixation takes longer than this after collection (a typo in the date, not a delay).
MAX_SPAN = timedelta(days=90)
TIME_ORDER = ("collected_at", "processing_started_at", "last_spin_ended_at", "frozen_at")
TISSUE_ORDER = ("clamped_at", "excised_at", "fixation_started_at", "fixation_ended_at")


def range_problem(name: str, value: Any) -> str | None:
    """Return why ``value`` is physically impossible for field ``name``, or None."""
    if name not in RANGES or value is None:
        return None
    low, high, unit = RANGES[name]
    if not low <= float(value) <= high:
        return f"{float(value):g} {unit} is impossible here: give a value from {low:g} to {high:g} {unit}"
    return None


def storage_problem(sample_type: SampleType, temp: float | None) -> str | None:
    """Return why ``sample_type`` may not be stored at ``temp`` under the protocol, or None."""
    if temp is None or sample_type.storage_min_c is None or sample_type.storage_max_c is None:
        return None
    if not sample_type.storage_min_c <= temp <= sample_type.storage_max_c:
        return (f"{sample_type.name} is kept at {sample_type.storage_min_c:g} to "
                f"{sample_type.storage_max_c:g} °C under the protocol, not at {temp:g} °C")
    return None


def required_fields(types: Iterable[SampleType]) -> list[str]:
    """Return the pre-analytical fields the protocol requires for making samples of ``types``, in order."""
    out: list[str] = []
    for sample_type in types:
        for name in sample_type.preanalytics or []:
            if name not in out:
                out.append(name)
    return out


def problems(values: Mapping[str, Any], types: Iterable[SampleType], *,
             collected_at: datetime | None = None, now: datetime | None = None) -> dict[str, str]:
    """Return every problem of a set of pre-analytical values for making ``types``: {field: message}."""
    types = list(types)
    found: dict[str, str] = {}
    recorded = {k: v for k, v in values.items() if v is not None and v != ""}
    # Choices a form always sends (a tube type, a brake box) are no record: a time or a number must be there.
    measured = [v for v in recorded.values() if isinstance(v, (datetime, int, float))
                and not isinstance(v, bool)]
    if not measured:
        return {"form": "no pre-analytical value was filled in: record how the sample was handled"}
    for name in required_fields(types):
        if name not in recorded:
            found[name] = f"required by the protocol for {', '.join(t.name for t in types)}"
    for name, value in recorded.items():
        problem = range_problem(name, value)
        if problem:
            found[name] = problem
    temp = recorded.get("storage_temp_c")
    if "storage_temp_c" not in found:
        for sample_type in types:
            problem = storage_problem(sample_type, temp)
            if problem:
                found["storage_temp_c"] = problem
                break
    container = recorded.get("storage_container")
    if container is not None and container not in STORAGE_CONTAINERS:
        found["storage_container"] = (f"unknown storage container {container!r}; use "
                                      f"{', '.join(STORAGE_CONTAINERS)}")
    found.update(time_problems(recorded, collected_at=collected_at, now=now))
    return found


def time_problems(values: Mapping[str, Any], *, collected_at: datetime | None = None,
                  now: datetime | None = None) -> dict[str, str]:
    """Check that the recorded times happened, in order, after collection and within a plausible span."""
    found: dict[str, str] = {}
    now = now or datetime.now().astimezone()
    stamps = {k: v for k, v in values.items() if isinstance(v, datetime)}
    if collected_at is not None:
        stamps.setdefault("collected_at", collected_at)
    for name, value in stamps.items():
        if value > now:
            found[name] = "is in the future"
        elif (collected_at is not None and name not in ("collected_at", "clamped_at")
              and value < collected_at):
            found[name] = "is before the collection time"
        elif collected_at is not None and value - collected_at > MAX_SPAN:
            found[name] = f"is more than {MAX_SPAN.days} days after collection: check the date"
    for order in (TIME_ORDER, TISSUE_ORDER):
        seen = [(k, stamps[k]) for k in order if k in stamps]
        for (a, ta), (b, tb) in itertools.pairwise(seen):
            if tb < ta and b not in found:
                steps = " → ".join(map(field_label, order))
                found[b] = f"is before the {field_label(a)}: the times must follow {steps}"
    return found


def tissue_problems(values: Mapping[str, Any], sample_type: SampleType, *,
                    collected_at: datetime | None = None,
                    now: datetime | None = None) -> dict[str, str]:
    """Return the problems of a tissue form: the common checks plus collection, fixation and storage rules."""
    found = problems(values, [sample_type], collected_at=collected_at, now=now)
    collection = values.get("collection_type")
    fixation = values.get("fixation_type")
    container = values.get("storage_container")
    if collection is not None and collection not in COLLECTION_CODES:
        found["collection_type"] = (f"unknown type of collection {collection!r}; use "
                                    f"{', '.join(COLLECTION_CODES)}")
    if fixation is not None and fixation not in FIXATION_CODES:
        found["fixation_type"] = f"unknown fixation {fixation!r}; use {', '.join(FIXATION_CODES)}"
    if collection in CLAMPED_COLLECTIONS and values.get("clamped_at") is None:
        found["clamped_at"] = "a surgical specimen needs the clamping time (start of warm ischaemia)"
    if collection is not None and collection not in CLAMPED_COLLECTIONS and values.get(
        "clamped_at") is not None:
        found["clamped_at"] = f"{COLLECTION_TYPES.get(collection, collection)} has no vascular clamping"
    if fixation in FROZEN_FIXATIONS:
        if values.get("fixation_ended_at") is not None:
            found["fixation_ended_at"] = "a frozen specimen is not fixed: leave the end of fixation empty"
        if container == "PARAFFIN":
            found["storage_container"] = "a frozen specimen cannot be kept in a paraffin block"
    elif fixation is not None and container == "PARAFFIN" and values.get("fixation_ended_at") is None:
        found.setdefault("fixation_ended_at", "give the end of fixation (it decides the fixation time)")
    if container is not None and container not in TISSUE_CONTAINERS:
        found["storage_container"] = f"tissue is kept in {', '.join(TISSUE_CONTAINERS)}, not {container!r}"
    if container == "PARAFFIN" and fixation in (None, *FROZEN_FIXATIONS):
        found.setdefault("fixation_type", "a paraffin block needs a fixation such as NBF")
    return found


def localise(values: Mapping[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    """Return ``values`` with every time typed without an offset read as the study's local time, in UTC."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        try:
            out[key] = from_local(value, zone) if isinstance(value, datetime) else value
        except (OverflowError, ValueError):
            raise DomainError(f"{value.isoformat()} is not a usable time", field=key) from None
    return out
