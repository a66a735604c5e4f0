"""Expected vs collected samples per visit, for the participant page and reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lims.participants.models import Participant, Visit


@dataclass
class KitLine:
    label: str
    expected: int
    collected: list[Any] = field(default_factory=list)
    missed: list[Any] = field(default_factory=list)
    derived: int = 0
    optional: bool = False

    @property
    def state(self) -> str:
        if self.collected:
            return "collected"
        if self.missed:
            return "missed"
        return "optional" if self.optional else "expected"


@dataclass
class VisitRow:
    visit: Visit
    lines: list[KitLine]

    @property
    def collected(self) -> int:
        return sum(1 for line in self.lines if line.collected)

    @property
    def expected(self) -> int:
        return sum(1 for line in self.lines if not line.optional)


def visit_rows(participant: Participant, samples: list[Any]) -> list[VisitRow]:
    """Group a participant's samples under each scheduled visit's kit, in date order."""
    by_visit_kit: dict[tuple[int | None, int | None], list[Any]] = {}
    derived: dict[int | None, int] = {}
    for s in samples:
        if s.derivation == "primary":
            by_visit_kit.setdefault((s.visit_id, s.kit_item_id), []).append(s)
        else:
            derived[s.visit_id] = derived.get(s.visit_id, 0) + 1
    rows = []
    visits = sorted(
        (v for v in participant.visits if v.status != "not_applicable"),
        key=lambda v: (v.planned_on or v.actual_on or participant.enrolled_on, v.timepoint.order),
    )
    for visit in visits:
        lines = []
        for kit in visit.timepoint.kit:
            found = by_visit_kit.get((visit.id, kit.id), [])
            lines.append(KitLine(
                label=kit.label, expected=1, optional=kit.optional,
                collected=[s for s in found if s.status != "missed"],
                missed=[s for s in found if s.status == "missed"],
            ))
        row = VisitRow(visit=visit, lines=lines)
        rows.append(row)
        if lines:
            lines[0].derived = derived.get(visit.id, 0)
    return rows
