"""Storage pages for many tubes at once: rack-reader scans (compare, review, apply), bulk placement, box
exports."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask_login import current_user

from lims import access
from lims.core.auth import login_required
from lims.core.db import utcnow
from lims.core.errors import DomainError
from lims.core.permissions import permission_required
from lims.core.uow import refuse
from lims.extensions import db
from lims.storage import export, racks, service
from lims.storage.bulk import BulkRefused, place_from_csv
from lims.storage.views import bp

MAX_UPLOAD = 1_000_000


def _box(unit_id: int) -> Any:
    return access.require(current_user, "storage.manage",
                          access.require_see(current_user, service.get_unit(db.session, unit_id)))


def _upload() -> bytes:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise DomainError("choose the file to upload", field="file")
    data = upload.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise DomainError(f"the file is larger than {MAX_UPLOAD // 1000} kB", field="file")
    return data


@bp.route("/units/<int:unit_id>/rack", methods=["GET", "POST"])
@permission_required("storage.manage")
def rack(unit_id: int) -> Any:
    """Upload a rack reader's file and compare it with the box map (nothing changes until it is applied)."""
    unit = _box(unit_id)
    numbering = request.form.get("numbering", "row")
    if request.method == "GET":
        return render_template("storage/rack.html", unit=unit, diff=None, numbering=numbering)
    try:
        data = _upload()
        diff = racks.compare(db.session, unit, data, user=current_user, numbering=numbering)
    except DomainError as exc:
        return render_template("storage/rack.html", unit=unit, diff=None, numbering=numbering,
                               error=exc.message), 422
    return render_template("storage/rack.html", unit=unit, diff=diff, numbering=numbering,
                           payload=base64.b64encode(data).decode("ascii"))


@bp.post("/units/<int:unit_id>/rack/apply")
@permission_required("storage.manage")
def rack_apply(unit_id: int) -> Any:
    """Apply the reviewed comparison: every move or none, one custody event per tube."""
    unit = _box(unit_id)
    try:
        data = base64.b64decode(request.form.get("payload", ""), validate=True)
    except (binascii.Error, ValueError):
        refuse("the reviewed scan was damaged on its way back; upload the file again")
        return redirect(url_for("storage.rack", unit_id=unit.id))
    try:
        diff = racks.apply_scan(db.session, unit, data, user=current_user,
                                fingerprint=request.form.get("fingerprint", ""),
                                numbering=request.form.get("numbering", "row"))
    except DomainError as exc:
        refuse(exc.message)
        return redirect(url_for("storage.rack", unit_id=unit.id))
    flash(f"Rack scan applied: {len(diff.moves)} tube{'s' if len(diff.moves) != 1 else ''} placed "
          f"(one custody event each); {diff.counts['match']} already right.", "info")
    return redirect(url_for("storage.unit", unit_id=unit.id))


@bp.route("/bulk", methods=["GET", "POST"])
@permission_required("storage.manage")
def bulk() -> Any:
    """Place many tubes from a CSV file (accession, box, position), all or nothing."""
    if request.method == "GET":
        return render_template("storage/bulk.html", problems=None)
    try:
        placed = place_from_csv(db.session, _upload(), by=current_user)
    except BulkRefused as exc:
        return render_template("storage/bulk.html", problems=exc.rows), 422
    except DomainError as exc:
        return render_template("storage/bulk.html",
                               problems=[(None, exc.field or "file", "", exc.message)]), 422
    flash(f"Placed {placed} tube{'s' if placed != 1 else ''} from the file (one custody event each).", "info")
    return redirect(url_for("storage.bulk"))


@bp.get("/units/<int:unit_id>/contents.csv")
@login_required
def export_csv(unit_id: int) -> Any:
    """Download a box's contents as CSV, one line per position."""
    unit = access.require_see(current_user, service.get_unit(db.session, unit_id))
    return Response(export.box_csv(db.session, unit, current_user), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{unit.barcode}-contents.csv"'})


@bp.get("/units/<int:unit_id>/map.pdf")
@login_required
def export_pdf(unit_id: int) -> Any:
    """Download a printable map of a box (PDF)."""
    unit = access.require_see(current_user, service.get_unit(db.session, unit_id))
    return Response(export.box_pdf(db.session, unit, current_user, printed=utcnow()),
                    mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{unit.barcode}-map.pdf"'})
