"""Sample page (key facts, SPREC, lineage, custody) and the participant page with its samples."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError

from lims import access
from lims.core.auth import login_required
from lims.core.errors import DomainError
from lims.core.forms import form_data, form_errors, load_form
from lims.core.permissions import permission_required
from lims.core.vocabulary import COLLECTION_TYPES, FIXATIONS
from lims.custody.service import history
from lims.extensions import db
from lims.labels.symbols import code128_svg
from lims.participants import service as participants_service
from lims.participants.models import Visit
from lims.samples import accessioning, service
from lims.samples.accession import validate
from lims.samples.models import Sample
from lims.samples.preanalytics import STORAGE_CONTAINERS, TISSUE_CONTAINERS, localise, required_fields
from lims.samples.presenters import sprec_for
from lims.samples.schedule import visit_rows
from lims.samples.schemas import KitEntrySchema, ProcessSchema, TissueSchema, VisitRegistrationSchema

bp = Blueprint("samples", __name__, url_prefix="/samples")
# The participant page lists samples, so it lives here (domains import one way) under /participants/.
participant_bp = Blueprint("participant", __name__, url_prefix="/participants")


@bp.get("/<accession>")
@login_required
def detail(accession: str) -> Any:
    """Show one sample with its lineage tree and full custody history."""
    sample = access.require_see(current_user, service.find_by_accession(db.session, accession))
    ancestors, descendants = service.lineage(db.session, sample)
    return render_template(
        "samples/detail.html", sample=sample, ancestors=ancestors, descendants=descendants,
        events=history(db.session, sample.id), sprec=sprec_for(sample),
    )


@participant_bp.get("/<code>")
@login_required
def detail_page(code: str) -> Any:
    """Show a participant's time points in order with expected vs collected samples."""
    participant = participants_service.get_by_code(db.session, code, user=current_user)
    samples = service.samples_of_participant(db.session, participant)
    return render_template("participants/detail.html", participant=participant,
                           rows=visit_rows(participant, samples))


def register_form(form: Any, visit: Visit, tz: ZoneInfo) -> tuple[date | None, list[accessioning.KitEntry],
                                                                   dict[str, str]]:
    """Load the registration page: the visit date and one ``kit-<id>-`` sub-form per kit tube.

    Returns the visit date, the tubes' entries and the problems keyed by the page's field names.
    """
    problems: dict[str, str] = {}
    actual_on = None
    try:
        actual_on = load_form(VisitRegistrationSchema(), form)["actual_on"]
    except ValidationError as exc:
        problems.update(form_errors(exc))
    entries = []
    for item in visit.timepoint.kit:
        prefix = f"kit-{item.id}-"
        try:
            entry = localise(load_form(KitEntrySchema(), form, prefix=prefix), tz)
        except ValidationError as exc:
            problems.update(form_errors(exc))
            continue
        except DomainError as exc:
            problems[prefix + (exc.field or "collected_at")] = exc.message
            continue
        if entry["state"] is None and item.optional:
            continue
        entries.append(accessioning.KitEntry(
            kit_item_id=item.id, collected=entry["state"] == "collected", collected_at=entry["collected_at"],
            quantity=entry["quantity"], missed_reason=entry["missed_reason"], haemolysed=entry["haemolysed"]))
    return actual_on, entries, problems


@bp.route("/register/<code>/<timepoint>", methods=["GET", "POST"])
@permission_required("samples.register")
def register(code: str, timepoint: str) -> Any:
    """Register the samples of one visit from the protocol's kit (collected or missed)."""
    participant = access.require(current_user, "samples.register",
                                 participants_service.get_by_code(db.session, code, user=current_user))
    visit = next((v for v in participant.visits if v.timepoint.code == timepoint.upper()), None)
    if visit is None:
        abort(404, description=f"{participant.code} has no planned visit {timepoint}")
    tz = access.study_zone(participant.study)
    problems: dict[str, str] = {}
    if request.method == "POST":
        actual_on, entries, problems = register_form(request.form, visit, tz)
        if not problems and actual_on is not None:
            try:
                created = accessioning.register_visit(db.session, visit, entries, actual_on=actual_on,
                                                      by=current_user)
            except accessioning.ValidationErrors as exc:
                problems = exc.problems
            else:
                flash(f"Registered {len(created)} sample{'s' if len(created) != 1 else ''} for "
                      f"{participant.code} {visit.timepoint.code}. Print their labels now.", "info")
                return redirect(url_for("samples.registered", code=participant.code,
                                        timepoint=visit.timepoint.code))
        status = 400
    else:
        status = 200
    return render_template("samples/register.html", participant=participant, visit=visit, problems=problems,
                           form=request.form, tz=str(tz)), status


@bp.get("/registered/<code>/<timepoint>")
@login_required
def registered(code: str, timepoint: str) -> Any:
    """List a visit's registered samples with label printing and processing links."""
    participant = participants_service.get_by_code(db.session, code, user=current_user)
    visit = next((v for v in participant.visits if v.timepoint.code == timepoint.upper()), None)
    if visit is None:
        abort(404, description=f"{participant.code} has no visit {timepoint}")
    samples = [s for s in service.samples_of_participant(db.session, participant)
               if s.visit_id == visit.id and s.accession]
    return render_template("samples/registered.html", participant=participant, visit=visit, samples=samples)


@bp.get("/<accession>/barcode.svg")
@login_required
def barcode_svg(accession: str) -> Any:
    """Return the sample's Code128 barcode as SVG for the screen."""
    sample = access.require_see(current_user, service.find_by_accession(db.session, accession))
    return Response(code128_svg(validate(sample.accession or "")), mimetype="image/svg+xml")


@bp.route("/<accession>/process", methods=["GET", "POST"])
@permission_required("samples.register")
def process(accession: str) -> Any:
    """Process a primary tube into aliquots/derivatives, recording the raw pre-analytical values."""
    sample = access.require(current_user, "samples.register",
                            service.find_by_accession(db.session, accession))
    if sample.sample_type.kind == "solid":
        return redirect(url_for("samples.tissue", accession=sample.accession))
    tz = access.study_zone(sample.participant.study)
    defaults = accessioning.kit_yields(db.session, sample)
    problems: dict[str, str] = {}
    if request.method == "POST":
        try:
            data = process_form(request.form, defaults, tz)
            made = accessioning.process_primary(
                db.session, sample,
                [accessioning.YieldEntry.from_body(y) for y in data.pop("yields")],
                by=current_user, consume=data.pop("consume"),
                **{k: v for k, v in data.items() if v is not None})
        except ValidationError as exc:
            problems = form_errors(exc)
        except accessioning.ValidationErrors as exc:
            problems = exc.problems
        except DomainError as exc:
            problems = {exc.field or "form": exc.message}
        else:
            flash(f"Made {len(made)} samples from {sample.accession}.", "info")
            return redirect(url_for("samples.made", accession=sample.accession,
                                    a=[s.accession for s in made]))
    required = required_fields(t for t in sample.participant.study.sample_types
                               if t.code in {d.sample_type_code for d in defaults})
    return render_template("samples/process.html", sample=sample, defaults=defaults, problems=problems,
                           form=request.form, tz=str(tz), required=required,
                           containers=STORAGE_CONTAINERS), (422 if problems else 200)


def process_form(form: Any, defaults: list[accessioning.YieldEntry], tz: ZoneInfo) -> dict[str, Any]:
    """Turn the processing page's form into the JSON body ProcessSchema loads (the API takes the same)."""
    data = form_data(ProcessSchema(), form)
    data.pop("yields", None)
    yields = []
    for i, default in enumerate(defaults):
        count = (form.get(f"yield-{i}-count") or "").strip()
        if count and count != "0":
            yields.append({"sample_type": default.sample_type_code, "count": count,
                           "volume": (form.get(f"yield-{i}-volume") or "").strip() or None,
                           "unit": form.get(f"yield-{i}-unit") or default.unit})
    data["yields"] = yields
    for name in ("spin1_brake", "spin2_brake"):
        data[name] = form.get(name) == "on"
    via = form.get("storage_via_minus80", "")
    data["storage_via_minus80"] = {"yes": True, "no": False}.get(via)
    data["consume"] = form.get("consume") == "on"
    loaded = ProcessSchema().load(data)
    if loaded.get("spin1_g") is None:  # an unticked box says nothing about a spin that was not done
        loaded["spin1_brake"] = None
    if loaded.get("spin2_g") is None:
        loaded["spin2_brake"] = None
    return localise(loaded, tz)


@bp.get("/<accession>/made")
@login_required
def made(accession: str) -> Any:
    """Show what processing just made, with the hook to print their labels."""
    parent = access.require_see(current_user, service.find_by_accession(db.session, accession))
    wanted = set(request.args.getlist("a"))
    children = [c for c in parent.children if c.accession in wanted] or list(parent.children)
    return render_template("samples/made.html", parent=parent, samples=children)


@bp.route("/<accession>/tissue", methods=["GET", "POST"])
@permission_required("samples.register")
def tissue(accession: str) -> Any:
    """Record a tissue specimen's collection, warm and cold ischaemia, fixation and storage."""
    sample = access.require(current_user, "samples.register",
                            service.find_by_accession(db.session, accession))
    tz = access.study_zone(sample.participant.study)
    problems: dict[str, str] = {}
    if request.method == "POST":
        try:
            data = form_data(TissueSchema(), request.form)
            data["storage_via_minus80"] = {"yes": True,
                                           "no": False}.get(request.form.get("storage_via_minus80", ""))
            values = localise(TissueSchema().load(data), tz)
            accessioning.record_tissue(db.session, sample, by=current_user, **values)
        except ValidationError as exc:
            problems = form_errors(exc)
        except accessioning.ValidationErrors as exc:
            problems = exc.problems
        except DomainError as exc:
            problems = {exc.field or "form": exc.message}
        else:
            flash(f"Recorded the tissue pre-analytics of {sample.accession}.", "info")
            return redirect(url_for("samples.detail", accession=sample.accession))
    form = request.form if request.method == "POST" else _tissue_defaults(sample, tz)
    return render_template("samples/tissue.html", sample=sample, problems=problems, form=form, tz=str(tz),
                           required=required_fields([sample.sample_type]), collections=COLLECTION_TYPES,
                           fixations=FIXATIONS, containers=TISSUE_CONTAINERS), (422 if problems else 200)


def _tissue_defaults(sample: Sample, tz: ZoneInfo) -> dict[str, str]:
    """Fill the tissue form with what is already recorded (times in local time, as typed)."""
    values: dict[str, str] = {}
    for name in accessioning.TISSUE_FIELDS:
        value = getattr(sample, name)
        if isinstance(value, datetime):
            values[name] = access.local_datetime(value, tz).strftime("%Y-%m-%dT%H:%M")
        elif isinstance(value, bool):
            values[name] = "yes" if value else "no"
        elif value is not None:
            values[name] = f"{value:g}" if isinstance(value, float) else str(value)
    return values


