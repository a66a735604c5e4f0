"""Schema fields that apply data minimisation at the JSON edge (see :mod:`lims.access.dates`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import has_request_context
from flask_login import current_user
from marshmallow import fields

from lims.access.dates import exact_dates, study_day


def _viewer() -> Any:
    return current_user if has_request_context() else None


class _HiddenUnlessExact:
    """Serialise the calendar value only for viewers with ``dates.exact``; others get null."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if value is not None and not exact_dates(_viewer()):
            return None
        return super()._serialize(value, attr, obj, **kwargs)  # type: ignore[misc]


class ParticipantDate(_HiddenUnlessExact, fields.Date):
    """A participant's calendar date; null unless the viewer may see exact dates (the study day is beside
    it)."""


class ParticipantDateTime(_HiddenUnlessExact, fields.DateTime):
    """A participant's timestamp; null unless the viewer may see exact dates (the study day is beside it)."""


class StudyDay(fields.Integer):
    """The study day (day 1 = enrolment) of another attribute, shown to everyone."""

    def __init__(self, source: str, participant: Callable[[Any], Any], **kwargs: Any) -> None:
        kwargs.setdefault("allow_none", True)
        kwargs.setdefault("dump_only", True)
        kwargs.setdefault("metadata", {"description": f"Study day of {source} (day 1 = enrolment)"})
        super().__init__(attribute=source, **kwargs)
        self._participant = participant

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> int | None:
        return study_day(self._participant(obj), value)
