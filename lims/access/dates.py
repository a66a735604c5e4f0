"""Data minimisation: a participant's calendar dates for roles with ``dates.exact``, study days for the rest.

Day 1 is the participant's enrolment (``date - enrolment + 1``, as the outcome rules count). Times are shown
in the study's local time zone (a study setting); storage stays UTC. Pages use the ``when`` filter, JSON
schemas put ``None`` in a hidden date field and give the study day beside it, and exports and figures ask
:func:`exact_dates` before they print a date.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lims.access.rules import may_act


def exact_dates(user: Any) -> bool:
    """Tell whether ``user`` may see participants' calendar dates (otherwise study days)."""
    return may_act(user, "dates.exact")


def study_zone(study: Any) -> ZoneInfo:
    """Return the study's local time zone (setting ``timezone``; UTC when absent or unknown)."""
    name = ((getattr(study, "settings", None) or {}).get("timezone")) or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_date(value: date | datetime, zone: ZoneInfo) -> date:
    """Return the calendar date of ``value`` in ``zone`` (a date is returned as it is)."""
    if isinstance(value, datetime):
        return local_datetime(value, zone).date()
    return value


def local_datetime(value: datetime, zone: ZoneInfo) -> datetime:
    """Return the stored (UTC) ``value`` as a time in ``zone``; a naive value is taken as UTC."""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(zone)


def format_local(value: date | datetime | None, zone: ZoneInfo, *, time: bool = True, empty: str = "") -> str:
    """Format a stored time for a page in ``zone`` ('2025-01-08 09:30'); the one place pages format times."""
    if value is None:
        return empty
    if not isinstance(value, datetime):
        return value.isoformat()
    local = local_datetime(value, zone)
    return local.strftime("%Y-%m-%d %H:%M") if time else local.strftime("%Y-%m-%d")


def from_local(value: datetime, zone: ZoneInfo) -> datetime:
    """Return a time typed in ``zone`` (naive) or carrying its own offset, as an aware UTC time for
    storage."""
    return (value.replace(tzinfo=zone) if value.tzinfo is None else value).astimezone(UTC)


def local_today(zone: ZoneInfo) -> date:
    """Return today's date in ``zone`` (the bench's calendar day, not UTC's)."""
    return datetime.now(UTC).astimezone(zone).date()


def study_day(participant: Any, value: date | datetime | None) -> int | None:
    """Return the study day of ``value`` for ``participant`` (day 1 = enrolment), or None."""
    if value is None or participant is None or participant.enrolled_on is None:
        return None
    return (local_date(value, study_zone(participant.study)) - participant.enrolled_on).days + 1


def shown(user: Any, participant: Any, value: date | datetime | None) -> date | datetime | None:
    """Return ``value`` when ``user`` may see calendar dates, else None (the study day is shown instead)."""
    return value if exact_dates(user) else None


def when(user: Any, participant: Any, value: date | datetime | None, *, time: bool = True) -> str:
    """Format a participant's date for a page: local date (and time) or 'day N'."""
    if value is None:
        return ""
    if not exact_dates(user):
        day = study_day(participant, value)
        return f"day {day}" if day is not None else "(date hidden)"
    zone = study_zone(participant.study) if participant is not None else ZoneInfo("UTC")
    return format_local(value, zone, time=time)
