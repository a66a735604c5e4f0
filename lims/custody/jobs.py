"""Periodic custody work: anchor the chain heads that changed in a checkpoint outside the database."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from lims.custody.anchors import write_anchor
from lims.jobs.models import Job
from lims.jobs.service import Handler, Progress


def anchor(session: Session, job: Job, progress: Progress) -> dict[str, Any]:
    """Seal the changed chain heads in a checkpoint; its line is appended to the anchor file at commit."""
    progress.report(0.1, "sealing the changed chain heads")
    written = progress.step(lambda: write_anchor(session))
    return {"checkpoint": written.checkpoint, "heads": written.heads, "line": written.line}


HANDLERS = {"custody_anchor": Handler(anchor, label="Custody anchor", periodic=True)}
