"""Storage pages: the hierarchy with occupancy, the box map with scan-to-place, moves and the retention
review."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select

from lims import access
from lims.core.auth import login_required
from lims.core.errors import DomainError
from lims.core.forms import first_error, load_form
from lims.core.permissions import permission_required
from lims.core.uow import refuse
from lims.extensions import db
from lims.samples import service as samples_service
from lims.storage import service
from lims.storage.models import GRID_KINDS, KINDS
from lims.storage.retention import reminded_on
from lims.storage.schemas import UnitCreateSchema
from lims.studies.models import Site
from lims.studies.service import get_study

bp = Blueprint("storage", __name__, url_prefix="/storage")


def _unit(unit_id: int) -> Any:
    """Return the unit if the user may see it (404 otherwise, also across sites)."""
    return access.require_see(current_user, service.get_unit(db.session, unit_id))


@bp.get("/")
@login_required
def index() -> Any:
    """List the storage trees of the user's sites with capacity and occupancy at every level."""
    units = service.site_units(db.session, where=access.visible_units(current_user))
    use = service.usage(db.session, units)
    children: dict[int | None, list[Any]] = {}
    for unit in units:
        children.setdefault(unit.parent_id, []).append(unit)
    sites = db.session.scalars(select(Site).where(access.visible_sites(current_user))
                               .order_by(Site.code)).all()
    suggestion = None
    accession = request.args.get("accession", "").strip()
    if accession:
        try:
            sample = access.require_see(current_user, samples_service.get_by_accession(db.session, accession))
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
                                           site_codes=current_user.site_codes,
                                           where=access.visible_units(current_user))
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("storage.index"))
    return redirect(url_for("storage.unit", unit_id=unit.id))


@bp.get("/units/<int:unit_id>")
@login_required
def unit(unit_id: int) -> Any:
    """Show a unit: its path, contents with occupancy, the box map, and the scan and move forms."""
    found = _unit(unit_id)
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
    found = access.require(current_user, "storage.manage", _unit(unit_id))
    try:
        placed = service.place_by_scan(db.session, found, request.form.get("code", ""),
                                       position=request.form.get("position") or None, by=current_user)
    except DomainError as exc:
        refuse(exc.message)
        return redirect(url_for("storage.unit", unit_id=unit_id))
    flash(f"{placed.accession} {placed.action} at {placed.position or placed.barcode}", "info")
    return redirect(url_for("storage.unit", unit_id=unit_id, last=placed.accession))


@bp.post("/units/<int:unit_id>/move")
@permission_required("storage.manage")
def move(unit_id: int) -> Any:
    """Move this unit, and everything inside it, into the unit whose barcode was scanned."""
    moving = access.require(current_user, "storage.manage", _unit(unit_id))
    try:
        target = service.get_unit_by_barcode(db.session, request.form.get("into", ""),
                                             site_codes=[moving.site.code],
                                             where=access.visible_units(current_user))
        count = service.move_unit(db.session, moving, target, by=current_user,
                                  expected_version=request.form.get("version", type=int))
    except DomainError as exc:
        refuse(exc.message)
        return redirect(url_for("storage.unit", unit_id=unit_id))
    flash(f"Moved, with {count} sample{'s' if count != 1 else ''} inside (each has a custody event).", "info")
    return redirect(url_for("storage.unit", unit_id=unit_id))


@bp.post("/units")
@permission_required("storage.configure")
def create() -> Any:
    """Create a storage unit (freezer, rack, box...) at a site or inside a unit (the same schema as the
    API)."""
    back = url_for("storage.index")
    try:
        data = load_form(UnitCreateSchema(), request.form)
        parent_id = data.pop("parent_id", None)
        parent = service.get_unit(db.session, parent_id) if parent_id else None
        if parent is not None:
            back = url_for("storage.unit", unit_id=parent.id)
        created = service.create_unit(db.session, site=_site_of(parent, data.pop("site", None)),
                                      parent=parent,
                                      by=current_user, **data)
    except ValidationError as exc:
        refuse(first_error(exc))
        return redirect(back)
    except DomainError as exc:
        refuse(exc.message)
        return redirect(back)
    flash(f"Created {created.name} ({created.barcode}).", "info")
    return redirect(url_for("storage.unit", unit_id=created.id))


def _site_of(parent: Any, code: str | None) -> Site:
    """Return the site a new unit belongs to: its parent's, or the one chosen (which the user must see)."""
    if parent is not None:
        return access.require_see(current_user, parent).site
    site = db.session.scalar(select(Site).where(Site.code == (code or "").strip().upper()))
    if site is None:
        raise DomainError("choose the site (or a parent unit)", field="site")
    return site


@bp.get("/retention")
@login_required
def retention() -> Any:
    """List the samples of the user's sites kept longer than their type's retention period, for review."""
    study = get_study(db.session)
    on = access.local_today(access.study_zone(study))
    if request.args.get("on"):
        try:
            on = date.fromisoformat(request.args["on"])
        except ValueError:
            flash(f"{request.args['on']!r} is not a date (YYYY-MM-DD)", "error")
    rows = service.retention_due(db.session, study, on=on, limit=2000,
                                 where=access.visible_samples(current_user))
    return render_template("storage/retention.html", rows=rows, on=on,
                           years=study.settings.get("retention_years") or {},
                           reminded=reminded_on(db.session, [r.sample.id for r in rows]))
