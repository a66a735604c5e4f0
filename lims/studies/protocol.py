"""Load and validate a protocol (study definition) file.

The file is TOML. Every problem is reported as ``ProtocolError(path, key, problem)``, with
the key written as a path into the document (``timepoints[3].kit[0].container``).
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from lims.core.errors import ProtocolError
from lims.studies.models import ANCHORS, PREANALYTICAL_FIELDS, SAMPLE_KINDS

UNITS = ("ml", "ul", "mg", "g", "ug", "ng", "cells", "blocks", "slides")


@dataclass(frozen=True)
class Yield:
    sample_type: str
    aliquots: int
    volume: float


@dataclass(frozen=True)
class KitSpec:
    sample_type: str
    container: str | None
    volume: float
    unit: str
    yields: tuple[Yield, ...] = ()
    processing: str = ""
    optional: bool = False


@dataclass(frozen=True)
class TimePointSpec:
    code: str
    name: str
    anchor: str
    day: int
    window_before: int
    window_after: int
    cre_number: int | None
    strata: tuple[str, ...]
    kit: tuple[KitSpec, ...]


@dataclass(frozen=True)
class Protocol:
    """A validated study definition."""

    path: str
    sha256: str
    code: str
    name: str
    version: str
    accession_prefix: str
    settings: dict[str, Any]
    retention: dict[str, int]
    sites: tuple[dict[str, Any], ...]
    strata: tuple[dict[str, Any], ...]
    containers: tuple[dict[str, Any], ...]
    sample_types: tuple[dict[str, Any], ...]
    timepoints: tuple[TimePointSpec, ...] = field(default=())

    def timepoint(self, code: str) -> TimePointSpec:
        """Return the time point with ``code``."""
        for tp in self.timepoints:
            if tp.code == code:
                return tp
        raise KeyError(code)


class _Reader:
    """Typed access to a parsed TOML table that reports the full key on error."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, key: str, problem: str) -> ProtocolError:
        return ProtocolError(self.path, key, problem)

    def get(self, table: dict[str, Any], key: str, where: str, kind: type | tuple[type, ...],
            default: Any = ..., ) -> Any:
        full = f"{where}.{key}" if where else key
        if key not in table:
            if default is ...:
                raise self.fail(full, "is required but missing")
            return default
        value = table[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) and kind in (int, float):
            raise self.fail(full, f"must be a number, got {value!r}")
        if not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.fail(full, f"must be {names}, got {type(value).__name__} {value!r}")
        return value

    def code(self, table: dict[str, Any], key: str, where: str) -> str:
        value = self.get(table, key, where, str)
        if not value or not all(c.isalnum() or c in "_-" for c in value):
            raise self.fail(f"{where}.{key}",
                            f"must be a non-empty code of letters, digits, _ or -, got {value!r}")
        return value


def _amount(reader: _Reader, table: dict[str, Any], key: str, where: str) -> tuple[float, str] | None:
    """Read an amount with its unit, written '0.5 ml' (a dead volume); None when absent."""
    text = reader.get(table, key, where, str, None)
    if text is None:
        return None
    parts = text.split()
    try:
        value = float(parts[0]) if len(parts) == 2 else -1.0
    except ValueError:
        value = -1.0
    if len(parts) != 2 or value < 0 or parts[1] not in UNITS:
        raise reader.fail(f"{where}.{key}", f"must be an amount and a unit such as '0.5 ml' "
                                            f"(units: {', '.join(UNITS)}), got {text!r}")
    return value, parts[1]


def _sample_type_rules(reader: _Reader, st: dict[str, Any], where: str) -> None:
    """Check a sample type's handling rules: storage range, required pre-analytics, dead volume."""
    temps = reader.get(st, "storage_temp_c", where, list, None)
    if temps is not None and (
            len(temps) != 2 or not all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in temps)
            or not -273 <= temps[0] <= temps[1] <= 100):
        raise reader.fail(f"{where}.storage_temp_c", f"must be [coldest, warmest] in °C, got {temps!r}")
    fields = reader.get(st, "preanalytics", where, list, [])
    for j, name in enumerate(fields):
        if name not in PREANALYTICAL_FIELDS:
            raise reader.fail(f"{where}.preanalytics[{j}]",
                              f"unknown pre-analytical field {name!r}; use {', '.join(PREANALYTICAL_FIELDS)}")
    _amount(reader, st, "dead_volume", where)


def _unique(reader: _Reader, items: list[dict[str, Any]], section: str) -> set[str]:
    seen: set[str] = set()
    for i, item in enumerate(items):
        code = reader.code(item, "code", f"{section}[{i}]")
        if code in seen:
            raise reader.fail(f"{section}[{i}].code", f"duplicate code {code!r}")
        seen.add(code)
    return seen


def _table_list(reader: _Reader, doc: dict[str, Any], section: str,
                required: bool = True) -> list[dict[str, Any]]:
    items = doc.get(section, [] if not required else None)
    if items is None:
        raise reader.fail(section, "is required but missing")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise reader.fail(section, "must be an array of tables ([[" + section + "]])")
    if required and not items:
        raise reader.fail(section, "must list at least one entry")
    return items


def _kit(reader: _Reader, raw: Any, where: str, types: set[str], containers: set[str]) -> tuple[KitSpec, ...]:
    if not isinstance(raw, list):
        raise reader.fail(where, "must be an array of inline tables")
    kit = []
    for j, item in enumerate(raw):
        at = f"{where}[{j}]"
        if not isinstance(item, dict):
            raise reader.fail(at, "must be an inline table")
        sample_type = reader.get(item, "sample_type", at, str)
        if sample_type not in types:
            raise reader.fail(f"{at}.sample_type", f"unknown sample type {sample_type!r}")
        container = reader.get(item, "container", at, str, None)
        if container is not None and container not in containers:
            raise reader.fail(f"{at}.container", f"unknown container {container!r}")
        volume = reader.get(item, "volume", at, float)
        if volume <= 0:
            raise reader.fail(f"{at}.volume", f"must be positive, got {volume}")
        unit = reader.get(item, "unit", at, str)
        if unit not in UNITS:
            raise reader.fail(f"{at}.unit", f"unknown unit {unit!r}; use one of {', '.join(UNITS)}")
        yields = []
        for k, text in enumerate(reader.get(item, "yields", at, list, [])):
            yat = f"{at}.yields[{k}]"
            try:
                ytype, amount = str(text).split(":")
                n, vol = amount.lower().split("x")
                parsed = Yield(ytype.strip(), int(n), float(vol))
            except ValueError:
                raise reader.fail(yat,
                                  f"must look like 'TYPE:4x1' (aliquots x volume), got {text!r}") from None
            if parsed.sample_type not in types:
                raise reader.fail(yat, f"unknown sample type {parsed.sample_type!r}")
            if parsed.aliquots < 1 or parsed.volume <= 0:
                raise reader.fail(yat, "needs at least one aliquot and a positive volume")
            yields.append(parsed)
        kit.append(KitSpec(
            sample_type=sample_type, container=container, volume=volume, unit=unit, yields=tuple(yields),
            processing=reader.get(item, "processing", at, str, ""),
            optional=reader.get(item, "optional", at, bool, False),
        ))
    return tuple(kit)


def _timepoint(reader: _Reader, raw: dict[str, Any], where: str, types: set[str], containers: set[str],
               strata: set[str]) -> TimePointSpec:
    anchor = reader.get(raw, "anchor", where, str)
    if anchor not in ANCHORS:
        raise reader.fail(f"{where}.anchor", f"unknown anchor {anchor!r}; use one of {', '.join(ANCHORS)}")
    tp_strata = tuple(reader.get(raw, "strata", where, list, []))
    for s in tp_strata:
        if s not in strata:
            raise reader.fail(f"{where}.strata", f"unknown stratum {s!r}")
    before = reader.get(raw, "window_before", where, int, 0)
    after = reader.get(raw, "window_after", where, int, 0)
    if before < 0 or after < 0:
        raise reader.fail(f"{where}.window_before", "windows are days and cannot be negative")
    return TimePointSpec(
        code=reader.code(raw, "code", where), name=reader.get(raw, "name", where, str),
        anchor=anchor, day=reader.get(raw, "day", where, int), window_before=before, window_after=after,
        cre_number=reader.get(raw, "cre", where, int, None), strata=tp_strata,
        kit=_kit(reader, raw.get("kit", []), f"{where}.kit", types, containers),
    )


def _cre_series(reader: _Reader, raw: dict[str, Any], where: str, types: set[str], containers: set[str],
                strata: set[str]) -> list[TimePointSpec]:
    first = reader.get(raw, "first", where, int)
    days = reader.get(raw, "days", where, list)
    if not days or not all(isinstance(d, int) and not isinstance(d, bool) for d in days):
        raise reader.fail(f"{where}.days", "must be a non-empty list of whole days")
    if any(b <= a for a, b in pairwise(days)):
        raise reader.fail(f"{where}.days", "must increase strictly")
    base: dict[str, Any] = {k: raw[k] for k in ("anchor", "strata", "kit") if k in raw}
    out = []
    for i, day in enumerate(days):
        number = first + i
        window = reader.get(raw, "window_first" if i == 0 else "window", where, int, 0)
        out.append(_timepoint(reader, {
            **base, "code": f"CRE{number}", "name": f"Clinical response evaluation {number}",
            "day": day, "window_before": window, "window_after": window, "cre": number,
        }, f"{where}.days[{i}]", types, containers, strata))
    return out


def load_protocol(path: str | Path) -> Protocol:
    """Read and validate a protocol file; raise ProtocolError naming file, key and problem."""
    path = str(path)
    reader = _Reader(path)
    data, doc = _read_toml(reader, path)
    study = doc.get("study")
    if not isinstance(study, dict):
        raise reader.fail("study", "is required but missing (a [study] table)")
    prefix = reader.get(study, "accession_prefix", "study", str, "TB")
    if not (len(prefix) == 2 and prefix.isascii() and prefix.isalpha() and prefix.isupper()):
        raise reader.fail("study.accession_prefix", f"must be 2 upper-case letters, got {prefix!r}")
    sites = _sites(reader, doc)
    strata_list = _table_list(reader, doc, "strata")
    strata = _unique(reader, strata_list, "strata")
    container_list = _containers(reader, doc)
    containers = _unique(reader, container_list, "containers")
    type_list = _sample_types(reader, doc)
    types = _unique(reader, type_list, "sample_types")
    retention = _retention(reader, doc, types)
    timepoints = _timepoints(reader, doc, types, containers, strata)
    settings = _settings(reader, doc)
    return Protocol(
        path=path, sha256=hashlib.sha256(data).hexdigest(),
        code=reader.code(study, "code", "study"), name=reader.get(study, "name", "study", str),
        version=str(reader.get(study, "version", "study", (str, int, float))), accession_prefix=prefix,
        settings=dict(settings), retention=dict(retention), sites=tuple(sites), strata=tuple(strata_list),
        containers=tuple(container_list), sample_types=tuple(type_list), timepoints=tuple(timepoints),
    )


def _read_toml(reader: _Reader, path: str) -> tuple[bytes, dict[str, Any]]:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise reader.fail("(file)", f"cannot be read: {exc.strerror}") from None
    try:
        return data, tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise reader.fail("(file)", "is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise reader.fail("(syntax)", str(exc)) from None


def _sites(reader: _Reader, doc: dict[str, Any]) -> list[dict[str, Any]]:
    sites = _table_list(reader, doc, "sites")
    _unique(reader, sites, "sites")
    for i, site in enumerate(sites):
        reader.get(site, "name", f"sites[{i}]", str)
        weight = reader.get(site, "enrolment_weight", f"sites[{i}]", float, 1.0)
        if weight <= 0:
            raise reader.fail(f"sites[{i}].enrolment_weight", "must be positive")
    return sites


def _sample_types(reader: _Reader, doc: dict[str, Any]) -> list[dict[str, Any]]:
    type_list = _table_list(reader, doc, "sample_types")
    for i, st in enumerate(type_list):
        kind = reader.get(st, "kind", f"sample_types[{i}]", str)
        if kind not in SAMPLE_KINDS:
            raise reader.fail(f"sample_types[{i}].kind",
                              f"must be one of {', '.join(SAMPLE_KINDS)}, got {kind!r}")
        unit = reader.get(st, "unit", f"sample_types[{i}]", str)
        if unit not in UNITS:
            raise reader.fail(f"sample_types[{i}].unit",
                              f"unknown unit {unit!r}; use one of {', '.join(UNITS)}")
        reader.get(st, "name", f"sample_types[{i}]", str)
        _sample_type_rules(reader, st, f"sample_types[{i}]")
    return type_list


def _containers(reader: _Reader, doc: dict[str, Any]) -> list[dict[str, Any]]:
    container_list = _table_list(reader, doc, "containers")
    for i, container in enumerate(container_list):
        _amount(reader, container, "dead_volume", f"containers[{i}]")
        sprec = reader.get(container, "sprec", f"containers[{i}]", str, None)
        if sprec is not None and not (len(sprec) == 3 and sprec.isascii() and sprec.isalnum()
                                      and sprec.isupper()):
            raise reader.fail(f"containers[{i}].sprec", f"must be a 3-character SPREC code, got {sprec!r}")
    return container_list


def _retention(reader: _Reader, doc: dict[str, Any], types: set[str]) -> dict[str, Any]:
    retention = doc.get("retention", {})
    if not isinstance(retention, dict):
        raise reader.fail("retention", "must be a table of sample type = years")
    for key, years in retention.items():
        if key not in types:
            raise reader.fail(f"retention.{key}", "unknown sample type")
        if not isinstance(years, int) or isinstance(years, bool) or years <= 0:
            raise reader.fail(f"retention.{key}", f"must be a positive whole number of years, got {years!r}")
    return retention


def _timepoints(reader: _Reader, doc: dict[str, Any], types: set[str], containers: set[str],
                strata: set[str]) -> list[TimePointSpec]:
    timepoints: list[TimePointSpec] = []
    for i, raw in enumerate(_table_list(reader, doc, "timepoints")):
        timepoints.append(_timepoint(reader, raw, f"timepoints[{i}]", types, containers, strata))
    for i, raw in enumerate(_table_list(reader, doc, "cre_series", required=False)):
        timepoints.extend(_cre_series(reader, raw, f"cre_series[{i}]", types, containers, strata))
    seen: set[str] = set()
    for tp in timepoints:
        if tp.code in seen:
            raise reader.fail(f"timepoints.{tp.code}", "duplicate time point code")
        seen.add(tp.code)
    return timepoints


def _settings(reader: _Reader, doc: dict[str, Any]) -> dict[str, Any]:
    settings = doc.get("settings", {})
    if not isinstance(settings, dict):
        raise reader.fail("settings", "must be a table")
    if settings.get("dfs_variant", "A") not in ("A", "B"):
        raise reader.fail("settings.dfs_variant", f"must be 'A' or 'B', got {settings['dfs_variant']!r}")
    for key in ("salvage_window_days", "stratum_landmark_days"):
        value = settings.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise reader.fail(f"settings.{key}", f"must be a whole number of days >= 0, got {value!r}")
    return settings
