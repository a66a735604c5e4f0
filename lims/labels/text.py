"""Fit label text into a box, in printer dots: shrink first, wrap when a field does not fit on one line.

A field is never cut while it can be printed whole at the smallest legible size, in full or in its short
form (a code instead of a name); only then is it ended with an ellipsis, and the plan says which field was
cut. Lines break at spaces, after hyphens and between Chinese characters, and inside a word only when the
word alone is wider than the box.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from lims.labels.fonts import LabelFont

LINE_PITCH = 1.12  # baseline to baseline, in em
ELLIPSIS = "…"


@dataclass(frozen=True)
class Field:
    """One piece of label text: its name (for checks), its full text and an optional short form."""

    name: str
    text: str
    short: str | None = None


@dataclass(frozen=True)
class Block:
    """Lines of text fitted into a box: (field name, text) per line, baselines from the ink top, in dots."""

    size: int
    lines: tuple[tuple[str, str], ...]
    baselines: tuple[int, ...]
    height: int
    width: int
    shortened: tuple[str, ...] = ()
    cut: tuple[str, ...] = ()


def _is_cjk(ch: str) -> bool:
    return "\u2e80" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or "\uff00" <= ch <= "\uffef"


def _atoms(text: str) -> list[tuple[str, bool]]:
    """Split text into unbreakable pieces, each with whether a space came before it."""
    atoms: list[tuple[str, bool]] = []
    current, space = "", False
    for ch in text:
        if ch.isspace():
            if current:
                atoms.append((current, space))
                current = ""
            space = True
        elif _is_cjk(ch):
            if current:
                atoms.append((current, space))
                space = False
            atoms.append((ch, space))
            current, space = "", False
        else:
            current += ch
            if ch == "-":
                atoms.append((current, space))
                current, space = "", False
    if current:
        atoms.append((current, space))
    return atoms


def wrap(font: LabelFont, text: str, width: float, size: float) -> list[str] | None:
    """Break ``text`` into lines no wider than ``width`` dots, or None if one character is wider."""
    lines: list[str] = []
    line = ""
    for atom, space in _atoms(text):
        candidate = f"{line}{' ' if space and line else ''}{atom}"
        if font.width(candidate, size) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
            line = ""
        for ch in atom:
            if font.width(line + ch, size) <= width:
                line += ch
            elif not line:
                return None
            else:
                lines.append(line)
                line = ch
    if line:
        lines.append(line)
    return lines


def stack(font: LabelFont, lines: Sequence[str], size: int) -> tuple[tuple[int, ...], int]:
    """Return the baselines (from the top of the ink) and the ink height of ``lines`` at ``size``."""
    if not lines:
        return (), 0
    extents = [font.extent(line, size) for line in lines]
    baselines = [math.ceil(extents[0][0])]
    for (_, below), (above, _) in itertools.pairwise(extents):
        baselines.append(baselines[-1] + max(round(LINE_PITCH * size), math.ceil(below + above) + 1))
    return tuple(baselines), baselines[-1] + math.ceil(extents[-1][1])


def _lines(font: LabelFont, fields: Sequence[Field], width: int, size: int, wrapped: bool,
           short: bool) -> list[tuple[str, str]] | None:
    out: list[tuple[str, str]] = []
    for field in fields:
        text = field.short if short and field.short else field.text
        if font.width(text, size) <= width:
            out.append((field.name, text))
            continue
        pieces = wrap(font, text, width, size) if wrapped else None
        if pieces is None:
            return None
        out.extend((field.name, piece) for piece in pieces)
    return out


def _block(font: LabelFont, lines: list[tuple[str, str]], size: int, **extra: tuple[str, ...]) -> Block:
    baselines, height = stack(font, [text for _, text in lines], size)
    width = max((math.ceil(font.width(text, size)) for _, text in lines), default=0)
    return Block(size, tuple(lines), baselines, height, width, **extra)


def fit(font: LabelFont, fields: Sequence[Field], width: int, height: int, sizes: Sequence[int], *,
        short: bool = False) -> Block | None:
    """Return the fields (their short forms if ``short``) at the largest size that fits the box whole, or
    None."""
    if not fields:
        return Block(sizes[0] if sizes else 0, (), (), 0, 0)
    if short and not any(f.short for f in fields):
        return None
    for size in sizes:
        for wrapped in (False, True):
            lines = _lines(font, fields, width, size, wrapped, short)
            if lines is None:
                continue
            block = _block(font, lines, size)
            if block.height <= height:
                shortened = tuple(f.name for f in fields if short and f.short)
                return Block(**{**block.__dict__, "shortened": shortened})
    return None


def fit_cut(font: LabelFont, fields: Sequence[Field], width: int, height: int, size: int) -> Block:
    """Return as much of the fields as fits at ``size``, the last line ended with an ellipsis (last
    resort)."""
    wanted = _lines(font, fields, width, size, True, True) or []
    kept: list[tuple[str, str]] = []
    for name, text in wanted:
        if _block(font, [*kept, (name, text)], size).height > height:
            break
        kept.append((name, text))
    wanted_lines, kept_lines = Counter(name for name, _ in wanted), Counter(name for name, _ in kept)
    cut = tuple(f.name for f in fields if kept_lines[f.name] < wanted_lines[f.name])
    if kept and cut:
        name, text = kept[-1]
        while text and font.width(text + ELLIPSIS, size) > width:
            text = text[:-1]
        kept[-1] = (name, text + ELLIPSIS)
    return _block(font, kept, size, shortened=tuple(f.name for f in fields if f.short), cut=cut)
