"""Printing pages: print or download sample and storage labels, the print queue, and printer set-up."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select

from lims import access
from lims.core.auth import login_required
from lims.core.errors import DomainError
from lims.core.forms import first_error, form_errors, load_form
from lims.core.permissions import permission_required
from lims.core.uow import refuse
from lims.extensions import db
from lims.labels.presets import (
    DEFAULT_LAYOUT,
    DEFAULT_STOCK,
    DPIS,
    PRESETS,
    STOCKS,
    LabelLayoutError,
    Stock,
    layout_from_mapping,
)
from lims.printing import printers, service
from lims.printing.models import PrintJob
from lims.printing.schemas import PrinterCreateSchema, PrinterUpdateSchema, PrintRequestSchema
from lims.samples import service as samples_service
from lims.storage import service as storage_service
from lims.studies.models import Site

bp = Blueprint("printing", __name__)


def _form(schema: Any) -> dict[str, Any]:
    try:
        return load_form(schema, request.form)
    except ValidationError as exc:
        abort(400, description=first_error(exc))


def _printer(printer_id: int) -> Any:
    """Return a printer at one of the user's sites (404 elsewhere)."""
    return access.require_see(current_user, printers.get_printer(db.session, printer_id))


def _download(data: dict[str, Any]) -> tuple[Any, int]:
    """Return the layout (PDF) or stock (ZPL) and resolution of a download: chosen, configured, or the
    default."""
    try:
        if data["format"] == "zpl":
            configured = current_app.config.get("LABEL_ZPL") or {}
            stock: Any = configured.get("stock", DEFAULT_STOCK)
            if "width_mm" in configured:  # a measured label: {"width_mm": 57, "height_mm": 32, "dpi": 203}
                stock = Stock("LABEL_ZPL", float(configured["width_mm"]), float(configured["height_mm"]))
            return data.get("layout") or stock, data.get("dpi") or int(configured.get("dpi", 300))
        layout = data.get("layout") or layout_from_mapping(current_app.config.get("LABEL_SHEET")
                                                           or {"preset": DEFAULT_LAYOUT})
        return layout, data.get("dpi") or int(current_app.config.get("LABEL_SHEET_DPI") or 600)
    except (LabelLayoutError, TypeError, ValueError, AttributeError) as exc:
        raise DomainError(f"label download settings (LABEL_SHEET, LABEL_ZPL): {exc}",
                          field="layout") from None


def _sent(job: PrintJob) -> Any:
    flash(f"Print job {job.id}: {job.label_count} label{'s' if job.label_count != 1 else ''} for "
          f"{job.printer.name}.", "info")
    return redirect(url_for("printing.job", job_id=job.id, next=request.form.get("next") or None))


def _attachment(rendered: Any, name: str) -> Response:
    return Response(rendered.content, mimetype=rendered.mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{name}.{rendered.extension}"'})


@bp.post("/samples/labels")
@permission_required("samples.register")
def sample_labels() -> Any:
    """Print sample labels on a configured printer, or download them (PDF sheet or ZPL); each is a custody
    event."""
    data = _form(PrintRequestSchema())
    samples = [access.require(current_user, "samples.register",
                              samples_service.get_by_accession(db.session, code))
               for code in data["accession"]]
    if data["printer"] and not request.form.get("download"):
        job = service.print_sample_labels(db.session, samples, _printer(data["printer"]), by=current_user,
                                          start_position=data["start_position"],
                                          reprint_reason=data["reprint_reason"])
        return _sent(job)
    layout, dpi = _download(data)
    rendered, _ = service.download_sample_labels(
        db.session, samples, by=current_user, language=data["format"], layout=layout, dpi=dpi,
        start_position=data["start_position"], reprint_reason=data["reprint_reason"])
    return _attachment(rendered, samples[0].accession if len(samples) == 1 else f"labels-{len(samples)}")


@bp.post("/storage/labels")
@permission_required("storage.manage")
def unit_labels() -> Any:
    """Print box, rack or freezer labels on a configured printer, or download them."""
    data = _form(PrintRequestSchema())
    units = [access.require(current_user, "storage.manage", storage_service.get_unit(db.session, unit_id))
             for unit_id in data["unit"]]
    if data["printer"] and not request.form.get("download"):
        return _sent(service.print_unit_labels(db.session, units, _printer(data["printer"]), by=current_user,
                                               start_position=data["start_position"]))
    layout, dpi = _download(data)
    rendered = service.download_unit_labels(db.session, units, language=data["format"], layout=layout,
                                            dpi=dpi,
                                            start_position=data["start_position"])
    return _attachment(rendered, units[0].barcode if len(units) == 1 else f"storage-labels-{len(units)}")


@bp.get("/printing/")
@login_required
def jobs() -> Any:
    """List the latest print jobs of the user's sites with their status; retry or reprint from here."""
    return render_template("printing/jobs.html",
                           jobs=service.jobs_at(db.session, access.site_ids(current_user)))


def _job(job_id: int) -> PrintJob:
    return access.require_see(current_user, service.get_job(db.session, job_id))


def _may_resend(job: PrintJob) -> None:
    for item in job.items:
        if item.sample is not None:
            access.require(current_user, "samples.register", item.sample)
        if item.unit is not None:
            access.require(current_user, "storage.manage", item.unit)


@bp.get("/printing/jobs/<int:job_id>")
@login_required
def job(job_id: int) -> Any:
    """Show one print job: its printer, labels, status, attempts and the printer's answer."""
    back = request.args.get("next", "")
    local = back.startswith("/") and not back.startswith("//")  # only a page of this site
    return render_template("printing/job.html", job=_job(job_id), back=back if local else None)


@bp.post("/printing/jobs/<int:job_id>/retry")
@login_required
def retry(job_id: int) -> Any:
    """Send a failed job again (the same print: no new custody event)."""
    found = _job(job_id)
    _may_resend(found)
    try:
        service.retry(db.session, found, by=current_user)
    except DomainError as exc:
        refuse(exc.message)
    return redirect(url_for("printing.job", job_id=job_id))


@bp.post("/printing/jobs/<int:job_id>/reprint")
@login_required
def reprint(job_id: int) -> Any:
    """Print a job's labels again as a new job; the reason goes into every sample's custody."""
    found = _job(job_id)
    _may_resend(found)
    try:
        again = service.reprint(db.session, found, by=current_user, reason=request.form.get("reprint_reason"))
    except DomainError as exc:
        refuse(exc.message)
        return redirect(url_for("printing.job", job_id=job_id))
    return redirect(url_for("printing.job", job_id=again.id))


def _printer_page(status: int = 200, problems: dict[str, str] | None = None, editing: Any = None) -> Any:
    sites = db.session.scalars(select(Site).where(access.visible_sites(current_user))
                               .order_by(Site.code)).all()
    found = printers.printers_at(db.session, access.site_ids(current_user), active=None)
    return render_template("printing/printers.html", printers=found, sites=sites, problems=problems or {},
                           form=request.form if request.method == "POST" else {}, editing=editing,
                           stocks=STOCKS, layouts=PRESETS, dpis=DPIS), status


@bp.get("/printing/printers")
@login_required
def printer_list() -> Any:
    """List the printers of the user's sites; lab managers add and change them here."""
    return _printer_page()


@bp.post("/printing/printers")
@permission_required("printers.manage")
def printer_create() -> Any:
    """Add a printer at a site (or bench): connection, language, label stock or page layout, resolution."""
    try:
        data = load_form(PrinterCreateSchema(), request.form)
        site = db.session.scalar(select(Site).where(Site.code == data.pop("site").strip().upper()))
        if site is None:
            raise DomainError("choose the printer's site", field="site")
        created = printers.create_printer(db.session, site=site, by=current_user, **data)  # own sites only
    except ValidationError as exc:
        return _printer_page(422, form_errors(exc))
    except DomainError as exc:
        return _printer_page(exc.status if exc.status != 400 else 422, {exc.field or "form": exc.message})
    flash(f"Printer {created.name} added at {created.site.code}.", "info")
    return redirect(url_for("printing.printer_list"))


@bp.route("/printing/printers/<int:printer_id>", methods=["GET", "POST"])
@permission_required("printers.manage")
def printer_edit(printer_id: int) -> Any:
    """Change a printer's settings, or switch it off."""
    found = _printer(printer_id)
    if request.method == "GET":
        return _printer_page(editing=found)
    try:
        data = load_form(PrinterUpdateSchema(), request.form)
        data["active"] = request.form.get("active") == "on"
        data.update({key: None for key in ("bench", "host", "port", "queue") if key in request.form
                     and key not in data})
        printers.update_printer(db.session, found, by=current_user, **data)
    except ValidationError as exc:
        return _printer_page(422, form_errors(exc), editing=found)
    except DomainError as exc:
        return _printer_page(exc.status if exc.status != 400 else 422, {exc.field or "form": exc.message},
                             editing=found)
    flash(f"Printer {found.name} saved.", "info")
    return redirect(url_for("printing.printer_list"))
