"""What a USB keyboard-wedge scanner really sends: symbology prefixes, suffixes and keyboard-layout mix-ups.

A wedge scanner types like a keyboard: it sends *key positions*, and the computer turns them into characters
with its own keyboard layout. A scanner left at its factory setting (US keys) on a German computer types ``ß``
where the label says ``-`` and swaps ``Y`` and ``Z``; on a French (AZERTY) computer the digits come out as
``&é"'(-è_çà``. Scanners may also put an AIM symbology identifier in front of the data (``]C1`` Code 128 with
FNC1, ``]d2`` Data Matrix, ``]Q3`` QR code) and end a scan with Enter or Tab.

This module only describes and translates; :func:`lims.samples.accession.validate` is the one place that
decides what an ID is.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# ISO/IEC 15424 symbology identifier: "]" + code character + modifier character.
_AIM = re.compile(r"^\](?P<code>[A-Za-z])(?P<modifier>[0-9A-Za-z])")
SYMBOLOGIES = {
    "A": "Code 39", "C": "Code 128", "d": "Data Matrix", "E": "EAN/UPC", "e": "GS1 DataBar", "F": "Codabar",
    "G": "Code 93", "I": "Interleaved 2 of 5", "L": "PDF417", "Q": "QR Code", "z": "Aztec", "X": "other",
}


def strip_symbology(text: str) -> tuple[str, str | None]:
    """Remove a leading AIM symbology identifier (``]C1``, ``]d2``...); return (rest, identifier or None)."""
    match = _AIM.match(text)
    if match is None:
        return text, None
    return text[match.end():], match.group(0)


def symbology_name(identifier: str | None) -> str | None:
    """Return the barcode type an AIM identifier names (']d2' -> 'Data Matrix')."""
    if not identifier or len(identifier) < 2:
        return None
    return SYMBOLOGIES.get(identifier[1]) or SYMBOLOGIES.get(identifier[1].upper())


def strip_controls(text: str) -> str:
    """Remove control characters around a scan (STX/ETX framing, GS separators, CR/LF/Tab suffixes)."""
    start, end = 0, len(text)
    while start < end and (text[start].isspace() or unicodedata.category(text[start]) == "Cc"):
        start += 1
    while end > start and (text[end - 1].isspace() or unicodedata.category(text[end - 1]) == "Cc"):
        end -= 1
    return text[start:end]


@dataclass(frozen=True)
class Layout:
    """A mismatch between the scanner's key table and the computer's layout: received character -> meant."""

    name: str
    advice: str
    table: dict[str, str]

    def translate(self, text: str) -> str:
        return "".join(self.table.get(ch, ch) for ch in text)


def _swap(pairs: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for a, b in zip(pairs[::2], pairs[1::2], strict=False):
        out[a], out[b] = b, a
    return out


LAYOUTS: tuple[Layout, ...] = (
    Layout("German (QWERTZ)",
           "set the scanner's keyboard language to German, or switch this computer to a US keyboard layout",
           {"ß": "-", "+": "]", "(": "*", **_swap("YZyz")}),
    Layout("Swiss German (QWERTZ)",
           "set the scanner's keyboard language to Swiss German, or switch this computer to a US keyboard "
           "layout",
           {"'": "-", "¨": "]", "(": "*", **_swap("YZyz")}),
    Layout("French (AZERTY)",
           "set the scanner's keyboard language to French, or switch this computer to a US keyboard layout",
           {"&": "1", "é": "2", '"': "3", "'": "4", "(": "5", "-": "6", "è": "7", "_": "8", "ç": "9",
            "à": "0",
            ")": "-", "8": "*", "$": "]", "?": "M", ",": "m", **_swap("AQaqWZwz")}),
    Layout("US, while the scanner is set to German",
           "set the scanner's keyboard language to US (or to this computer's layout)",
           {"/": "-", "}": "*", **_swap("YZyz")}),
)
# Characters that only a non-US layout produces: worth a hint even when no translation gives a valid ID.
FOREIGN = set("ßüöäéèàçù§°¨£€´")


def layout_candidates(raw: str) -> list[tuple[Layout, str]]:
    """Return each layout mix-up that changes ``raw``, with the text the scanner meant under it."""
    text = strip_controls(raw)
    out = []
    for layout in LAYOUTS:
        meant = layout.translate(text)
        if meant != text:
            out.append((layout, meant))
    return out


@dataclass(frozen=True)
class Key:
    """One character as it arrived: the character, its code point in hex and its Unicode name."""

    char: str
    hex: str
    name: str


def keys(raw: str) -> list[Key]:
    """Describe every character of a scan (what the scanner sent, in hex), for the scanner-setup page."""
    out = []
    for ch in raw:
        code = ord(ch)
        name = {9: "TAB", 10: "LINE FEED (Enter)", 13: "CARRIAGE RETURN (Enter)",
                29: "GROUP SEPARATOR (FNC1)",
                2: "START OF TEXT", 3: "END OF TEXT", 4: "END OF TRANSMISSION"}.get(code) \
            or unicodedata.name(ch, None) or f"U+{code:04X}"
        out.append(Key(ch if ch.isprintable() else "", f"{code:02X}" if code < 256 else f"{code:04X}", name))
    return out
