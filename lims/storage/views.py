"""Storage pages: the hierarchy with occupancy, the box map with scan-to-place, moves and the retention review."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from lims.core.auth import login_required
from lims.core.errors import DomainError, NotFound
from lims.core.permissions import permission_required
from lims.extensions import db
from lims.samples import service as samples_service
from lims.storage import service
from lims.storage.models import GRID_KINDS, KINDS
from lims.storage.transactions import commit_with_retry
from lims.studies.models import Site
from lims.studies.service import get_study

bp = Blueprint("storage", __name__, url_prefix="/storage")


@bp.get("/")
@login_required
def index() -> Any:
    """List each site's storage tree with capacity and occupancy at every level."""
    units = service.site_units(db.session)
    use = service.usage(db.session, units)
    children: dict[int | None, list[Any]] = {}
    for unit in units:
        children.setdefault(unit.parent_id, []).append(unit)
    sites = db.session.query(Site).order_by(Site.code).all()
    suggestion = None
    accession = request.args.get("accession", "").strip()
    if accession:
        try:
            sample = samples_service.get_by_accession(db.session, accession)
            suggestion = (sample, service.suggest_location(db.session, sample))
        except DomainError as exc:
            flash(exc.message, "error")
    site_use = {site.id: service.Usage() for site in sites}
    for top in children.get(None, []):
        total, part = site_use[top.site_id], use[top.id]
        total.capacity, total.used = total.capacity + part.capacity, total.used + part.used
        total.unbounded = total.unbounded or part.unbounded
    return render_template("storage/index.html", sites=sites, children=children, use=use, kinds=KINDS,
                           suggestion=suggestion, accession=accession, site_use=site_use)


@bp.get("/scan")
@login_required
def scan_box() -> Any:
    """Open the unit whose barcode was scanned."""
    try:
        unit = service.get_unit_by_barcode(db.session, request.args.get("barcode", ""),
                                           site_codes=current_user.site_codes)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("storage.index"))
    return redirect(url_for("storage.unit", unit_id=unit.id))


@bp.get("/units/<int:unit_id>")
@login_required
def unit(unit_id: int) -> Any:
    """Show a unit: its path, contents with occupancy, the box map, and the scan and move forms."""
    found = _unit_or_404(unit_id)
    ids = service.descendant_ids(db.session, found.id)
    inside = [u for u in service.site_units(db.session, found.site_id) if u.id in ids]
    use = service.usage(db.session, inside)
    grid = service.box_map(db.session, found) if found.kind in GRID_KINDS else None
    loose = service.loose_samples(db.session, found) if found.kind not in GRID_KINDS else []
    types = {c.sample.sample_type.code for row in grid or [] for c in row if c.sample} | \
        {s.sample_type.code for s in loose}
    return render_template("storage/unit.html", unit=found, path=service.unit_path(db.session, found),
                           use=use, children=found.children, grid=grid, loose=loose, types=sorted(types),
                           holds_samples=found.kind in service.SAMPLE_HOLDERS,
                           last=request.args.get("last"))


@bp.post("/units/<int:unit_id>/place")
@permission_required("storage.manage")
def place(unit_id: int) -> Any:
    """Place the scanned tube at the typed position or the next free one."""
    code, position = request.form.get("code", ""), request.form.get("position", "")

    def work() -> service.Placed:
        return service.place_by_scan(db.session, _unit_or_404(unit_id), code, position=position or None,
                                     by=current_user)
    try:
        placed = commit_with_retry(db.session, work)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("storage.unit", unit_id=unit_id))
    flash(f"{placed.accession} {placed.action} at {placed.position or placed.barcode}", "info")
    return redirect(url_for("storage.unit", unit_id=unit_id, last=placed.accession))


@bp.post("/units/<int:unit_id>/move")
@permission_required("storage.manage")
def move(unit_id: int) -> Any:
    """Move this unit, and everything inside it, into the unit whose barcode was scanned."""
    version = request.form.get("version", type=int)

    def work() -> int:
        moving = _unit_or_404(unit_id)
        target = service.get_unit_by_barcode(db.session, request.form.get("into", ""),
                                             site_codes=[moving.site.code])
        return service.move_unit(db.session, moving, target, by=current_user, expected_version=version)
    try:
        count = commit_with_retry(db.session, work)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("storage.unit", unit_id=unit_id))
    flash(f"Moved, with {count} sample{'s' if count != 1 else ''} inside (each has a custody event).", "info")
    return redirect(url_for("storage.unit", unit_id=unit_id))


@bp.post("/units")
@permission_required("storage.configure")
def create() -> Any:
    """Create a storage unit (freezer, rack, box...) at a site or inside a unit."""
    form = request.form
    parent = None
    try:
        parent = _unit_or_404(_int(form.get("parent_id"), "parent_id") or 0) if form.get("parent_id") else None
        site = parent.site if parent else db.session.query(Site).filter_by(code=form.get("site", "")).one_or_none()
        if site is None:
            raise DomainError("choose the site", field="site")
        created = service.create_unit(
            db.session, site=site, parent=parent, kind=form.get("kind", ""), name=form.get("name", ""),
            barcode=form.get("barcode", ""), set_temp_c=_float(form.get("set_temp_c"), "set_temp_c"),
            rows=_int(form.get("rows"), "rows"), cols=_int(form.get("cols"), "cols"),
            box_type=form.get("box_type"), allowed_types=form.get("allowed_types"),
            capacity=_int(form.get("capacity"), "capacity"), label_scheme=form.get("label_scheme") or "A1",
            by=current_user)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("storage.unit", unit_id=parent.id) if parent else url_for("storage.index"))
    flash(f"Created {created.name} ({created.barcode}).", "info")
    return redirect(url_for("storage.unit", unit_id=created.id))


@bp.get("/retention")
@login_required
def retention() -> Any:
    """List samples kept longer than their type's retention period, for review."""
    on = date.today()
    if request.args.get("on"):
        try:
            on = date.fromisoformat(request.args["on"])
        except ValueError:
            flash(f"{request.args['on']!r} is not a date (YYYY-MM-DD)", "error")
    study = get_study(db.session)
    rows = service.retention_due(db.session, study, on=on, limit=2000)
    return render_template("storage/retention.html", rows=rows, on=on,
                           years=study.settings.get("retention_years") or {})


def _unit_or_404(unit_id: int) -> Any:
    try:
        return service.get_unit(db.session, unit_id)
    except NotFound as exc:
        from flask import abort

        abort(404, description=exc.message)


def _float(value: str | None, field: str) -> float | None:
    if value is None or not value.strip():
        return None
    try:
        return float(value.replace(",", "."))
    except ValueError:
        raise DomainError(f"{field}: {value!r} is not a number", field=field) from None


def _int(value: str | None, field: str) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        return int(value)
    except ValueError:
        raise DomainError(f"{field}: {value!r} is not a whole number", field=field) from None
