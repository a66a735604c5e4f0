"""What a custody verification found, and how raw database values are read without trusting them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lims.custody.anchorfile import Anchor

MAX_LISTED = 1000  # problems kept with their details; the rest are only counted


@dataclass
class Problem:
    """One piece of damage: where it is (sample and event, or checkpoint) and what is wrong."""

    message: str
    sample_id: int | None = None
    seq: int | None = None
    event_id: int | None = None
    checkpoint: int | None = None
    accession: str | None = None

    def describe(self) -> str:
        """Return one line naming the place and the damage."""
        where = []
        if self.sample_id is not None:
            where.append(f"sample {self.accession or f'id {self.sample_id}'}")
            if self.seq is not None:
                where.append(f"event #{self.seq}" + (f" (id {self.event_id})" if self.event_id else ""))
        elif self.checkpoint is not None:
            where.append(f"checkpoint #{self.checkpoint}")
        elif self.event_id is not None:
            where.append(f"event id {self.event_id}")
        return (" ".join(where) + ": " if where else "") + self.message


@dataclass
class CustodyReport:
    """Counts of what was checked, the problems found (first MAX_LISTED kept) and notes that are not
    damage."""

    events: int = 0
    chains: int = 0
    checkpoints: int = 0
    anchors: int = 0
    newest_anchor: Anchor | None = None
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Tell whether nothing is damaged."""
        return self.problem_count == 0

    @property
    def checked(self) -> int:
        """Return how many events were read."""
        return self.events

    def add(self, problem: Problem) -> None:
        """Count a problem, keeping its details while the list is short."""
        self.problem_count += 1
        if len(self.problems) < MAX_LISTED:
            self.problems.append(problem)


def as_int(value: Any) -> int | None:
    """Return an integer column's value, or None when the row holds something else."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_time(value: Any) -> datetime | None:
    """Return a timestamp column's value in UTC, or None when it is not a time (text such as 'yesterday')."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return None


def as_json(value: Any) -> tuple[bool, Any]:
    """Return (True, value) for a JSON column's value, (False, None) when its text is not JSON."""
    if value is None:
        return True, None
    if isinstance(value, str | bytes):
        try:
            return True, json.loads(value)
        except ValueError:
            return False, None
    return True, value


def shown(value: Any, width: int = 40) -> str:
    """Return a short printable form of a raw value for a message."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."
