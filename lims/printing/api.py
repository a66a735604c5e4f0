"""Printing JSON API: printers of your sites, and print jobs (queue labels, follow, retry, reprint)."""

from __future__ import annotations

from typing import Any, ClassVar

from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint
from sqlalchemy import select

from lims import access
from lims.core.api import SelectPage
from lims.core.auth import login_required
from lims.core.errors import DomainError
from lims.core.permissions import permission_required
from lims.extensions import db
from lims.printing import printers, service
from lims.printing.models import Printer, PrintJob
from lims.printing.schemas import (
    JobQuerySchema,
    PrinterCreateSchema,
    PrinterSchema,
    PrinterUpdateSchema,
    PrintJobSchema,
    PrintRequestSchema,
    ReprintSchema,
)
from lims.samples import service as samples_service
from lims.storage import service as storage_service
from lims.studies.models import Site

blp = Blueprint("printing_api", __name__, description="Label printers and the print queue")


def _printer(printer_id: int) -> Printer:
    return access.require_see(current_user, printers.get_printer(db.session, printer_id))


def _job(job_id: int) -> PrintJob:
    job = access.require_see(current_user, service.get_job(db.session, job_id))
    for item in job.items:
        if item.sample is not None:
            access.require(current_user, "samples.register", item.sample)
        if item.unit is not None:
            access.require(current_user, "storage.manage", item.unit)
    return job


@blp.route("/printers")
class Printers(MethodView):
    decorators: ClassVar[list[Any]] = [login_required]

    @blp.response(200, PrinterSchema(many=True))
    def get(self) -> Any:
        """List the active printers of your sites."""
        return printers.printers_at(db.session, access.site_ids(current_user))

    @permission_required("printers.manage")
    @blp.arguments(PrinterCreateSchema)
    @blp.response(201, PrinterSchema)
    def post(self, args: dict[str, Any]) -> Any:
        """Add a printer at a site (lab managers): checked against the labels it will print."""
        site = db.session.scalar(select(Site).where(Site.code == args.pop("site").strip().upper()))
        if site is None:
            raise DomainError("no such site", field="site")
        return printers.create_printer(db.session, site=site, by=current_user, **args)  # at the user's sites


@blp.route("/printers/<int:printer_id>")
class PrinterById(MethodView):
    decorators: ClassVar[list[Any]] = [login_required]

    @blp.response(200, PrinterSchema)
    def get(self, printer_id: int) -> Any:
        """Show one printer."""
        return _printer(printer_id)

    @permission_required("printers.manage")
    @blp.arguments(PrinterUpdateSchema)
    @blp.response(200, PrinterSchema)
    def patch(self, args: dict[str, Any], printer_id: int) -> Any:
        """Change a printer's settings or switch it off (``active: false``)."""
        return printers.update_printer(db.session, _printer(printer_id), by=current_user, **args)


@blp.route("/jobs")
class Jobs(MethodView):
    decorators: ClassVar[list[Any]] = [login_required]

    @blp.arguments(JobQuerySchema, location="query")
    @blp.response(200, PrintJobSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, args: dict[str, Any]) -> Any:
        """List the print jobs of your sites' printers, newest first (filter by status and printer)."""
        stmt = select(PrintJob).join(Printer, PrintJob.printer_id == Printer.id).order_by(PrintJob.id.desc())
        sites = access.site_ids(current_user)
        if sites is not None:
            stmt = stmt.where(Printer.site_id.in_(sites or [-1]))
        if args.get("status"):
            stmt = stmt.where(PrintJob.status == args["status"])
        if args.get("printer"):
            stmt = stmt.where(PrintJob.printer_id == args["printer"])
        return stmt

    @blp.arguments(PrintRequestSchema)
    @blp.response(201, PrintJobSchema)
    def post(self, args: dict[str, Any]) -> Any:
        """Queue labels for samples or storage units on a printer (answered queued; sent once committed)."""
        if not args.get("printer"):
            raise DomainError("give the printer; files are downloaded from the pages", field="printer")
        printer = _printer(args["printer"])
        if args["accession"]:
            samples = [access.require(current_user, "samples.register",
                                      samples_service.get_by_accession(db.session, code))
                       for code in args["accession"]]
            return service.print_sample_labels(db.session, samples, printer, by=current_user,
                                               start_position=args["start_position"],
                                               reprint_reason=args["reprint_reason"])
        units = [access.require(current_user, "storage.manage", storage_service.get_unit(db.session, unit_id))
                 for unit_id in args["unit"]]
        return service.print_unit_labels(db.session, units, printer, by=current_user,
                                         start_position=args["start_position"])


@blp.route("/jobs/<int:job_id>")
@login_required
@blp.response(200, PrintJobSchema)
def job(job_id: int) -> Any:
    """Show one print job with its status and the printer's answer."""
    return access.require_see(current_user, service.get_job(db.session, job_id))


@blp.route("/jobs/<int:job_id>/retry", methods=["POST"])
@login_required
@blp.response(200, PrintJobSchema)
def retry(job_id: int) -> Any:
    """Send a failed or still queued job again (the same print: no new custody event)."""
    return service.retry(db.session, _job(job_id), by=current_user)


@blp.route("/jobs/<int:job_id>/reprint", methods=["POST"])
@login_required
@blp.arguments(ReprintSchema)
@blp.response(201, PrintJobSchema)
def reprint(args: dict[str, Any], job_id: int) -> Any:
    """Print a job's labels again as a new job, with the reason (kept in each sample's custody)."""
    return service.reprint(db.session, _job(job_id), by=current_user, reason=args["reprint_reason"])
