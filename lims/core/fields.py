"""The limits every edge shares (forms, JSON, imports): which dates and numbers a trial record can hold.

A date outside 1900-2200 is a typo (``0925`` for ``2025``), not a trial event; a number must be finite
(NaN and infinities are refused everywhere: JSON, forms, CSV and XLSX cells); an integer must fit the
database's 32-bit columns. The marshmallow fields below carry the limits into the OpenAPI document, so
API clients (and schemathesis) see the same rules the server applies.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Any

from flask_smorest.fields import Upload
from marshmallow import ValidationError, fields, validate
from werkzeug.datastructures import FileStorage

FIRST_DATE = date(1900, 1, 1)
LAST_DATE = date(2200, 12, 31)
# The same years as a pattern, for the OpenAPI document (JSON Schema has no date bounds); the calendar
# (no 30 February) is left to ``format: date``.
DATE_PATTERN = r"^(19[0-9]{2}|2[01][0-9]{2}|2200)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
_DATE_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MAX_INT = 2**31 - 1
DATE_REASON = f"a date between {FIRST_DATE.isoformat()} and {LAST_DATE.isoformat()}"


def date_problem(value: date) -> str | None:
    """Return why ``value`` is not a plausible trial date, or None."""
    if not FIRST_DATE <= value <= LAST_DATE:
        return f"not {DATE_REASON}"
    return None


def number_problem(value: float, low: float | None = None, high: float | None = None) -> str | None:
    """Return why ``value`` is not an acceptable number (NaN, infinite, outside [low, high]), or None."""
    if math.isnan(value):
        return "not a number (NaN)"
    if math.isinf(value):
        return "not a finite number"
    if low is not None and value < low:
        return f"below the lowest allowed value {_shown(low)}"
    if high is not None and value > high:
        return f"above the highest allowed value {_shown(high)}"
    return None


def _shown(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else f"{bound:g}"


class Date(fields.Date):
    """A date ``YYYY-MM-DD`` between 1900-01-01 and 2200-12-31 (a plausible trial date).

    Only that form: Python would also read ``20250105`` and the week date ``2025-W01-1``, which the OpenAPI
    document (``format: date``) does not allow.
    """

    def __init__(self, **kwargs: Any) -> None:
        extra = kwargs.pop("validate", None)
        validators: list[Any] = [validate.Range(min=FIRST_DATE, max=LAST_DATE)]
        if extra is not None:
            validators += list(extra) if isinstance(extra, (list, tuple)) else [extra]
        metadata = {"pattern": DATE_PATTERN, **kwargs.pop("metadata", {})}
        super().__init__(validate=validators, metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        if not isinstance(value, str) or not _DATE_SHAPE.fullmatch(value):
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE)
        return super()._deserialize(value, attr, data, **kwargs)


class Integer(fields.Integer):
    """A whole number that fits the database's 32-bit integer columns (``strict``: 1.5 is refused)."""

    def __init__(self, *, low: int = -MAX_INT, high: int = MAX_INT, **kwargs: Any) -> None:
        extra = kwargs.pop("validate", None)
        validators: list[Any] = [validate.Range(min=low, max=high)]
        if extra is not None:
            validators += list(extra) if isinstance(extra, (list, tuple)) else [extra]
        kwargs.setdefault("strict", True)
        super().__init__(validate=validators, **kwargs)



class Number(fields.Float):
    """A finite number; in text a decimal comma is read as a point (``"3,5"`` is 3.5), as typed on a page.

    A JSON number is taken as it is. A refusal names the value: ``'3,5,1' is not a number``.
    """

    default_error_messages = {"invalid": "{input!r} is not a number"}  # noqa: RUF012

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_nan", False)
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str):
            return super()._deserialize(value, attr, data, **kwargs)
        try:
            return super()._deserialize(value.strip().replace(",", "."), attr, data, **kwargs)
        except ValidationError:
            raise self.make_error("invalid", input=value) from None


class LocalDateTime(fields.DateTime):
    """A date and time as typed on a page (``YYYY-MM-DDTHH:MM``); the caller reads it in the study's zone.

    A refusal names the value: ``'8 Jan' is not a date and time (YYYY-MM-DDTHH:MM)``.
    """

    default_error_messages = {"invalid": "{input!r} is not a date and time (YYYY-MM-DDTHH:MM)"}  # noqa: RUF012

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str):
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE)
        return super()._deserialize(value, attr, data, **kwargs)


class Boolean(fields.Boolean):
    """``true`` or ``false`` only (JSON booleans, or those words in a query string): not 0, 1, "yes" or "on".

    Page forms still tick boxes: ``lims.core.forms.load_form`` turns a checkbox into a boolean first.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if isinstance(value, bool):  # 0 == False in Python: compare types, not values
            return value
        if isinstance(value, str) and value in ("true", "false"):
            return value == "true"
        raise self.make_error("invalid", input=value)


class File(Upload):
    """An uploaded file (multipart); a plain form field of the same name is refused, not read as a file."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> FileStorage:
        if not isinstance(value, FileStorage):
            raise ValidationError("must be a file (multipart upload with a file name)")
        return value
