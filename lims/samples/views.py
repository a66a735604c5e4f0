"""Sample page (key facts, SPREC, lineage, custody) and the participant page with its samples."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from lims import access
from lims.core.auth import login_required
from lims.core.errors import DomainError
from lims.core.permissions import permission_required
from lims.custody.service import history
from lims.extensions import db
from lims.labels.symbols import code128_svg
from lims.participants import service as participants_service
from lims.samples import accessioning, service
from lims.samples.accession import validate
from lims.samples.models import Sample
from lims.samples.presenters import sprec_for
from lims.samples.schedule import visit_rows
from lims.studies.models import KitItem

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


def _local_tz(study: Any) -> ZoneInfo:
    try:
        return ZoneInfo(study.settings.get("timezone", "UTC"))
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _parse_local(value: str | None, tz: ZoneInfo, field: str, problems: dict[str, str]) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=tz).astimezone(UTC)
    except ValueError:
        problems[field] = f"{value!r} is not a date and time (YYYY-MM-DDTHH:MM)"
        return None


def _parse_float(value: str | None, field: str, problems: dict[str, str]) -> float | None:
    if value is None or value.strip() == "":
        return None
    try:
        return float(value.replace(",", "."))
    except ValueError:
        problems[field] = f"{value!r} is not a number"
        return None


@bp.route("/register/<code>/<timepoint>", methods=["GET", "POST"])
@permission_required("samples.register")
def register(code: str, timepoint: str) -> Any:
    """Register the samples of one visit from the protocol's kit (collected or missed)."""
    participant = access.require(current_user, "samples.register",
                                 participants_service.get_by_code(db.session, code, user=current_user))
    visit = next((v for v in participant.visits if v.timepoint.code == timepoint.upper()), None)
    if visit is None:
        abort(404, description=f"{participant.code} has no planned visit {timepoint}")
    tz = _local_tz(participant.study)
    problems: dict[str, str] = {}
    if request.method == "POST":
        actual_on = None
        try:
            actual_on = date.fromisoformat(request.form.get("actual_on", ""))
        except ValueError:
            problems["actual_on"] = "give the visit date (YYYY-MM-DD)"
        entries = []
        for item in visit.timepoint.kit:
            key = f"kit-{item.id}"
            state = request.form.get(f"{key}-state", "")
            if state == "" and item.optional:
                continue
            entries.append(accessioning.KitEntry(
                kit_item_id=item.id, collected=state == "collected",
                collected_at=_parse_local(request.form.get(f"{key}-collected_at"), tz, f"{key}-collected_at", problems),
                quantity=_parse_float(request.form.get(f"{key}-quantity"), f"{key}-quantity", problems),
                missed_reason=request.form.get(f"{key}-missed_reason"),
                haemolysed=request.form.get(f"{key}-haemolysed") == "on",
            ))
        if not problems and actual_on is not None:
            try:
                created = accessioning.register_visit(db.session, visit, entries, actual_on=actual_on, by=current_user)
            except accessioning.ValidationErrors as exc:
                problems = exc.problems
            else:
                flash(f"Registered {len(created)} sample{'s' if len(created) != 1 else ''} for "
                      f"{participant.code} {visit.timepoint.code}. Print their labels now.", "info")
                return redirect(url_for("samples.registered", code=participant.code, timepoint=visit.timepoint.code))
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
    sample = access.require(current_user, "samples.register", service.find_by_accession(db.session, accession))
    tz = _local_tz(sample.participant.study)
    kit = db.session.get(KitItem, sample.kit_item_id) if sample.kit_item_id else None
    defaults = [accessioning.YieldEntry(y["sample_type"], int(y["aliquots"]), float(y["volume"]),
                                        _unit_of(sample, y["sample_type"])) for y in (kit.yields if kit else [])]
    problems: dict[str, str] = {}
    if request.method == "POST":
        values: dict[str, Any] = {}
        for name in ("processing_started_at", "last_spin_ended_at", "frozen_at"):
            values[name] = _parse_local(request.form.get(name), tz, name, problems)
        for name in ("precentrifugation_temp_c", "spin1_g", "spin1_min", "spin1_temp_c", "spin2_g", "spin2_min",
                     "spin2_temp_c", "postspin_temp_c", "storage_temp_c"):
            values[name] = _parse_float(request.form.get(name), name, problems)
        values["spin1_brake"] = request.form.get("spin1_brake") == "on" if values["spin1_g"] is not None else None
        values["spin2_done"] = values["spin2_g"] is not None
        values["spin2_brake"] = request.form.get("spin2_brake") == "on" if values["spin2_g"] is not None else None
        values["storage_container"] = request.form.get("storage_container") or None
        yields = []
        for i, default in enumerate(defaults):
            count = _parse_float(request.form.get(f"yield-{i}-count"), f"yield-{i}-count", problems)
            volume = _parse_float(request.form.get(f"yield-{i}-volume"), f"yield-{i}-volume", problems)
            if count:
                yields.append(accessioning.YieldEntry(default.sample_type_code, int(count), volume or 0.0,
                                                      request.form.get(f"yield-{i}-unit") or default.unit))
        if not problems:
            try:
                made = accessioning.process_primary(db.session, sample, yields, by=current_user,
                                                    consume=request.form.get("consume") == "on",
                                                    **{k: v for k, v in values.items() if v is not None})
            except DomainError as exc:
                problems[exc.field or "form"] = exc.message
            else:
                flash(f"Made {len(made)} samples from {sample.accession}: print their labels below.", "info")
                return redirect(url_for("samples.detail", accession=sample.accession, _anchor="labels"))
    return render_template("samples/process.html", sample=sample, defaults=defaults, problems=problems,
                           form=request.form, tz=str(tz)), (400 if problems else 200)


def _unit_of(sample: Sample, type_code: str) -> str:
    for t in sample.participant.study.sample_types:
        if t.code == type_code:
            return t.unit
    return sample.unit
