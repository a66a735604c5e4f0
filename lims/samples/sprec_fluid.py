"""SPREC rules of a fluid sample's own elements: pre-centrifugation, the two centrifugations and
post-centrifugation (bands and choices: lims.samples.sprec). Each rule gives its letter and, deferred, the
reason (only the sample page asks for it)."""

from __future__ import annotations

import math

from lims.samples.sprec_rules import (
    FICOLL_SPIN_MINUTES,
    NONE,
    OTHER,
    POSTSPIN_NOT_APPLICABLE_TYPES,
    SPIN_MINUTES,
    UNKNOWN,
    FluidPreanalytics,
    Letter,
    code3,
    degrees,
    duration,
    minutes_between,
    not_recorded,
    storage_element,
    temperature_zone,
    within,
    zone_label,
)


def fluid_elements(p: FluidPreanalytics) -> list[tuple[str, Letter]]:
    """(element, (letter, reason)) for each element of a fluid sample's SPREC, in code order."""
    spun = _was_spun(p)
    second = _second_spin(p, spun)
    return [
        ("Type of sample", code3(p.sprec_type, "sample type")),
        ("Primary container", code3(p.container_code, "primary container")),
        ("Pre-centrifugation", _precentrifugation(p)),
        ("Centrifugation", _first_spin(p, spun)),
        ("Second centrifugation", second),
        ("Post-centrifugation", _postcentrifugation(p, spun, second[0])),
        ("Long-term storage", storage_element(p.storage_container, p.storage_temp_c, p.aliquot_volume_ul,
                                              p.storage_via_minus80)),
    ]


_PRECENTRIFUGATION_BANDS = (  # upper bound (min, exclusive), RT letter, 2-10 C letter
    (120, "A", "B"),
    (240, "C", "D"),
    (480, "E", "F"),
    (720, "G", "H"),
    (1440, "I", "J"),
    (2880, "K", "L"),
    (math.inf, "M", "N"),
)

_POSTCENTRIFUGATION_BANDS = (  # upper bound (min, exclusive), 2-10 C letter, RT letter (cold first here)
    (60, "A", "B"),
    (120, "C", "D"),
    (480, "E", "F"),
    (1440, "G", "H"),
    (math.inf, "I", "J"),
)


def _precentrifugation(p: FluidPreanalytics) -> Letter:
    delay = minutes_between(p.collected_at, p.processing_started_at)
    if delay is None:
        missing = not_recorded(collection_time=p.collected_at, processing_start=p.processing_started_at)
        return UNKNOWN, lambda: f"{missing} not recorded"
    if delay < 0:
        return UNKNOWN, lambda: f"processing start is {duration(-delay)} before collection: check the times"
    t = p.precentrifugation_temp_c
    if t is None:
        return UNKNOWN, lambda: f"{duration(delay)}; temperature while waiting not recorded"
    zone = temperature_zone(t)
    if zone == "body":
        if delay < 120:
            return "O", lambda: f"35-38 °C ({degrees(t)}), {duration(delay)}"
        return OTHER, lambda: f"{degrees(t)} for {duration(delay)}: SPREC has 35-38 °C only for < 2 h"
    if zone is None:
        return OTHER, lambda: (f"{degrees(t)} is outside SPREC's RT (18-28 °C) and 2-10 °C ranges; "
                               f"{duration(delay)}")
    letter = next(rt if zone == "RT" else cold for upper, rt, cold in _PRECENTRIFUGATION_BANDS
                  if delay < upper)
    return letter, lambda: f"{zone_label(zone, t)}, {duration(delay)}"


def _was_spun(p: FluidPreanalytics) -> bool | None:
    if p.spun is False:
        return False
    if p.spun or any(v is not None for v in (p.spin1_g, p.spin1_min, p.spin1_temp_c, p.spin1_brake)):
        return True
    return None


def _first_spin(p: FluidPreanalytics, spun: bool | None) -> Letter:
    if spun is False:
        return NONE, lambda: "sample type is not centrifuged"
    if spun is None:
        return UNKNOWN, lambda: "centrifugation not recorded"
    return _spin(p.spin1_g, p.spin1_min, p.spin1_temp_c, p.spin1_brake, ficoll_allowed=True)


def _second_spin(p: FluidPreanalytics, spun: bool | None) -> Letter:
    values = (p.spin2_g, p.spin2_min, p.spin2_temp_c, p.spin2_brake)
    if spun is False:
        return NONE, lambda: "sample type is not centrifuged"
    if p.spin2_done is False:
        if any(v is not None for v in values):
            return UNKNOWN, lambda: "marked as no second centrifugation, yet second-spin values are recorded"
        return NONE, lambda: "no second centrifugation"
    if p.spin2_done is None and all(v is None for v in values):
        return UNKNOWN, lambda: "whether a second centrifugation was done is not recorded"
    return _spin(*values, ficoll_allowed=False)


def _spin(
    g: float | None, minutes: float | None, temp: float | None, brake: bool | None, *, ficoll_allowed: bool
) -> Letter:
    missing = not_recorded(speed=g, duration=minutes, temperature=temp)
    if missing:
        return UNKNOWN, lambda: f"{missing} not recorded"
    assert g is not None and minutes is not None and temp is not None
    zone = temperature_zone(temp)

    def desc() -> str:
        return f"{g:g} g, {minutes:g} min, {degrees(temp)}"
    if ficoll_allowed and zone == "RT" and g < 1000 and within(minutes,
                                                                FICOLL_SPIN_MINUTES) and brake is not True:
        if brake is None:
            return UNKNOWN, lambda: f"{desc()}; brake not recorded (no brake would be M)"
        return "M", lambda: f"{desc()}, no brake (density-gradient spin)"
    if not within(minutes, SPIN_MINUTES):
        return OTHER, lambda: f"{desc()}: SPREC bands are 10-15 min"
    if zone not in ("RT", "cold"):
        return OTHER, lambda: f"{desc()}: SPREC bands are RT (18-28 °C) or 2-10 °C"
    rt = zone == "RT"
    if g < 3000:
        if brake is None:
            return UNKNOWN, lambda: f"{desc()}; brake not recorded (decides {'A/B' if rt else 'C/D'})"
        letter = ("B" if brake else "A") if rt else ("D" if brake else "C")
        return letter, lambda: f"{desc()}, {'brake on' if brake else 'no brake'}"
    # Above 3000 g SPREC has one letter per speed band and temperature: braking is not coded.
    if g < 6000:
        letter = "E" if rt else "F"
    elif g < 10000:
        letter = "G" if rt else "H"
    else:
        letter = "I" if rt else "J"
    return letter, desc


def _postcentrifugation(p: FluidPreanalytics, spun: bool | None, second_letter: str) -> Letter:
    if spun is False:
        return NONE, lambda: "sample type is not centrifuged"
    if p.sprec_type and p.sprec_type.upper() in POSTSPIN_NOT_APPLICABLE_TYPES:
        return NONE, lambda: "viable cells: resuspended after the spin, so no post-centrifugation delay"
    if spun is None:
        return UNKNOWN, lambda: "centrifugation not recorded"
    if p.frozen_at is None:
        return UNKNOWN, lambda: "time placed in storage not recorded"
    exact = True
    if p.last_spin_ended_at is not None:
        delay = minutes_between(p.last_spin_ended_at, p.frozen_at)
    elif p.processing_started_at is None or p.spin1_min is None:
        return UNKNOWN, lambda: "end of centrifugation not recorded"
    else:
        spin_time = p.spin1_min
        if second_letter != NONE:
            # The gap between the two spins is not stored, so this is only an upper bound on the delay.
            exact = False
            spin_time += p.spin2_min or 0.0
        delay = minutes_between(p.processing_started_at, p.frozen_at)
        delay = None if delay is None else delay - spin_time
    assert delay is not None
    if delay < 0:
        return UNKNOWN, lambda: "storage time is before the end of centrifugation: check the times"
    if not exact and delay >= 60:
        return UNKNOWN, lambda: (f"end of the second spin not recorded; delay is between 0 and "
                                 f"{duration(delay)}")
    t = p.postspin_temp_c

    def shown() -> str:
        return duration(delay) if exact else f"under {duration(delay)}"
    if t is None:
        return UNKNOWN, lambda: f"{shown()}; temperature after centrifugation not recorded"
    zone = temperature_zone(t)
    if zone not in ("RT", "cold"):
        return OTHER, lambda: f"{degrees(t)} is outside SPREC's RT (18-28 °C) and 2-10 °C ranges; {shown()}"
    letter = next(cold if zone == "cold" else rt for upper, cold, rt in _POSTCENTRIFUGATION_BANDS
                  if delay < upper)
    return letter, lambda: f"{zone_label(zone, t)}, {shown()}"
