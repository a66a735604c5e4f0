"""Shipments and consent JSON API: what the pages do, for scripts and other instances."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint

from lims.core.auth import login_required
from lims.core.permissions import permission_required
from lims.extensions import db
from lims.participants import service as participants_service
from lims.shipments import service
from lims.shipments.consent import disposal_list, withdraw_consent
from lims.shipments.schemas import (
    ConditionsSchema,
    DisposalSchema,
    PackedSchema,
    PackScanSchema,
    ReconciliationSchema,
    ReleaseSchema,
    ShipmentCreateSchema,
    ShipmentDetailSchema,
    ShipmentManifestSchema,
    ShipmentQuerySchema,
    ShipmentReceiveSchema,
    ShipmentSchema,
    WithdrawalSchema,
    WithdrawSchema,
)
from lims.shipments.views import instance_name
from lims.storage.transactions import commit_with_retry
from lims.studies.service import get_study

blp = Blueprint("shipments_api", __name__, description="Shipments between sites, manifests and receipt")
consent_blp = Blueprint("consent_api", __name__, description="Consent withdrawal and the disposal list")


@blp.route("/")
class Shipments(MethodView):
    decorators = [login_required]

    @blp.arguments(ShipmentQuerySchema, location="query")
    @blp.response(200, ShipmentSchema(many=True))
    @blp.paginate()
    def get(self, args: dict[str, Any], pagination_parameters: Any) -> Any:
        """List shipments, newest first."""
        rows = service.list_shipments(db.session, status=args.get("status"))
        pagination_parameters.item_count = len(rows)
        first = pagination_parameters.first_item
        return rows[first:first + pagination_parameters.page_size]

    @permission_required("shipments.build")
    @blp.arguments(ShipmentCreateSchema)
    @blp.response(201, ShipmentDetailSchema)
    def post(self, args: dict[str, Any]) -> Any:
        """Open a draft shipment from a site to another site or an outside lab."""
        shipment = service.create_shipment(db.session, get_study(db.session), by=current_user, **args)
        db.session.commit()
        return shipment


@blp.route("/<int:shipment_id>")
class ShipmentById(MethodView):
    decorators = [login_required]

    @blp.response(200, ShipmentDetailSchema)
    def get(self, shipment_id: int) -> Any:
        """Show a shipment with its items and their state."""
        return service.get_shipment(db.session, shipment_id)

    @permission_required("shipments.build")
    @blp.arguments(ConditionsSchema)
    @blp.response(200, ShipmentDetailSchema)
    def patch(self, args: dict[str, Any], shipment_id: int) -> Any:
        """Record a draft shipment's conditions, courier and tracking number."""
        shipment = service.update_conditions(db.session, service.get_shipment(db.session, shipment_id),
                                             by=current_user, **args)
        db.session.commit()
        return shipment


@blp.route("/<int:shipment_id>/items", methods=["POST"])
@permission_required("shipments.build")
@blp.arguments(PackScanSchema)
@blp.response(201, PackedSchema)
@blp.alt_response(409, description="The sample (or one of the box) may not travel; nothing was packed")
def add(args: dict[str, Any], shipment_id: int) -> Any:
    """Pack a scanned tube, or every tube of a scanned box (all or nothing)."""
    def work() -> dict[str, Any]:
        shipment = service.get_shipment(db.session, shipment_id)
        return {"added": service.add_by_scan(db.session, shipment, args["code"], by=current_user),
                "shipment": shipment}
    return commit_with_retry(db.session, work)


@blp.route("/<int:shipment_id>/items/<accession>", methods=["DELETE"])
@permission_required("shipments.build")
@blp.response(204)
def remove(shipment_id: int, accession: str) -> None:
    """Take a sample back out of a draft shipment."""
    service.remove_item(db.session, service.get_shipment(db.session, shipment_id), accession, by=current_user)
    db.session.commit()


@blp.route("/<int:shipment_id>/release", methods=["POST"])
@permission_required("shipments.release")
@blp.arguments(ReleaseSchema)
@blp.response(200, ShipmentDetailSchema)
@blp.alt_response(409, description="Already released, or a sample may no longer travel")
def release(args: dict[str, Any], shipment_id: int) -> Any:
    """Release the shipment (lab managers, signed with their password): samples go in transit."""
    def work() -> Any:
        shipment = service.get_shipment(db.session, shipment_id)
        service.sign_release(db.session, shipment, current_user, password=args["password"], meaning=args["meaning"])
        return service.release_shipment(db.session, shipment, by=current_user, instance=instance_name())
    return commit_with_retry(db.session, work)


@blp.route("/<int:shipment_id>/manifest")
@login_required
@blp.response(200, ShipmentManifestSchema)
def manifest(shipment_id: int) -> Any:
    """Return the JSON manifest: content and the SHA-256 of its canonical JSON."""
    return service.manifest(service.get_shipment(db.session, shipment_id), instance=instance_name())


@blp.route("/<int:shipment_id>/manifest.csv")
@login_required
@blp.response(200, content_type="text/csv")
def manifest_csv(shipment_id: int) -> Any:
    """Return the manifest's items as CSV."""
    shipment = service.get_shipment(db.session, shipment_id)
    service.manifest(shipment)
    return Response(service.manifest_csv(shipment), mimetype="text/csv")


@blp.route("/<int:shipment_id>/receive", methods=["POST"])
@permission_required("shipments.build")
@blp.arguments(ShipmentReceiveSchema)
@blp.response(200, ReconciliationSchema)
def receive(args: dict[str, Any], shipment_id: int) -> Any:
    """Receive by the scans on arrival; answer the reconciliation (received, damaged, missing, unexpected)."""
    damaged = service.parse_damage([f"{k}: {v}" for k, v in args["damaged"].items()])

    def work() -> dict[str, Any]:
        return service.receive_shipment(db.session, service.get_shipment(db.session, shipment_id),
                                        scans=args["scans"], damaged=damaged,
                                        arrival_temp_c=args.get("arrival_temp_c"), by=current_user).to_dict()
    return commit_with_retry(db.session, work)


@blp.route("/<int:shipment_id>/reconciliation")
@login_required
@blp.response(200, ReconciliationSchema)
def reconciliation(shipment_id: int) -> Any:
    """Return a received shipment's reconciliation report."""
    return service.reconciliation(service.get_shipment(db.session, shipment_id)).to_dict()


@blp.route("/import", methods=["POST"])
@permission_required("shipments.import")
@blp.arguments(ShipmentManifestSchema)
@blp.response(201, ShipmentDetailSchema)
def import_manifest(args: dict[str, Any]) -> Any:
    """Import another instance's manifest (refused when its SHA-256 does not match its content)."""
    import json

    shipment = service.import_manifest(db.session, json.dumps(args), by=current_user, instance=instance_name())
    db.session.commit()
    return shipment


@consent_blp.route("/<code>/withdraw", methods=["POST"])
@permission_required("consent.withdraw")
@consent_blp.arguments(WithdrawSchema)
@consent_blp.response(200, WithdrawalSchema)
def withdraw(args: dict[str, Any], code: str) -> Any:
    """Withdraw a participant's consent: every remaining sample is quarantined (custody event each)."""
    participant = participants_service.get_by_code(db.session, code)
    result = withdraw_consent(db.session, participant, on=args["on"], reason=args["reason"], by=current_user)
    db.session.commit()
    return result


@consent_blp.route("/disposal")
@login_required
@consent_blp.response(200, DisposalSchema(many=True))
@consent_blp.paginate()
def disposal(pagination_parameters: Any) -> Any:
    """List quarantined samples awaiting disposal, with the reason and location."""
    rows = disposal_list(db.session)
    pagination_parameters.item_count = len(rows)
    first = pagination_parameters.first_item
    return rows[first:first + pagination_parameters.page_size]
