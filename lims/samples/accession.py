"""Sample accession IDs: generation, normalisation and validation with an ISO 7064 MOD 37-2 check character.

Format (printed form, 12 characters)::

    TB-0000042-3
    ^^ ^^^^^^^ ^
    |  |       check character, ISO 7064 MOD 37-2 over "TB0000042" (one of 0-9, A-Z, *)
    |  serial, 7 decimal digits, zero-padded (up to 9,999,999 per prefix)
    prefix, 2 letters A-Z (the instance's or study's code)

The compact form without hyphens (``TB00000423``, 10 characters) is what a scanner may send when a label
template drops the hyphens; both forms are accepted, nothing in between.  Hyphens are accepted only at their
two canonical positions and only both together: otherwise moving a hyphen one place (``TB0-000042-3``) would
normalise to a valid ID and an adjacent transposition would go unnoticed.

What a scanner adds is removed here, in the one function every path uses (:func:`validate`): control
characters and whitespace around the code (CR/LF/Tab suffixes, STX/ETX framing) and an AIM symbology
identifier in front (``]C1``, ``]d2``, ``]Q3``). When an ID fails and the characters look like a scanner
typing through another keyboard layout (``ß`` for ``-`` on a German computer), the error says so and what to
change (see :mod:`lims.samples.keyboard`).

The serial is decimal so the body never mixes O/0 or I/1; only the check character may be a letter.
MOD 37-2 is a pure system with a prime modulus and weights 2^k (all distinct and non-zero mod 37), so every
single substitution and every transposition of two adjacent characters (check character included) changes
the checksum.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from lims.samples import keyboard

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
CHECK_ALPHABET = ALPHABET + "*"
PREFIX_LENGTH = 2
SERIAL_DIGITS = 7
MAX_SERIAL = 10**SERIAL_DIGITS - 1
# Indexes into the printed form: PP-NNNNNNN-C
_HYPHENS = (PREFIX_LENGTH, PREFIX_LENGTH + 1 + SERIAL_DIGITS)
COMPACT_LENGTH = PREFIX_LENGTH + SERIAL_DIGITS + 1
PRINTED_LENGTH = COMPACT_LENGTH + len(_HYPHENS)
_EXAMPLE = "TB-0000042-3"

_VALUES = {ch: i for i, ch in enumerate(ALPHABET)}


class AccessionError(ValueError):
    """An accession ID that is empty, malformed or fails its check character."""


def check_character(body: str) -> str:
    """Return the ISO 7064 MOD 37-2 check character for ``body`` (characters 0-9, A-Z)."""
    p = 0
    for position, ch in enumerate(body, start=1):
        try:
            value = _VALUES[ch]
        except KeyError:
            raise AccessionError(
                f"illegal character {_describe(ch)} at position {position}: only 0-9 and A-Z are allowed"
            ) from None
        p = ((p + value) * 2) % 37
    return CHECK_ALPHABET[(38 - p) % 37]


def make_accession(serial: int, prefix: str = "TB") -> str:
    """Return the printed accession ID (e.g. ``TB-0000042-3``) for a serial number."""
    if not (len(prefix) == PREFIX_LENGTH and prefix.isascii() and prefix.isalpha() and prefix.isupper()):
        raise AccessionError(f"prefix must be {PREFIX_LENGTH} upper-case letters A-Z, got {prefix!r}")
    if not 1 <= serial <= MAX_SERIAL:
        raise AccessionError(f"serial must be between 1 and {MAX_SERIAL}, got {serial}")
    body = f"{prefix}{serial:0{SERIAL_DIGITS}d}"
    return _printed(body + check_character(body))


def normalise(raw: str) -> str:
    """Strip what a scanner adds (CR/LF/Tab, framing, an AIM prefix such as ``]C1``) and upper-case."""
    # NFKC folds full-width characters a Chinese/Japanese IME may produce ("ＴＢ") to ASCII.
    text = keyboard.strip_controls(unicodedata.normalize("NFKC", raw))
    text, _aim = keyboard.strip_symbology(text)
    # Only ASCII is upper-cased: "ß".upper() is "SS", which would hide the character the scanner really sent.
    return "".join(ch.upper() if ch.isascii() else ch for ch in keyboard.strip_controls(text))


def validate(raw: str) -> str:
    """Return the printed form of ``raw`` or raise AccessionError saying exactly what is wrong."""
    try:
        return _validate(raw)
    except AccessionError as exc:
        hint = layout_hint(raw)
        if hint:
            raise AccessionError(f"{exc}; {hint}") from None
        raise


def layout_hint(raw: str) -> str | None:
    """Say which keyboard-layout mix-up would turn ``raw`` into a valid ID, or that its characters suggest
    one."""
    for layout, meant in keyboard.layout_candidates(raw):
        try:
            code = _validate(meant)
        except AccessionError:
            continue
        return (f"this is {code} typed through a {layout.name} keyboard layout: {layout.advice} "
                "(the Scanner setup page shows what the scanner sends)")
    foreign = sorted({ch for ch in raw if ch in keyboard.FOREIGN})
    if foreign:
        shown = ", ".join(repr(ch) for ch in foreign)
        return (f"{shown} only comes from a non-US keyboard layout: set the scanner to this computer's "
                "keyboard language (the Scanner setup page shows what the scanner sends)")
    return None


def _validate(raw: str) -> str:
    text = normalise(raw)
    if not text:
        raise AccessionError("accession ID is empty")
    for position, ch in enumerate(text, start=1):
        if ch not in CHECK_ALPHABET and ch != "-":
            raise AccessionError(f"illegal character {_describe(ch)} at position {position}")
    if "-" in text:
        if len(text) != PRINTED_LENGTH:
            raise AccessionError(_length_message(text))
        misplaced = [i + 1 for i, ch in enumerate(text) if (ch == "-") != (i in _HYPHENS)]
        if misplaced:
            expected = " and ".join(str(i + 1) for i in _HYPHENS)
            raise AccessionError(
                f"hyphens belong at positions {expected} (like {_EXAMPLE}) or nowhere; "
                f"position {misplaced[0]} is wrong in {text!r}"
            )
        compact = text.replace("-", "")
    else:
        if len(text) != COMPACT_LENGTH:
            raise AccessionError(_length_message(text))
        compact = text
    for i, ch in enumerate(compact):
        position = _printed_position(i) if "-" in text else i + 1
        if i < PREFIX_LENGTH and not ("A" <= ch <= "Z"):
            raise AccessionError(f"position {position} must be a letter A-Z (prefix), got {_describe(ch)}")
        if PREFIX_LENGTH <= i < PREFIX_LENGTH + SERIAL_DIGITS and not ch.isdigit():
            raise AccessionError(f"position {position} must be a digit 0-9 (serial), got {_describe(ch)}")
    body, given = compact[:-1], compact[-1]
    expected_check = check_character(body)
    if given != expected_check:
        raise AccessionError(
            f"check character is {given}, expected {expected_check}: the ID was mistyped or misread"
        )
    return _printed(compact)


def is_valid(raw: str) -> bool:
    """Return whether ``raw`` is a valid accession ID."""
    try:
        validate(raw)
    except AccessionError:
        return False
    return True


def _printed(compact: str) -> str:
    p = PREFIX_LENGTH
    return f"{compact[:p]}-{compact[p:p + SERIAL_DIGITS]}-{compact[p + SERIAL_DIGITS:]}"


def _printed_position(compact_index: int) -> int:
    return compact_index + 1 + (compact_index
                                >= PREFIX_LENGTH) + (compact_index >= PREFIX_LENGTH + SERIAL_DIGITS)


def _length_message(text: str) -> str:
    return (
        f"accession ID {text!r} has {len(text)} characters; expected {PRINTED_LENGTH} "
        f"(like {_EXAMPLE}) or {COMPACT_LENGTH} without hyphens"
    )


def _describe(ch: str) -> str:
    if ch.isprintable() and not ch.isspace():
        return repr(ch)
    name = unicodedata.name(ch, f"U+{ord(ch):04X}")
    return f"{ch!r} ({name.lower()})"


@dataclass
class Diagnosis:
    """What one test scan tells about a scanner's set-up, for the scanner-setup page."""

    received: str
    keys: list[keyboard.Key]
    suffix: str | None
    symbology: str | None
    accession: str | None
    problem: str | None
    advice: list[str] = field(default_factory=list)


def diagnose(raw: str, *, suffix: str | None = None) -> Diagnosis:
    """Explain a test scan: each key in hex, the suffix, any AIM prefix, whether the ID reads, what to
    change."""
    stripped = keyboard.strip_controls(raw)
    _rest, aim = keyboard.strip_symbology(stripped)
    trailing = raw[len(raw.rstrip("\r\n\t")):]
    suffix = suffix or ({"\t": "Tab", "\r": "Enter", "\n": "Enter", "\r\n": "Enter"}.get(trailing) if trailing
                        else None)
    advice: list[str] = []
    accession = problem = None
    try:
        accession = validate(raw)
    except AccessionError as exc:
        problem = str(exc)
    if suffix is None:
        advice.append("The scanner sends no Enter or Tab after the code: set its suffix to Enter (CR) or "
                      "Tab, or every scan must be confirmed by hand.")
    if aim:
        name = keyboard.symbology_name(aim) or "unknown barcode type"
        advice.append(f"The scanner puts the symbology identifier {aim} ({name}) in front of the data. "
                      "Trialbank removes it, but other programs may not: you can switch 'AIM ID' or 'code "
                      "ID' off.")
    if problem and "keyboard layout" in problem:
        advice.append("The characters arrive through the wrong keyboard layout: "
                      + problem.split("; ", 1)[-1])
    if accession and not advice:
        advice.append("The scanner is set up well: nothing to change.")
    return Diagnosis(received=raw, keys=keyboard.keys(raw), suffix=suffix,
                     symbology=(f"{aim} ({keyboard.symbology_name(aim) or 'unknown'})" if aim else None),
                     accession=accession, problem=problem, advice=advice)
