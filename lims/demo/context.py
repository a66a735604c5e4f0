"""What every part of the demo gets (:class:`DemoContext`), what loading did (:class:`Summary`), and the
dates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
from sqlalchemy.orm import Session

from lims.accounts.models import User
from lims.studies.models import Study

DATA_CUT = date(2026, 11, 1)
FIRST_ENROLMENT = date(2024, 6, 3)
ENROLMENT_DAYS = 730


@dataclass
class DemoContext:
    """What a demo part gets: the session, the study, a seeded random stream and the core's objects."""

    session: Session
    study: Study
    rng: np.random.Generator
    data_cut: date
    technicians: dict[str, User]
    users: dict[str, User]
    summary: Summary
    instance_path: str
    password: str = ""  # every demo login's password (operations that sign ask for it)


@dataclass
class Summary:
    """What ``load`` did, for the CLI to print."""

    created: bool
    participants: int = 0
    samples: int = 0
    missed: int = 0
    custody_events: int = 0
    credentials_file: str | None = None
    per_site: dict[str, int] = field(default_factory=dict)
    extra: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        if not self.created:
            return (f"The demo trial is already loaded ({self.participants} participants, {self.samples} "
                    "samples); nothing changed.")
        sites = ", ".join(f"{k} {v}" for k, v in sorted(self.per_site.items()))
        return (f"Loaded the demo trial: {self.participants} participants ({sites}), {self.samples} samples, "
                f"{self.missed} missed collections, {self.custody_events} custody events"
                + "".join(f", {v} {k}" for k, v in self.extra.items())
                + f". Demo logins are in {self.credentials_file}.")


