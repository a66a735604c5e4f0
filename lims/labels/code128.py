"""Code 128 (ISO/IEC 15417): the shortest symbol for a value, its module pattern and its ZPL field data.

Values are printable ASCII (space to ``}``, without the ZPL command characters ``^`` and ``~``). Runs of
digits go into code set C (two digits per symbol) wherever that makes the symbol shorter; everything else
is code set B. The same symbol sequence is drawn into the PDF and sent to a Zebra printer (as ``^BC`` field
data with explicit start and code-set invocations), so both print exactly the same bars.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache

START_B, START_C, CODE_C, CODE_B = 104, 105, 99, 100
QUIET_MODULES = 10  # quiet zone on each side, in modules (ISO/IEC 15417)
# ZPL field data for subset B characters that are ZPL syntax or invocation characters (ZPL II guide, ^BC).
_ZPL_B = {">": ">0", "^": "><", "~": ">="}
_ZPL_SYMBOL = {START_B: ">:", START_C: ">;", CODE_C: ">5", CODE_B: ">6"}


@cache
def _patterns() -> tuple[tuple[str, ...], str]:
    """Return the module patterns of the 106 symbols and of the stop (with its termination bar)."""
    # python-barcode imports PIL and its writers: read its table when a pattern is drawn, not at start-up
    from barcode.charsets.code128 import CODES, STOP

    stop = STOP + "11"  # the stop character ends with a two-module termination bar
    assert len(CODES) == 106 and len(stop) == 13
    return tuple(CODES), stop


class Code128Error(ValueError):
    """A value that Code 128 (as used on labels here) cannot carry."""


@dataclass(frozen=True)
class Code128:
    """One Code 128 symbol: the value and its symbol values (start, data, check; the stop is implied)."""

    value: str
    symbols: tuple[int, ...]
    texts: tuple[str, ...]  # what each data symbol carries: one character (set B) or two digits (set C)

    @property
    def pattern(self) -> str:
        """Return the modules left to right, '1' for a bar module and '0' for a space module."""
        codes, stop = _patterns()
        return "".join(codes[s] for s in self.symbols) + stop

    @property
    def modules(self) -> int:
        """Return the width of the bars in modules (quiet zones not included)."""
        return 11 * len(self.symbols) + 13

    def zpl_data(self) -> str:
        """Return the ``^FD`` data for ``^BC`` in mode N: start and code changes as invocation codes."""
        out = []
        for symbol, text in zip(self.symbols[:-1], self.texts, strict=True):
            out.append(_ZPL_SYMBOL.get(symbol, "") if not text else _ZPL_B.get(text, text))
        return "".join(out)


def check_value(value: str) -> str:
    """Return ``value`` if a label symbol can carry it; raise Code128Error naming the first bad character."""
    if not value:
        raise Code128Error("a barcode needs a value")
    for position, ch in enumerate(value, start=1):
        if not " " <= ch <= "}" or ch in "^~":
            raise Code128Error(f"character {ch!r} at position {position} of {value!r} cannot go into a label "
                               "barcode (printable ASCII without ^ and ~ only)")
    return value


@lru_cache(maxsize=4096)
def encode(value: str) -> Code128:
    """Return the shortest Code 128 symbol for ``value`` (code sets B and C)."""
    check_value(value)
    n = len(value)

    def pair(i: int) -> bool:
        return i + 1 < n and value[i].isdigit() and value[i + 1].isdigit()

    # cost[i][s]: fewest symbols to encode value[i:] when the current code set is s (0 = B, 1 = C).
    inf = 10**9
    cost = [[inf, inf] for _ in range(n + 1)]
    cost[n] = [0, 0]
    for i in range(n - 1, -1, -1):
        in_c = 1 + cost[i + 2][1] if pair(i) else inf
        cost[i][0] = min(1 + cost[i + 1][0], 1 + in_c)
        cost[i][1] = min(in_c, 1 + 1 + cost[i + 1][0])
    current = 1 if pair(0) and cost[0][1] < cost[0][0] else 0
    symbols, texts = [START_C if current else START_B], [""]
    i = 0
    while i < n:
        if current == 1:
            if pair(i) and 1 + cost[i + 2][1] <= 2 + cost[i + 1][0]:
                symbols.append(int(value[i:i + 2]))
                texts.append(value[i:i + 2])
                i += 2
                continue
            symbols.append(CODE_B)
            texts.append("")
            current = 0
        elif pair(i) and 2 + cost[i + 2][1] < 1 + cost[i + 1][0]:
            symbols.append(CODE_C)
            texts.append("")
            current = 1
        else:
            symbols.append(ord(value[i]) - 32)
            texts.append(value[i])
            i += 1
    check = (symbols[0] + sum(position * s for position, s in enumerate(symbols[1:], start=1))) % 103
    return Code128(value, (*symbols, check), tuple(texts))
