"""The jobs package's own job kinds: a self-test that shows the workers are alive."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.orm import Session

from lims.jobs.models import Job
from lims.jobs.service import Handler, Progress


def selftest(session: Session, job: Job, progress: Progress) -> dict[str, Any]:
    """Sleep for ``seconds`` (default 1) in steps, reporting progress: proves a worker picks jobs up."""
    seconds = float(job.params.get("seconds", 1))
    steps = max(int(seconds * 4), 1)
    for i in range(steps):
        progress.report(i / steps, f"step {i + 1} of {steps}")
        time.sleep(seconds / steps)
    return {"slept": seconds, "worker": job.worker}


HANDLERS = {"selftest": Handler(selftest, label="Worker self-test")}
