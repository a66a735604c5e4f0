"""Sample page (key facts, SPREC, lineage, custody) and the participant page with its samples."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template

from lims.core.auth import login_required
from lims.core.errors import DomainError, NotFound
from lims.custody.service import history
from lims.extensions import db
from lims.samples import service
from lims.participants import service as participants_service
from lims.samples.presenters import sprec_for
from lims.samples.schedule import visit_rows

bp = Blueprint("samples", __name__, url_prefix="/samples")
# The participant page lists samples, so it lives here (domains import one way) under /participants/.
participant_bp = Blueprint("participant", __name__, url_prefix="/participants")


@bp.get("/<accession>")
@login_required
def detail(accession: str) -> Any:
    """Show one sample with its lineage tree and full custody history."""
    try:
        sample = service.get_by_accession(db.session, accession)
    except DomainError as exc:
        abort(404, description=exc.message)
    ancestors, descendants = service.lineage(db.session, sample)
    return render_template(
        "samples/detail.html", sample=sample, ancestors=ancestors, descendants=descendants,
        events=history(db.session, sample.id), sprec=sprec_for(sample),
    )


@participant_bp.get("/<code>")
@login_required
def detail_page(code: str) -> Any:
    """Show a participant's time points in order with expected vs collected samples."""
    try:
        participant = participants_service.get_by_code(db.session, code)
    except NotFound:
        abort(404, description=f"No participant {code!r}.")
    samples = service.samples_of_participant(db.session, participant)
    return render_template("participants/detail.html", participant=participant,
                           rows=visit_rows(participant, samples))
