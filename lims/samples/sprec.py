"""Derive the SPREC (Standard PREanalytical Code) of a sample from its stored raw pre-analytical values.

Fluid code:  type-container-precentrifugation-centrifugation-second centrifugation-postcentrifugation-storage,
e.g. ``PL2-PED-A-B-I-A-A``.  Solid code:  type-collection-warm ischaemia-cold ischaemia-fixation-fixation
time-storage, e.g. ``TIS-SRG-E-C-NBF-F-P``.

A missing value is never guessed: the element becomes the standard's *unknown* letter ``X`` (``XXX`` for the
three-letter elements).  A recorded value that falls in no band of the standard becomes *other*,
``Z``/``ZZZ``.
``N`` is only used where the standard means "not applicable / none" (no centrifugation, no second spin, no
warm ischaemia for a biopsy, no fixation time for a frozen sample).

Version: the letters are SPREC 2.0 (Betsou et al., Biopreserv Biobank 2012;10:366, PMC6463986 Table 1),
checked against the SPRECLib model (chrmey/SPRECLib ``src/de/spreclib/model``), which uses the same X =
unknown and Z = other.  Known differences and choices:

* SPRECLib codes a cold 6000-10000 g spin as ``F`` (a duplicate of the cold 3000-6000 g letter); the
  standard's sequence gives ``H``, which we use.
* SPRECLib names the 24-48 h pre-centrifugation band ``TWENTYFOUR_TO_EIGHTYFOUR_HOURS`` but its bounds are
  1440-2880 min; we use 24-48 h (K/L) and >= 48 h (M/N), as domain.md does.
* Storage letters T (PP 40-500 uL, -20 C), V (PP 0.5-2 mL, below -135 C) and W (PP 40-500 uL, below -135 C)
  come from SPRECLib's long-term storage list; V and W mean *below -135 C* (a -140 C freezer or liquid
  nitrogen), so a PP tube at -140 C is ``V``, not ``Z``.  ``Y`` is the original primary container at -85 to
  -60 C *or*
  -35 to -18 C (SPRECLib lists both rows).  Cryotubes code ``C``/``N`` in liquid nitrogen (its vapour phase
  included, <= -150 C) and ``D`` at -80 C.  Straws, microplates, bags, >= 5 mL tubes and programmable freezing
  (E) have no stored field here, so such samples code as ``Z``.
* Solid tissue uses the same storage list.  A frozen specimen in a cryotube in liquid nitrogen needs to know
  whether it went through -80 C first (``N``) or straight into nitrogen (``C``): :class:`SolidPreanalytics`
  carries ``storage_via_minus80`` for that (the tissue form asks), so it is no longer always ``X``.
* SPREC 3.0 (Betsou 2018) "includes more options ... such as tissue ischemia times" (IBBL announcement); its
  revised ischaemia bands were not verified, so the warm/cold ischaemia bands below are the 2.0 ones.
* Container codes come from the protocol: SPREC 3.0 has ``SCK`` (Streck cell-free DNA BCT) and ``OMN`` (stool
  tube with stabiliser), which the shipped protocol uses.
* Fixation, collection, type and container codes are passed through from the protocol (upper-cased), so 3.0
  codes (e.g. fixation ``ALL``, ``HST``; collection ``BSL``) work without a code change.

Band boundaries: every time band is half-open ``[lower, upper)`` (so exactly 2 h pre-centrifugation is ``C``,
not
``A``; exactly 48 h is ``M``/``N``), except fixation time ``B``, which domain.md gives as "<= 1 h": exactly 60
min is ``B`` and ``C`` is "more than 1 h, under 4 h".  Temperature ranges are inclusive: RT = 18-28 C
(SPRECLib), cold = 2-10 C, body = 35-38 C; -80 C storage = -85 to -60 C, -20 C storage = -35 to -18 C, liquid
nitrogen <= -150 C, "below -135 C" < -135 C.  Centrifugation durations 10-15 min are inclusive.  ``M``
(Ficoll-type spin, "RT 30 min < 1000 g no brake") accepts 25-35 min because the standard gives a nominal time,
not a band. PP aliquots of exactly 500 uL are ``A``/``B`` (0.5-2 mL), not ``S`` (40-500 uL): domain.md codes
its 0.5 mL serum aliquots ``A``.
"""

from __future__ import annotations

import math
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


Element = tuple[str, str, str]


def fluid_code(p: FluidPreanalytics) -> str:
    """Return the 7-element SPREC of a fluid sample."""
    return "-".join(letter for _, letter, _ in explain_fluid(p))


def solid_code(p: SolidPreanalytics) -> str:
    """Return the 7-element SPREC of a solid-tissue sample."""
    return "-".join(letter for _, letter, _ in explain_solid(p))


def derive(p: FluidPreanalytics | SolidPreanalytics) -> str:
    """Return the SPREC of a fluid or solid sample."""
    return solid_code(p) if isinstance(p, SolidPreanalytics) else fluid_code(p)


def code(p: FluidPreanalytics | SolidPreanalytics) -> str:
    """Return the SPREC code alone (what an export needs)."""
    return derive(p)


def explain(p: FluidPreanalytics | SolidPreanalytics) -> list[Element]:
    """Return (element, letter, reason) for each element of the sample's SPREC, for the sample page."""
    return explain_solid(p) if isinstance(p, SolidPreanalytics) else explain_fluid(p)


def explain_fluid(p: FluidPreanalytics) -> list[Element]:
    """Return (element, letter, reason) for each element of a fluid sample's SPREC."""
    spun = _was_spun(p)
    second = _second_spin(p, spun)
    return [
        ("Type of sample", *_code3(p.sprec_type, "sample type")),
        ("Primary container", *_code3(p.container_code, "primary container")),
        ("Pre-centrifugation", *_precentrifugation(p)),
        ("Centrifugation", *_first_spin(p, spun)),
        ("Second centrifugation", *second),
        ("Post-centrifugation", *_postcentrifugation(p, spun, second[0])),
        ("Long-term storage", *_storage(p.storage_container, p.storage_temp_c, p.aliquot_volume_ul,
                                        p.storage_via_minus80)),
    ]


def explain_solid(p: SolidPreanalytics) -> list[Element]:
    """Return (element, letter, reason) for each element of a solid-tissue sample's SPREC."""
    return [
        ("Type of sample", *_code3(p.sprec_type, "sample type")),
        ("Type of collection", *_code3(p.collection_type, "collection type")),
        ("Warm ischaemia", *_warm_ischaemia(p)),
        ("Cold ischaemia", *_cold_ischaemia(p)),
        ("Fixation type", *_code3(p.fixation_type, "fixation type")),
        ("Fixation time", *_fixation_time(p)),
        ("Long-term storage", *_storage(p.storage_container, p.storage_temp_c, None, p.storage_via_minus80)),
    ]


# --- fluid elements ---------------------------------------------------------------------------------------

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


def _precentrifugation(p: FluidPreanalytics) -> tuple[str, str]:
    delay = _minutes(p.collected_at, p.processing_started_at)
    if delay is None:
        missing = _missing(collection_time=p.collected_at, processing_start=p.processing_started_at)
        return UNKNOWN, f"{missing} not recorded"
    if delay < 0:
        return UNKNOWN, f"processing start is {_duration(-delay)} before collection: check the times"
    t = p.precentrifugation_temp_c
    if t is None:
        return UNKNOWN, f"{_duration(delay)}; temperature while waiting not recorded"
    zone = _temperature_zone(t)
    if zone == "body":
        if delay < 120:
            return "O", f"35-38 °C ({_temp(t)}), {_duration(delay)}"
        return OTHER, f"{_temp(t)} for {_duration(delay)}: SPREC has 35-38 °C only for < 2 h"
    if zone is None:
        return OTHER, f"{_temp(t)} is outside SPREC's RT (18-28 °C) and 2-10 °C ranges; {_duration(delay)}"
    letter = next(rt if zone == "RT" else cold for upper, rt, cold in _PRECENTRIFUGATION_BANDS
                  if delay < upper)
    return letter, f"{_zone_label(zone, t)}, {_duration(delay)}"


def _was_spun(p: FluidPreanalytics) -> bool | None:
    if p.spun is False:
        return False
    if p.spun or any(v is not None for v in (p.spin1_g, p.spin1_min, p.spin1_temp_c, p.spin1_brake)):
        return True
    return None


def _first_spin(p: FluidPreanalytics, spun: bool | None) -> tuple[str, str]:
    if spun is False:
        return NONE, "sample type is not centrifuged"
    if spun is None:
        return UNKNOWN, "centrifugation not recorded"
    return _spin(p.spin1_g, p.spin1_min, p.spin1_temp_c, p.spin1_brake, ficoll_allowed=True)


def _second_spin(p: FluidPreanalytics, spun: bool | None) -> tuple[str, str]:
    values = (p.spin2_g, p.spin2_min, p.spin2_temp_c, p.spin2_brake)
    if spun is False:
        return NONE, "sample type is not centrifuged"
    if p.spin2_done is False:
        if any(v is not None for v in values):
            return UNKNOWN, "marked as no second centrifugation, yet second-spin values are recorded"
        return NONE, "no second centrifugation"
    if p.spin2_done is None and all(v is None for v in values):
        return UNKNOWN, "whether a second centrifugation was done is not recorded"
    return _spin(*values, ficoll_allowed=False)


def _spin(
    g: float | None, minutes: float | None, temp: float | None, brake: bool | None, *, ficoll_allowed: bool
) -> tuple[str, str]:
    missing = _missing(speed=g, duration=minutes, temperature=temp)
    if missing:
        return UNKNOWN, f"{missing} not recorded"
    assert g is not None and minutes is not None and temp is not None
    zone = _temperature_zone(temp)
    desc = f"{g:g} g, {minutes:g} min, {_temp(temp)}"
    brake_desc = {True: "brake on", False: "no brake", None: "brake not recorded"}[brake]
    if ficoll_allowed and zone == "RT" and g < 1000 and _within(minutes,
                                                                FICOLL_SPIN_MINUTES) and brake is not True:
        if brake is None:
            return UNKNOWN, f"{desc}; brake not recorded (no brake would be M)"
        return "M", f"{desc}, no brake (density-gradient spin)"
    if not _within(minutes, SPIN_MINUTES):
        return OTHER, f"{desc}: SPREC bands are 10-15 min"
    if zone not in ("RT", "cold"):
        return OTHER, f"{desc}: SPREC bands are RT (18-28 °C) or 2-10 °C"
    rt = zone == "RT"
    if g < 3000:
        if brake is None:
            return UNKNOWN, f"{desc}; brake not recorded (decides {'A/B' if rt else 'C/D'})"
        letter = ("B" if brake else "A") if rt else ("D" if brake else "C")
        return letter, f"{desc}, {brake_desc}"
    # Above 3000 g SPREC has one letter per speed band and temperature: braking is not coded.
    if g < 6000:
        letter = "E" if rt else "F"
    elif g < 10000:
        letter = "G" if rt else "H"
    else:
        letter = "I" if rt else "J"
    return letter, desc


def _postcentrifugation(p: FluidPreanalytics, spun: bool | None, second_letter: str) -> tuple[str, str]:
    if spun is False:
        return NONE, "sample type is not centrifuged"
    if p.sprec_type and p.sprec_type.upper() in POSTSPIN_NOT_APPLICABLE_TYPES:
        return NONE, "viable cells: resuspended after the spin, so no post-centrifugation delay"
    if spun is None:
        return UNKNOWN, "centrifugation not recorded"
    if p.frozen_at is None:
        return UNKNOWN, "time placed in storage not recorded"
    exact = True
    if p.last_spin_ended_at is not None:
        delay = _minutes(p.last_spin_ended_at, p.frozen_at)
    elif p.processing_started_at is None or p.spin1_min is None:
        return UNKNOWN, "end of centrifugation not recorded"
    else:
        spin_time = p.spin1_min
        if second_letter != NONE:
            # The gap between the two spins is not stored, so this is only an upper bound on the delay.
            exact = False
            spin_time += p.spin2_min or 0.0
        delay = _minutes(p.processing_started_at, p.frozen_at)
        delay = None if delay is None else delay - spin_time
    assert delay is not None
    if delay < 0:
        return UNKNOWN, "storage time is before the end of centrifugation: check the times"
    if not exact and delay >= 60:
        return UNKNOWN, f"end of the second spin not recorded; delay is between 0 and {_duration(delay)}"
    t = p.postspin_temp_c
    shown = _duration(delay) if exact else f"under {_duration(delay)}"
    if t is None:
        return UNKNOWN, f"{shown}; temperature after centrifugation not recorded"
    zone = _temperature_zone(t)
    if zone not in ("RT", "cold"):
        return OTHER, f"{_temp(t)} is outside SPREC's RT (18-28 °C) and 2-10 °C ranges; {shown}"
    letter = next(cold if zone == "cold" else rt for upper, cold, rt in _POSTCENTRIFUGATION_BANDS
                  if delay < upper)
    return letter, f"{_zone_label(zone, t)}, {shown}"


# --- storage (fluid and solid) ----------------------------------------------------------------------------


def _storage(
    container: str | None, temp: float | None, volume_ul: float | None, via_minus80: bool | None
) -> tuple[str, str]:
    if container is None:
        return UNKNOWN, "storage container not recorded"
    kind = container.strip().upper()
    if kind == "PARAFFIN":
        if temp is None or _temperature_zone(temp) in ("RT", "cold"):
            return "P", "paraffin block" + ("" if temp is None else f", {_temp(temp)}")
        return OTHER, f"paraffin block at {_temp(temp)}"
    if temp is None:
        return UNKNOWN, f"{_container_label(kind)}; storage temperature not recorded"
    zone = _storage_zone(temp)
    label = f"{_container_label(kind)}, {_temp(temp)}"
    if kind == "PP":
        if volume_ul is None:
            return UNKNOWN, f"{label}; aliquot volume not recorded (decides 0.5-2 mL vs 40-500 µL)"
        label = f"{label}, {volume_ul:g} µL"
        below_135 = zone in ("LN", "<-135")
        if 500 <= volume_ul <= 2000:
            letter = "V" if below_135 else {"-80": "A", "-20": "B"}.get(zone or "")
        elif 40 <= volume_ul < 500:
            letter = "W" if below_135 else {"-80": "S", "-20": "T"}.get(zone or "")
        else:
            return OTHER, f"{label}: SPREC PP tube sizes are 40-500 µL and 0.5-2 mL"
        return (letter, label) if letter else (OTHER, f"{label}: no SPREC letter for this temperature")
    if kind == "CRYO":
        if zone == "-80":
            return "D", label
        if zone == "LN":
            if via_minus80 is None:
                return UNKNOWN, f"{label}; whether it went through -80 °C first is not recorded (C or N)"
            return ("N",
                    f"{label}, after -80 °C") if via_minus80 else ("C", label + ", straight into nitrogen")
        return OTHER, f"{label}: SPREC codes cryotubes at -80 °C or in liquid nitrogen (<= -150 °C) only"
    if kind == "PRIMARY":
        if zone in ("-80", "-20"):
            return "Y", label
        return OTHER, f"{label}: SPREC codes the primary container at -85 to -60 °C or -35 to -18 °C only"
    return OTHER, f"container {container!r} has no SPREC storage letter"


# --- solid elements ---------------------------------------------------------------------------------------

_ISCHAEMIA_BANDS = ((2, "A"), (10, "B"), (20, "C"), (30, "D"), (60, "E"), (math.inf, "F"))


def _warm_ischaemia(p: SolidPreanalytics) -> tuple[str, str]:
    collection = (p.collection_type or "").upper()
    if collection in NO_WARM_ISCHAEMIA_COLLECTIONS:
        return NONE, f"{collection}: no vascular clamping, warm ischaemia not applicable"
    minutes = _minutes(p.clamped_at, p.excised_at)
    if minutes is None:
        return UNKNOWN, f"{_missing(clamping_time=p.clamped_at, excision_time=p.excised_at)} not recorded"
    return _band(minutes, _ISCHAEMIA_BANDS, "clamping to excision")


def _cold_ischaemia(p: SolidPreanalytics) -> tuple[str, str]:
    minutes = _minutes(p.excised_at, p.fixation_started_at)
    if minutes is None:
        missing = _missing(excision_time=p.excised_at, fixation_or_freezing_start=p.fixation_started_at)
        return UNKNOWN, f"{missing} not recorded"
    return _band(minutes, _ISCHAEMIA_BANDS, "excision to fixation/freezing")


def _fixation_time(p: SolidPreanalytics) -> tuple[str, str]:
    fixation = (p.fixation_type or "").upper()
    if fixation in NO_FIXATION_TIME:
        return NONE, f"{fixation}: frozen, not fixed"
    if not fixation:
        return UNKNOWN, "fixation type not recorded"
    minutes = _minutes(p.fixation_started_at, p.fixation_ended_at)
    if minutes is None:
        missing = _missing(fixation_start=p.fixation_started_at, fixation_end=p.fixation_ended_at)
        return UNKNOWN, f"{missing} not recorded"
    if minutes < 0:
        return UNKNOWN, "fixation ends before it starts: check the times"
    if 15 <= minutes <= 60:  # domain.md: "B <= 1 h", so exactly 60 min is B
        return "B", f"{_duration(minutes)} in {fixation}"
    bands = ((15, "A"), (240, "C"), (480, "D"), (1440, "E"), (2880, "F"), (4320, "G"))
    for upper, letter in bands:
        if minutes < upper:
            return letter, f"{_duration(minutes)} in {fixation}"
    return OTHER, f"{_duration(minutes)} in {fixation}: SPREC fixation times end at 72 h"


# --- helpers ----------------------------------------------------------------------------------------------


def _code3(value: str | None, what: str) -> tuple[str, str]:
    if value is None or not value.strip():
        return UNKNOWN * 3, f"{what} not recorded"
    code = value.strip().upper()
    if len(code) != 3 or not code.isascii() or not code.isalnum():
        raise SprecError(f"{what} code must be 3 letters or digits, got {value!r}")
    if code == "ZZZ":
        return code, f"{what}: other (no SPREC code)"
    return code, f"{what} {code}"


def _band(minutes: float, bands: tuple[tuple[float, str], ...], what: str) -> tuple[str, str]:
    if minutes < 0:
        return UNKNOWN, f"{what} is negative ({_duration(-minutes)}): check the times"
    letter = next(letter for upper, letter in bands if minutes < upper)
    return letter, f"{what} {_duration(minutes)}"


def _minutes(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (_aware(end) - _aware(start)).total_seconds() / 60


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes for UTC columns; mixing them with aware ones would raise.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _within(value: float, bounds: tuple[float, float]) -> bool:
    return bounds[0] <= value <= bounds[1]


def _temperature_zone(t: float) -> str | None:
    for zone, bounds in (("RT", RT_C), ("cold", COLD_C), ("body", BODY_C)):
        if _within(t, bounds):
            return zone
    return None


def _storage_zone(t: float) -> str | None:
    if _within(t, MINUS80_C):
        return "-80"
    if _within(t, MINUS20_C):
        return "-20"
    if t <= LN2_MAX_C:
        return "LN"
    if t < BELOW_135_C:
        return "<-135"
    return None


def _zone_label(zone: str, t: float) -> str:
    return f"RT ({_temp(t)})" if zone == "RT" else f"2-10 °C ({_temp(t)})"


def _temp(t: float) -> str:
    return f"{t:g} °C"


def _container_label(kind: str) -> str:
    return {"PP": "PP tube", "CRYO": "cryotube", "PRIMARY": "primary container"}.get(kind, kind)


def _duration(minutes: float) -> str:
    total = round(minutes)
    days, rest = divmod(total, 1440)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} d"] if days else []
    if hours:
        parts.append(f"{hours} h")
    if mins or not parts:
        parts.append(f"{mins} min")
    return " ".join(parts)


def _missing(**values: object) -> str:
    names = [name.replace("_", " ") for name, value in values.items() if value is None]
    return " and ".join(names)
