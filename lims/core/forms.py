"""Page forms go through the same marshmallow schemas as the JSON API, so both accept exactly the same
things."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields

from lims.core.errors import DomainError
from lims.core.vocabulary import problem_text


def form_data(schema: Schema, form: Any, prefix: str = "") -> dict[str, Any]:
    """Turn a submitted form into the dict a JSON body would be: blank fields are absent, lists stay lists.

    With ``prefix`` the fields of one repeated sub-form are read (``kit-3-quantity`` for ``prefix="kit-3-"``)
    under their schema names.
    """
    data: dict[str, Any] = {}
    for name, field in schema.fields.items():
        key = field.data_key or name
        if field.dump_only:
            continue
        if isinstance(field, fields.List):
            values = [v for v in form.getlist(prefix + key) if v.strip() != ""]
            if values:
                data[key] = values
        elif isinstance(field, fields.Boolean):
            if prefix + key in form:
                data[key] = form.get(prefix + key) not in ("", "0", "off", "false")
        else:
            value = form.get(prefix + key)
            if value is not None and value.strip() != "":
                data[key] = value.strip()
    return data


def load_form(schema: Schema, form: Any, prefix: str = "") -> dict[str, Any]:
    """Load a page form with ``schema``; raise marshmallow's ValidationError with per-field messages.

    With ``prefix`` (one repeated sub-form) the messages are keyed by the form's names, prefix included.
    """
    try:
        return schema.load(form_data(schema, form, prefix))
    except ValidationError as exc:
        if not prefix or not isinstance(exc.messages, dict):
            raise
        raise ValidationError({prefix + str(k): v for k, v in exc.messages.items()}) from None


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


def load_or_refuse(schema: Schema, data: dict[str, Any]) -> dict[str, Any]:
    """Load ``data`` (a JSON body, or a page form turned into one) with ``schema``; a refusal is a DomainError
    naming the first field in trouble, so a service can give the page and the API the same answer."""
    try:
        return schema.load(data)
    except ValidationError as exc:
        field = next(iter(form_errors(exc)), None)
        raise DomainError(first_error(exc), field=field) from None
