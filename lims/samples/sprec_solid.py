"""SPREC rules of a solid-tissue sample's own elements: warm and cold ischaemia and fixation time (bands and
choices: lims.samples.sprec). Each rule gives its letter and, deferred, the reason."""

from __future__ import annotations

import math

from lims.samples.sprec_rules import (
    NO_FIXATION_TIME,
    NO_WARM_ISCHAEMIA_COLLECTIONS,
    NONE,
    OTHER,
    UNKNOWN,
    Letter,
    SolidPreanalytics,
    band,
    code3,
    duration,
    minutes_between,
    not_recorded,
    storage_element,
)


def solid_elements(p: SolidPreanalytics) -> list[tuple[str, Letter]]:
    """(element, (letter, reason)) for each element of a solid-tissue sample's SPREC, in code order."""
    return [
        ("Type of sample", code3(p.sprec_type, "sample type")),
        ("Type of collection", code3(p.collection_type, "collection type")),
        ("Warm ischaemia", _warm_ischaemia(p)),
        ("Cold ischaemia", _cold_ischaemia(p)),
        ("Fixation type", code3(p.fixation_type, "fixation type")),
        ("Fixation time", _fixation_time(p)),
        ("Long-term storage", storage_element(p.storage_container, p.storage_temp_c, None,
                                              p.storage_via_minus80)),
    ]


_ISCHAEMIA_BANDS = ((2, "A"), (10, "B"), (20, "C"), (30, "D"), (60, "E"), (math.inf, "F"))


def _warm_ischaemia(p: SolidPreanalytics) -> Letter:
    collection = (p.collection_type or "").upper()
    if collection in NO_WARM_ISCHAEMIA_COLLECTIONS:
        return NONE, lambda: f"{collection}: no vascular clamping, warm ischaemia not applicable"
    minutes = minutes_between(p.clamped_at, p.excised_at)
    if minutes is None:
        missing = not_recorded(clamping_time=p.clamped_at, excision_time=p.excised_at)
        return UNKNOWN, lambda: f"{missing} not recorded"
    return band(minutes, _ISCHAEMIA_BANDS, "clamping to excision")


def _cold_ischaemia(p: SolidPreanalytics) -> Letter:
    minutes = minutes_between(p.excised_at, p.fixation_started_at)
    if minutes is None:
        missing = not_recorded(excision_time=p.excised_at, fixation_or_freezing_start=p.fixation_started_at)
        return UNKNOWN, lambda: f"{missing} not recorded"
    return band(minutes, _ISCHAEMIA_BANDS, "excision to fixation/freezing")


def _fixation_time(p: SolidPreanalytics) -> Letter:
    fixation = (p.fixation_type or "").upper()
    if fixation in NO_FIXATION_TIME:
        return NONE, lambda: f"{fixation}: frozen, not fixed"
    if not fixation:
        return UNKNOWN, lambda: "fixation type not recorded"
    minutes = minutes_between(p.fixation_started_at, p.fixation_ended_at)
    if minutes is None:
        missing = not_recorded(fixation_start=p.fixation_started_at, fixation_end=p.fixation_ended_at)
        return UNKNOWN, lambda: f"{missing} not recorded"
    if minutes < 0:
        return UNKNOWN, lambda: "fixation ends before it starts: check the times"
    if 15 <= minutes <= 60:  # domain.md: "B <= 1 h", so exactly 60 min is B
        return "B", lambda: f"{duration(minutes)} in {fixation}"
    bands = ((15, "A"), (240, "C"), (480, "D"), (1440, "E"), (2880, "F"), (4320, "G"))
    for upper, letter in bands:
        if minutes < upper:
            return letter, lambda: f"{duration(minutes)} in {fixation}"
    return OTHER, lambda: f"{duration(minutes)} in {fixation}: SPREC fixation times end at 72 h"
