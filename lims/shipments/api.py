"""Shipments JSON API: what the pages do, for scripts and other instances."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint

from lims import access
from lims.core.api import SelectPage
from lims.core.auth import login_required
from lims.core.permissions import permission_required
from lims.extensions import db
from lims.shipments import service
from lims.shipments.schemas import (
    ConditionsSchema,
    LateReceiptSchema,
    PackedSchema,
    PackScanSchema,
    ReconciliationSchema,
    ReleaseSchema,
    ShipmentCreateSchema,
    ShipmentDetailSchema,
    ShipmentItemSchema,
    ShipmentManifestSchema,
    ShipmentQuerySchema,
    ShipmentReceiveSchema,
    ShipmentSchema,
)
from lims.shipments.views import instance_name
from lims.studies.service import get_study

blp = Blueprint("shipments_api", __name__, description="Shipments between sites, manifests and receipt")


def _shipment(shipment_id: int) -> Any:
    """Return the shipment if the user may see it (sent from or to their sites); 404 otherwise."""
    return access.require_see(current_user, service.get_shipment(db.session, shipment_id))


@blp.route("/")
class Shipments(MethodView):
    decorators = [login_required]

    @blp.arguments(ShipmentQuerySchema, location="query")
    @blp.response(200, ShipmentSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, args: dict[str, Any]) -> Any:
        """List the shipments from or to your sites, newest first."""
        return service.shipments_query(status=args.get("status"), where=access.visible_shipments(current_user))

    @permission_required("shipments.build")
    @blp.arguments(ShipmentCreateSchema)
    @blp.response(201, ShipmentDetailSchema)
    def post(self, args: dict[str, Any]) -> Any:
        """Open a draft shipment from a site to another site or an outside lab."""
        return service.create_shipment(db.session, get_study(db.session), by=current_user, **args)


@blp.route("/<int:shipment_id>")
class ShipmentById(MethodView):
    decorators = [login_required]

    @blp.response(200, ShipmentDetailSchema)
    def get(self, shipment_id: int) -> Any:
        """Show a shipment with its items and their state."""
        return _shipment(shipment_id)

    @permission_required("shipments.build")
    @blp.arguments(ConditionsSchema)
    @blp.response(200, ShipmentDetailSchema)
    def patch(self, args: dict[str, Any], shipment_id: int) -> Any:
        """Record a draft shipment's conditions, courier and tracking number."""
        return service.update_conditions(db.session, _shipment(shipment_id), by=current_user, **args)


@blp.route("/<int:shipment_id>/items", methods=["POST"])
@permission_required("shipments.build")
@blp.arguments(PackScanSchema)
@blp.response(201, PackedSchema)
@blp.alt_response(409, description="The sample (or one of the box) may not travel; nothing was packed")
def add(args: dict[str, Any], shipment_id: int) -> Any:
    """Pack a scanned tube, or every tube of a scanned box (all or nothing)."""
    shipment = _shipment(shipment_id)
    return {"added": service.add_by_scan(db.session, shipment, args["code"], by=current_user), "shipment": shipment}


@blp.route("/<int:shipment_id>/items/<accession>", methods=["DELETE"])
@permission_required("shipments.build")
@blp.response(204)
def remove(shipment_id: int, accession: str) -> None:
    """Take a sample back out of a draft shipment."""
    service.remove_item(db.session, _shipment(shipment_id), accession, by=current_user)


@blp.route("/<int:shipment_id>/release", methods=["POST"])
@permission_required("shipments.release")
@blp.arguments(ReleaseSchema)
@blp.response(200, ShipmentDetailSchema)
@blp.alt_response(409, description="Already released, or a sample may no longer travel")
def release(args: dict[str, Any], shipment_id: int) -> Any:
    """Release the shipment (lab managers, signed with their password): samples go in transit."""
    shipment = _shipment(shipment_id)
    service.sign_release(db.session, shipment, current_user, password=args["password"], meaning=args["meaning"])
    return service.release_shipment(db.session, shipment, by=current_user, instance=instance_name())


@blp.route("/<int:shipment_id>/manifest")
@login_required
@blp.response(200, ShipmentManifestSchema)
def manifest(shipment_id: int) -> Any:
    """Return the JSON manifest: content and the SHA-256 of its canonical JSON."""
    return service.manifest(_shipment(shipment_id), instance=instance_name())


@blp.route("/<int:shipment_id>/manifest.csv")
@login_required
@blp.response(200, content_type="text/csv")
def manifest_csv(shipment_id: int) -> Any:
    """Return the manifest's items as CSV."""
    shipment = _shipment(shipment_id)
    service.manifest(shipment)
    return Response(service.manifest_csv(shipment), mimetype="text/csv")


@blp.route("/<int:shipment_id>/receive", methods=["POST"])
@permission_required("shipments.build")
@blp.arguments(ShipmentReceiveSchema)
@blp.response(200, ReconciliationSchema)
def receive(args: dict[str, Any], shipment_id: int) -> Any:
    """Receive by the scans on arrival; answer the reconciliation (received, damaged, missing, unexpected)."""
    damaged = service.parse_damage([f"{k}: {v}" for k, v in args["damaged"].items()])

    return service.receive_shipment(db.session, _shipment(shipment_id), scans=args["scans"], damaged=damaged,
                                    arrival_temp_c=args.get("arrival_temp_c"), by=current_user).to_dict()


@blp.route("/<int:shipment_id>/late", methods=["POST"])
@permission_required("shipments.build")
@blp.arguments(LateReceiptSchema)
@blp.response(200, ShipmentItemSchema)
@blp.alt_response(409, description="The item was not missing, or the shipment was not received yet")
def receive_late(args: dict[str, Any], shipment_id: int) -> Any:
    """Receive an item that was missing at receipt but turned up later (custody event, site now holds it)."""
    return service.receive_late(db.session, _shipment(shipment_id), args["code"], damage=args.get("damage"),
                                by=current_user)


@blp.route("/<int:shipment_id>/reconciliation")
@login_required
@blp.response(200, ReconciliationSchema)
def reconciliation(shipment_id: int) -> Any:
    """Return a received shipment's reconciliation report."""
    return service.reconciliation(_shipment(shipment_id)).to_dict()


@blp.route("/import", methods=["POST"])
@permission_required("shipments.import")
@blp.arguments(ShipmentManifestSchema)
@blp.response(201, ShipmentDetailSchema)
def import_manifest(args: dict[str, Any]) -> Any:
    """Import another instance's manifest (refused when its SHA-256 does not match its content)."""
    import json

    return service.import_manifest(db.session, json.dumps(args), by=current_user, instance=instance_name())

