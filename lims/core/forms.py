"""Page forms go through the same marshmallow schemas as the JSON API, so both accept exactly the same
things."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields

from lims.core.vocabulary import problem_text


def form_data(schema: Schema, form: Any) -> dict[str, Any]:
    """Turn a submitted form into the dict a JSON body would be: blank fields are absent, lists stay lists."""
    data: dict[str, Any] = {}
    for name, field in schema.fields.items():
        key = field.data_key or name
        if field.dump_only:
            continue
        if isinstance(field, fields.List):
            values = [v for v in form.getlist(key) if v.strip() != ""]
            if values:
                data[key] = values
        elif isinstance(field, fields.Boolean):
            if key in form:
                data[key] = form.get(key) not in ("", "0", "off", "false")
        else:
            value = form.get(key)
            if value is not None and value.strip() != "":
                data[key] = value.strip()
    return data


def load_form(schema: Schema, form: Any) -> dict[str, Any]:
    """Load a page form with ``schema``; raise marshmallow's ValidationError with per-field messages."""
    return schema.load(form_data(schema, form))


def form_errors(exc: ValidationError) -> dict[str, str]:
    """Flatten a ValidationError into {field: first message} for a page."""
    messages = exc.messages if isinstance(exc.messages, dict) else {"form": exc.messages}
    out: dict[str, str] = {}
    for key, value in messages.items():
        while isinstance(value, (list, dict)) and value:
            value = value[0] if isinstance(value, list) else next(iter(value.values()))
        out[str(key)] = str(value)
    return out


def first_error(exc: ValidationError) -> str:
    """Return the first problem of a ValidationError as 'readable field: message'."""
    field, message = next(iter(form_errors(exc).items()), ("form", "invalid input"))
    return problem_text(field, message)
