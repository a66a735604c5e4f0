"""Shipment pages: create, build by scanning, release, signed manifests (download, import), receive,
reconcile; the manifest keys page."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError

from lims import access
from lims.accounts.service import signatures_for
from lims.core.auth import login_required
from lims.core.errors import DomainError, Forbidden
from lims.core.forms import first_error, load_form
from lims.core.permissions import permission_required
from lims.core.uow import refuse
from lims.extensions import db
from lims.shipments import keys, manifests, receiving, service, signing
from lims.shipments.models import CONDITIONS
from lims.shipments.schemas import ManifestKeyCreateSchema, ReleaseSchema, ShipmentReceiveSchema
from lims.studies.service import get_study

bp = Blueprint("shipments", __name__, url_prefix="/shipments")


def instance_name() -> str:
    """Return this installation's name, written into manifests (config INSTANCE_NAME, env
    LIMS_INSTANCE_NAME)."""
    return str(current_app.config.get("INSTANCE_NAME") or "trialbank")


def installation_key() -> signing.InstallationKey:
    """Return this installation's manifest signing key (LIMS_MANIFEST_KEY_FILE, else made in the instance
    folder)."""
    return signing.installation_key(current_app)


def _shipment(shipment_id: int) -> Any:
    """Return the shipment if the user may see it (sent from or to their sites); 404 otherwise."""
    return access.require_see(current_user, service.get_shipment(db.session, shipment_id))


@bp.get("/")
@login_required
def index() -> Any:
    """List shipments and offer a form to open one."""
    study = get_study(db.session)
    shipments = service.list_shipments(db.session, where=access.visible_shipments(current_user))
    return render_template("shipments/index.html", shipments=shipments,
                           sites=[ss.site for ss in study.sites], conditions=CONDITIONS)


@bp.post("/")
@permission_required("shipments.build")
def create() -> Any:
    """Open a draft shipment."""
    form = request.form
    try:
        shipment = service.create_shipment(
            db.session, get_study(db.session), from_site=form.get("from_site", ""),
            to_site=form.get("to_site") or None,
            destination=form.get("destination"), conditions=form.get("conditions", ""),
            courier=form.get("courier"),
            tracking_number=form.get("tracking_number"), by=current_user)
    except Forbidden:
        raise  # packing for a site one does not work at is refused (403), not a form error
    except DomainError as exc:
        refuse(exc.message)
        return redirect(url_for("shipments.index"))
    return redirect(url_for("shipments.detail", shipment_id=shipment.id))


@bp.get("/<int:shipment_id>")
@login_required
def detail(shipment_id: int) -> Any:
    """Show a shipment: conditions, contents, and the next step (scan, release, receive or the
    reconciliation)."""
    shipment = _shipment(shipment_id)
    report = receiving.reconciliation(shipment) if shipment.status == "received" else None
    return render_template("shipments/detail.html", shipment=shipment, report=report, conditions=CONDITIONS,
                           signatures=signatures_for(db.session, "shipment", shipment.code))


@bp.post("/<int:shipment_id>/items")
@permission_required("shipments.build")
def add(shipment_id: int) -> Any:
    """Pack the scanned tube, or every tube of the scanned box."""
    shipment = _shipment(shipment_id)
    try:
        added = service.add_by_scan(db.session, shipment, request.form.get("code", ""), by=current_user)
    except DomainError as exc:
        refuse(exc.message)
    else:
        flash(f"Packed {', '.join(added) if len(added) <= 3 else f'{len(added)} samples'}.", "info")
    return redirect(url_for("shipments.detail", shipment_id=shipment_id))


@bp.post("/<int:shipment_id>/items/<accession>/remove")
@permission_required("shipments.build")
def remove(shipment_id: int, accession: str) -> Any:
    """Take a sample back out of a draft shipment."""
    shipment = _shipment(shipment_id)
    try:
        service.remove_item(db.session, shipment, accession, by=current_user)
    except DomainError as exc:
        refuse(exc.message)
    return redirect(url_for("shipments.detail", shipment_id=shipment_id))


@bp.post("/<int:shipment_id>/conditions")
@permission_required("shipments.build")
def conditions(shipment_id: int) -> Any:
    """Record the shipping conditions, courier and tracking number."""
    form, shipment = request.form, _shipment(shipment_id)
    try:
        service.update_conditions(db.session, shipment, conditions=form.get("conditions", ""),
                                  courier=form.get("courier"), tracking_number=form.get("tracking_number"),
                                  by=current_user)
    except DomainError as exc:
        refuse(exc.message)
    return redirect(url_for("shipments.detail", shipment_id=shipment_id))


@bp.post("/<int:shipment_id>/release")
@permission_required("shipments.release")
def release(shipment_id: int) -> Any:
    """Release the shipment: its samples go in transit."""
    shipment = _shipment(shipment_id)
    try:
        args = load_form(ReleaseSchema(), request.form)
        service.release_shipment(db.session, shipment, by=current_user, instance=instance_name(),
                                 signature=(args["password"], args["meaning"]))
    except ValidationError as exc:
        refuse(first_error(exc))
    except DomainError as exc:
        refuse(exc.message)
    else:
        flash(f"Released {shipment.code}: {len(shipment.items)} samples in transit.", "info")
    return redirect(url_for("shipments.detail", shipment_id=shipment_id))


@bp.get("/<int:shipment_id>/manifest.json")
@login_required
def manifest_json(shipment_id: int) -> Any:
    """Download the signed JSON manifest (content, its SHA-256 and this installation's signature)."""
    shipment = _shipment(shipment_id)
    doc = manifests.manifest(shipment, instance=instance_name(), key=installation_key())
    return Response(json.dumps(doc, indent=2, ensure_ascii=False), mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{shipment.code}.manifest.json"'})


@bp.get("/<int:shipment_id>/manifest.csv")
@login_required
def manifest_csv(shipment_id: int) -> Any:
    """Download the manifest's items as CSV."""
    shipment = _shipment(shipment_id)
    manifests.manifest_content(shipment, instance=instance_name())  # refuses drafts
    return Response(manifests.manifest_csv(shipment), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{shipment.code}.manifest.csv"'})


@bp.post("/<int:shipment_id>/receive")
@permission_required("shipments.build")
def receive(shipment_id: int) -> Any:
    """Receive by the scanned list; show the reconciliation."""
    form, shipment = request.form, _shipment(shipment_id)
    try:  # the scans and damage are text areas here, lists in JSON: only the temperature loads alike
        temp = load_form(ShipmentReceiveSchema(only=("arrival_temp_c",)), form)["arrival_temp_c"]
    except ValidationError as exc:
        refuse(first_error(exc))
        return redirect(url_for("shipments.detail", shipment_id=shipment_id))
    try:
        report = receiving.receive_shipment(
            db.session, shipment, scans=(form.get("scans") or "").splitlines(),
            damaged=receiving.parse_damage(form.get("damaged") or ""), arrival_temp_c=temp, by=current_user)
    except DomainError as exc:
        refuse(exc.message)
    else:
        flash(f"Received: {len(report.received)} intact, {len(report.damaged)} damaged, "
              f"{len(report.missing)} missing, {len(report.unexpected)} unexpected.",
              "info" if report.complete else "error")
    return redirect(url_for("shipments.detail", shipment_id=shipment_id))


@bp.post("/<int:shipment_id>/late")
@permission_required("shipments.build")
def receive_late(shipment_id: int) -> Any:
    """Receive an item that was missing at receipt but turned up later."""
    shipment = _shipment(shipment_id)
    try:
        item = receiving.receive_late(db.session, shipment, request.form.get("code", ""),
                                    damage=request.form.get("damage"), by=current_user)
    except DomainError as exc:
        refuse(exc.message)
    else:
        flash(f"{item.accession} received late ({item.state}).", "info")
    return redirect(url_for("shipments.detail", shipment_id=shipment_id))


@bp.route("/import", methods=["GET", "POST"])
@permission_required("shipments.import")
def import_manifest() -> Any:
    """Import another installation's signed manifest so its shipment can be received here."""
    if request.method == "GET":
        return render_template("shipments/import.html")
    upload = request.files.get("manifest")
    if upload is None or not upload.filename:
        flash("choose the manifest file (.manifest.json)", "error")
        return render_template("shipments/import.html"), 400
    name = upload.filename[:120]
    try:
        shipment = manifests.import_manifest(
            db.session, upload.read(manifests.MAX_MANIFEST_BYTES + 1), by=current_user,
            instance=instance_name(),
            own_fingerprint=installation_key().fingerprint, source=name)
    except manifests.ManifestRefused as exc:
        flash(f"{name}: the manifest was refused; nothing was imported", "error")
        return render_template("shipments/import.html", refusal=exc), 400
    except DomainError as exc:
        flash(f"{name}: {exc.message}", "error")
        return render_template("shipments/import.html"), exc.status
    flash(f"Imported {shipment.code} from {shipment.origin}: {len(shipment.items)} samples expected.", "info")
    return redirect(url_for("shipments.detail", shipment_id=shipment.id))


@bp.route("/keys", methods=["GET", "POST"])
@permission_required("manifests.keys")
def keys_page() -> Any:
    """Show this installation's manifest key; list, trust and revoke partner installations' keys."""
    own = installation_key()
    status = 200
    if request.method == "POST":
        try:
            args = load_form(ManifestKeyCreateSchema(), request.form)
            key = keys.register_key(db.session, **args, own_fingerprint=own.fingerprint, by=current_user)
        except ValidationError as exc:
            refuse(first_error(exc))
            status = 400
        except DomainError as exc:
            refuse(exc.message)
            status = exc.status
        else:
            flash(f"Manifests signed by {key.installation} with key {signing.grouped(key.fingerprint)[:19]}… "
                  "are trusted from now on.", "info")
            return redirect(url_for("shipments.keys_page"))
    return render_template("shipments/keys.html", own=own, instance=instance_name(), grouped=signing.grouped,
                           keys=keys.list_keys(db.session), form=request.form), status


@bp.post("/keys/<int:key_id>/revoke")
@permission_required("manifests.keys")
def revoke_key(key_id: int) -> Any:
    """Stop trusting a partner key."""
    key = keys.get_key(db.session, key_id)
    try:
        keys.revoke_key(db.session, key, by=current_user)
    except DomainError as exc:
        refuse(exc.message)
    else:
        flash(f"The key of {key.installation} ({key.fingerprint[:8]}…) is revoked: manifests it signs are "
              "refused.",
              "info")
    return redirect(url_for("shipments.keys_page"))
