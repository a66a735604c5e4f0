"""The SPREC rule table shared by fluid and solid samples: the inputs, the unknown/other/none letters, the
temperature and time ranges, the storage element, and the helpers every element rule uses (bands and
choices: lims.samples.sprec). A rule returns a :data:`Letter`: the letter, and the reason as a function
called only when an explanation is asked for, so a code alone costs no text."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

UNKNOWN = "X"
OTHER = "Z"
NONE = "N"

RT_C = (18.0, 28.0)
COLD_C = (2.0, 10.0)
BODY_C = (35.0, 38.0)
MINUS80_C = (-85.0, -60.0)
MINUS20_C = (-35.0, -18.0)
LN2_MAX_C = -150.0
BELOW_135_C = -135.0
SPIN_MINUTES = (10.0, 15.0)
FICOLL_SPIN_MINUTES = (25.0, 35.0)

# Viable-cell preparations are washed and resuspended in freezing medium after the spin, so the standard's
# post-centrifugation delay (spin to freezing of the supernatant/fraction) does not apply: domain.md codes
# PBMC as CEL-PED-C-M-N-N-N.
POSTSPIN_NOT_APPLICABLE_TYPES = frozenset({"CEL", "BUF", "CLN"})
# Collection types without vascular clamping, so warm ischaemia is "N" (SPREC: biopsies, aspirates, swabs).
NO_WARM_ISCHAEMIA_COLLECTIONS = frozenset({"BPS", "BCM", "BSL", "BTM", "ASN", "PUN", "SWB"})
# Frozen rather than fixed: fixation time is "N".
NO_FIXATION_TIME = frozenset({"SNP", "OCT"})


class SprecError(ValueError):
    """A code value that cannot appear in a SPREC (wrong length or characters)."""


@dataclass(frozen=True)
class FluidPreanalytics:
    """Raw pre-analytical facts of a fluid sample (mirrored by Sample columns)."""

    sprec_type: str | None = None
    container_code: str | None = None
    collected_at: datetime | None = None
    processing_started_at: datetime | None = None
    precentrifugation_temp_c: float | None = None
    spin1_g: float | None = None
    spin1_min: float | None = None
    spin1_temp_c: float | None = None
    spin1_brake: bool | None = None
    spin2_g: float | None = None
    spin2_min: float | None = None
    spin2_temp_c: float | None = None
    spin2_brake: bool | None = None
    spin2_done: bool | None = None
    postspin_temp_c: float | None = None
    frozen_at: datetime | None = None
    storage_temp_c: float | None = None
    storage_container: str | None = None
    storage_via_minus80: bool | None = None
    aliquot_volume_ul: float | None = None
    spun: bool | None = None
    # Added: end of the last centrifugation.  Without it the post-centrifugation delay is only known when
    # there was no second spin (end = start + spin1_min) or when even its upper bound is under 1 h.
    last_spin_ended_at: datetime | None = None


@dataclass(frozen=True)
class SolidPreanalytics:
    """Raw pre-analytical facts of a solid-tissue sample (mirrored by Sample columns)."""

    sprec_type: str | None = None
    collection_type: str | None = None
    clamped_at: datetime | None = None
    excised_at: datetime | None = None
    fixation_started_at: datetime | None = None
    fixation_ended_at: datetime | None = None
    fixation_type: str | None = None
    storage_temp_c: float | None = None
    storage_container: str | None = None
    storage_via_minus80: bool | None = None


Reason = Callable[[], str]
Letter = tuple[str, Reason]


def storage_element(
    container: str | None, temp: float | None, volume_ul: float | None, via_minus80: bool | None
) -> Letter:
    """Long-term storage, fluid and solid alike."""
    if container is None:
        return UNKNOWN, lambda: "storage container not recorded"
    kind = container.strip().upper()
    if kind == "PARAFFIN":
        if temp is None or temperature_zone(temp) in ("RT", "cold"):
            return "P", lambda: "paraffin block" + ("" if temp is None else f", {degrees(temp)}")
        return OTHER, lambda: f"paraffin block at {degrees(temp)}"
    if temp is None:
        return UNKNOWN, lambda: f"{container_label(kind)}; storage temperature not recorded"
    zone = storage_zone(temp)

    def label() -> str:
        return f"{container_label(kind)}, {degrees(temp)}"

    if kind == "PP":
        return _pp_storage(zone, volume_ul, label)
    if kind == "CRYO":
        if zone == "-80":
            return "D", label
        if zone == "LN":
            if via_minus80 is None:
                return UNKNOWN, lambda: (f"{label()}; whether it went through -80 °C first is not recorded "
                                         "(C or N)")
            if via_minus80:
                return "N", lambda: f"{label()}, after -80 °C"
            return "C", lambda: f"{label()}, straight into nitrogen"
        return OTHER, lambda: (f"{label()}: SPREC codes cryotubes at -80 °C or in liquid nitrogen "
                               "(<= -150 °C) only")
    if kind == "PRIMARY":
        if zone in ("-80", "-20"):
            return "Y", label
        return OTHER, lambda: (f"{label()}: SPREC codes the primary container at -85 to -60 °C or -35 to "
                               "-18 °C only")
    return OTHER, lambda: f"container {container!r} has no SPREC storage letter"


def _pp_storage(zone: str | None, volume_ul: float | None, label: Reason) -> Letter:
    if volume_ul is None:
        return UNKNOWN, lambda: f"{label()}; aliquot volume not recorded (decides 0.5-2 mL vs 40-500 µL)"

    def sized() -> str:
        return f"{label()}, {volume_ul:g} µL"

    below_135 = zone in ("LN", "<-135")
    if 500 <= volume_ul <= 2000:
        letter = "V" if below_135 else {"-80": "A", "-20": "B"}.get(zone or "")
    elif 40 <= volume_ul < 500:
        letter = "W" if below_135 else {"-80": "S", "-20": "T"}.get(zone or "")
    else:
        return OTHER, lambda: f"{sized()}: SPREC PP tube sizes are 40-500 µL and 0.5-2 mL"
    if letter:
        return letter, sized
    return OTHER, lambda: f"{sized()}: no SPREC letter for this temperature"


def code3(value: str | None, what: str) -> Letter:
    if value is None or not value.strip():
        return UNKNOWN * 3, lambda: f"{what} not recorded"
    code = value.strip().upper()
    if len(code) != 3 or not code.isascii() or not code.isalnum():
        raise SprecError(f"{what} code must be 3 letters or digits, got {value!r}")
    if code == "ZZZ":
        return code, lambda: f"{what}: other (no SPREC code)"
    return code, lambda: f"{what} {code}"


def band(minutes: float, bands: tuple[tuple[float, str], ...], what: str) -> Letter:
    if minutes < 0:
        return UNKNOWN, lambda: f"{what} is negative ({duration(-minutes)}): check the times"
    letter = next(letter for upper, letter in bands if minutes < upper)
    return letter, lambda: f"{what} {duration(minutes)}"


def minutes_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (aware(end) - aware(start)).total_seconds() / 60


def aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes for UTC columns; mixing them with aware ones would raise.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def within(value: float, bounds: tuple[float, float]) -> bool:
    return bounds[0] <= value <= bounds[1]


def temperature_zone(t: float) -> str | None:
    for zone, bounds in (("RT", RT_C), ("cold", COLD_C), ("body", BODY_C)):
        if within(t, bounds):
            return zone
    return None


def storage_zone(t: float) -> str | None:
    if within(t, MINUS80_C):
        return "-80"
    if within(t, MINUS20_C):
        return "-20"
    if t <= LN2_MAX_C:
        return "LN"
    if t < BELOW_135_C:
        return "<-135"
    return None


def zone_label(zone: str, t: float) -> str:
    return f"RT ({degrees(t)})" if zone == "RT" else f"2-10 °C ({degrees(t)})"


def degrees(t: float) -> str:
    return f"{t:g} °C"


def container_label(kind: str) -> str:
    return {"PP": "PP tube", "CRYO": "cryotube", "PRIMARY": "primary container"}.get(kind, kind)


def duration(minutes: float) -> str:
    total = round(minutes)
    days, rest = divmod(total, 1440)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} d"] if days else []
    if hours:
        parts.append(f"{hours} h")
    if mins or not parts:
        parts.append(f"{mins} min")
    return " ".join(parts)


def not_recorded(**values: object) -> str:
    names = [name.replace("_", " ") for name, value in values.items() if value is None]
    return " and ".join(names)
