"""The REDCap mapping file (YAML): its schema, and the parsed ``Mapping`` the REDCap reader and writer use.

Every key of the file goes through a marshmallow schema before anything reads it, so a mapping of the wrong
shape (``fields`` as a list, ``codes`` as a string, ``day_first: sometimes``, a misspelt key) is refused with
the key's path and its line in the file, never half-used. See ``redcap_mapping.yaml`` for the format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from marshmallow import Schema, ValidationError, fields, validate

from lims.clinical.csvfiles import TABLE_FIELDS, Issue

MAX_MAPPING_BYTES = 1 << 20
MAX_NODES = 200_000  # values in the parsed document, aliases expanded (a "billion laughs" file is refused)
INSTRUMENTS = ("QLQ-C30", "FACT-E")


class Scalar(fields.Field):
    """A YAML scalar read as text: ``1`` and ``"1"`` are the same raw code."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValidationError("must be a text or a number")
        return str(value)


class Source(fields.Field):
    """Where an attribute comes from: an EDC field name, ``@cre``/``@timepoint``, or ``{checkbox: name}``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str) and value.strip():
            if value.startswith("@") and value not in ("@cre", "@timepoint"):
                raise ValidationError("a computed source is @cre or @timepoint")
            return value.strip()
        if isinstance(value, dict) and set(value) == {"checkbox"} and isinstance(value["checkbox"], str):
            return {"checkbox": value["checkbox"].strip()}
        raise ValidationError("must be a field name or {checkbox: name}")


class ItemsSchema(Schema):
    instrument = fields.String(required=True, validate=validate.OneOf(INSTRUMENTS))
    prefix = fields.String(load_default="", validate=validate.Length(max=60))
    codes = fields.List(Scalar(), required=True, validate=validate.Length(min=1, max=200))


class FormSchema(Schema):
    table = fields.String(required=True, validate=validate.OneOf(sorted(TABLE_FIELDS)))
    event = fields.String(load_default=None, validate=validate.Length(min=1, max=100))
    repeat = fields.String(load_default=None, validate=validate.Length(min=1, max=100))
    events_of = fields.String(load_default=None, validate=validate.OneOf(["timepoints"]))
    sources = fields.Dict(keys=fields.String(), values=Source(), load_default=dict, data_key="fields")
    codes = fields.Dict(keys=fields.String(), values=fields.Dict(keys=Scalar(), values=Scalar()),
                        load_default=dict)
    items = fields.Nested(ItemsSchema, load_default=None)


class MappingSchema(Schema):
    record_id = fields.String(load_default="record_id", validate=validate.Length(min=1, max=100))
    day_first = fields.Boolean(load_default=True, truthy={True}, falsy={False})
    ignore = fields.List(fields.String(validate=validate.Length(min=1, max=200)), load_default=list)
    events = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=100)),
                         values=fields.String(allow_none=True, validate=validate.Length(min=1, max=40)),
                         required=True, validate=validate.Length(min=1))
    forms = fields.List(fields.Nested(FormSchema), required=True, validate=validate.Length(min=1))


@dataclass
class Form:
    """One EDC form feeding one Trialbank table."""

    table: str
    fields: dict[str, Any]
    codes: dict[str, dict[str, str]]
    event: str | None = None
    repeat: str | None = None
    timepoint_events: bool = False
    instrument: str | None = None
    items: list[str] = field(default_factory=list)
    prefix: str = ""

    def columns(self) -> list[str]:
        """Return the plain EDC columns this form reads (checkbox groups excluded)."""
        cols = [src for src in self.fields.values() if isinstance(src, str) and not src.startswith("@")]
        return cols + [f"{self.prefix}{item.lower()}" for item in self.items]

    def checkboxes(self) -> list[str]:
        return [src["checkbox"] for src in self.fields.values() if isinstance(src, dict)]


@dataclass
class Mapping:
    """A parsed mapping file."""

    record_id: str
    events: dict[str, str | None]
    forms: list[Form]
    ignore: list[str]
    day_first: bool = True

    def event_of(self, timepoint: str) -> str | None:
        for event, tp in self.events.items():
            if tp == timepoint:
                return event
        return None


def _size(value: Any, budget: int) -> int:
    """Count the values of a parsed document (shared aliases counted each time), stopping past ``budget``."""
    count, stack = 0, [value]
    while stack and count <= budget:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def _line_of(root: Any, path: list[str]) -> int | None:
    """Return the line (from 1) of the YAML node at ``path`` (keys and list indexes), or of its nearest
    parent."""
    node, line = root, None
    for part in path:
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
        else:
            node = None
    return node.start_mark.line + 1 if node is not None else line


_REASONS = {"Not a valid mapping type.": "must be a table (key: value)",
            "Not a valid list.": "must be a list",
            "Invalid input type.": "must be a table (key: value)",
            "Unknown field.": "unknown key (misspelt?)",
            "Not a valid string.": "must be a text", "Not a valid boolean.": "must be true or false"}


def _flatten(messages: Any, path: list[str]) -> list[tuple[list[str], str]]:
    """Turn marshmallow's nested messages into (key path, reason); a Dict's key/value level is dropped."""
    if isinstance(messages, dict):
        return [pair for key, value in messages.items()
                for pair in _flatten(value,
                                     path if key in ("key", "value", "_schema") else [*path, str(key)])]
    if isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages):
        return [(path, "; ".join(_REASONS.get(m, m) for m in messages if isinstance(m, str)))]
    if isinstance(messages, list):
        return [pair for i, value in enumerate(messages) for pair in _flatten(value, [*path, str(i)])]
    return [(path, str(messages))]


def _parse(text: str, name: str, issues: list[Issue]) -> tuple[Any, Any] | None:
    """Parse the YAML text safely; return (document, node tree) or None after reporting why not."""
    if len(text.encode("utf-8", "replace")) > MAX_MAPPING_BYTES:
        issues.append(Issue(name, None, "", None, f"a mapping file is at most {MAX_MAPPING_BYTES >> 10} kB"))
        return None
    try:
        doc, root = yaml.safe_load(text), yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        issues.append(Issue(name, mark.line + 1 if mark else None, "", None,
                            f"not valid YAML: {getattr(exc, 'problem', None) or exc}"))
        return None
    except (ValueError, RecursionError) as exc:
        issues.append(Issue(name, None, "", None, f"not a usable YAML file: {exc}"))
        return None
    if _size(doc, MAX_NODES) > MAX_NODES:
        issues.append(Issue(name, None, "", None, f"the mapping expands to more than {MAX_NODES:,} values "
                            "(aliases nested in aliases)"))
        return None
    if not isinstance(doc, dict):
        issues.append(Issue(name, 1, "", None, "a mapping is a YAML table with 'events' and 'forms'"))
        return None
    return doc, root


def _form(raw: dict[str, Any]) -> Form:
    items = raw["items"] or {}
    return Form(table=raw["table"], fields=raw["sources"], codes=raw["codes"], event=raw["event"],
                repeat=raw["repeat"], timepoint_events=raw["events_of"] == "timepoints",
                instrument=items.get("instrument"), items=list(items.get("codes", [])),
                prefix=items.get("prefix", ""))


def _rules(data: dict[str, Any], name: str, root: Any, issues: list[Issue]) -> None:
    """Check what the schema cannot: attributes of the table, required attributes, listed events."""
    for i, raw in enumerate(data["forms"]):
        table, where = raw["table"], ["forms", str(i)]
        for attr, src in raw["sources"].items():
            if attr not in TABLE_FIELDS[table]:
                issues.append(Issue(name, _line_of(root, [*where, "fields", attr]),
                                    f"forms[{i}].fields.{attr}",
                                    str(src), f"no attribute {attr} in {table}"))
        required = {c for c, s in TABLE_FIELDS[table].items() if s.required}
        provided = set(raw["sources"]) | ({"instrument", "timepoint", "item", "value"} if raw["items"]
                                          else set())
        for missing in sorted(required - provided):
            issues.append(Issue(name, _line_of(root, where), f"forms[{i}].fields", missing,
                                f"required attribute {missing} is not mapped"))
        if raw["event"] is not None and raw["event"] not in data["events"]:
            issues.append(Issue(name, _line_of(root, [*where, "event"]), f"forms[{i}].event", raw["event"],
                                "event not listed under events"))


def load_mapping(text: str, name: str, issues: list[Issue]) -> Mapping | None:
    """Parse and check a mapping file; report problems as issues of file ``name`` (with their lines)."""
    parsed = _parse(text, name, issues)
    if parsed is None:
        return None
    doc, root = parsed
    try:
        data = MappingSchema().load(doc)  # unknown (misspelt) keys are refused too
    except ValidationError as exc:
        for path, reason in _flatten(exc.messages, []):
            issues.append(Issue(name, _line_of(root, path), _dotted(path), _value_at(doc, path), reason))
        return None
    before = len(issues)
    _rules(data, name, root, issues)
    if len(issues) > before:
        return None
    return Mapping(record_id=data["record_id"], events=data["events"],
                   forms=[_form(f) for f in data["forms"]],
                   ignore=data["ignore"], day_first=data["day_first"])


def _value_at(doc: Any, path: list[str]) -> str | None:
    """Return the document's value at ``path`` as text (None when the path is not there)."""
    for part in path:
        if isinstance(doc, dict) and part in doc:
            doc = doc[part]
        elif isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        else:
            return None
    return None if doc is None else str(doc)


def _dotted(path: list[str]) -> str:
    """Show a key path as ``forms[2].fields.rt_dose_gy``."""
    out = ""
    for part in path:
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out
