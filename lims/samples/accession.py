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

The serial is decimal so the body never mixes O/0 or I/1; only the check character may be a letter.
MOD 37-2 is a pure system with a prime modulus and weights 2^k (all distinct and non-zero mod 37), so every
single substitution and every transposition of two adjacent characters (check character included) changes
the checksum.
"""

from __future__ import annotations

import unicodedata

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
    """Strip surrounding whitespace (scanner CR/LF/tab included) and upper-case; hyphens are kept as typed."""
    # NFKC folds full-width characters a Chinese/Japanese IME may produce ("ＴＢ") to ASCII.
    return unicodedata.normalize("NFKC", raw).strip().upper()


def validate(raw: str) -> str:
    """Return the printed form of ``raw`` or raise AccessionError saying exactly what is wrong."""
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
    return compact_index + 1 + (compact_index >= PREFIX_LENGTH) + (compact_index >= PREFIX_LENGTH + SERIAL_DIGITS)


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
