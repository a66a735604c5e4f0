"""Shipments JSON API: what the pages do, for scripts and other instances."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, ClassVar, TypeVar

from flask import Response, request
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint, abort

from lims import access
from lims.core.api import ErrorSchema, SelectPage
from lims.core.auth import login_required
from lims.core.permissions import permission_required
from lims.extensions import db
from lims.shipments import keys, manifests, receiving, service, signing
from lims.shipments.manifest_schemas import ManifestSchema
from lims.shipments.schemas import (
    ConditionsSchema,
    InstallationKeySchema,
    LateReceiptSchema,
    ManifestKeyCreateSchema,
    ManifestKeySchema,
    PackedSchema,
    PackScanSchema,
    ReconciliationSchema,
    ReleaseSchema,
    ShipmentCreateSchema,
    ShipmentDetailSchema,
    ShipmentItemSchema,
    ShipmentQuerySchema,
    ShipmentReceiveSchema,
    ShipmentSchema,
)
from lims.shipments.views import installation_key, instance_name
from lims.studies.service import get_study

F = TypeVar("F", bound=Callable[..., Any])
blp = Blueprint("shipments_api", __name__, description="Shipments between sites, manifests and receipt")


def _shipment(shipment_id: int) -> Any:
    """Return the shipment if the user may see it (sent from or to their sites); 404 otherwise."""
    return access.require_see(current_user, service.get_shipment(db.session, shipment_id))


@blp.route("/")
class Shipments(MethodView):
    decorators: ClassVar[list[Any]] = [login_required]

    @blp.arguments(ShipmentQuerySchema, location="query")
    @blp.response(200, ShipmentSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, args: dict[str, Any]) -> Any:
        """List the shipments from or to your sites, newest first."""
        return service.shipments_query(status=args.get("status"),
                                       where=access.visible_shipments(current_user))

    @permission_required("shipments.build")
    @blp.arguments(ShipmentCreateSchema)
    @blp.response(201, ShipmentDetailSchema)
    def post(self, args: dict[str, Any]) -> Any:
        """Open a draft shipment from a site to another site or an outside lab."""
        return service.create_shipment(db.session, get_study(db.session), by=current_user, **args)


@blp.route("/<int:shipment_id>")
class ShipmentById(MethodView):
    decorators: ClassVar[list[Any]] = [login_required]

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
    return {"added": service.add_by_scan(db.session, shipment, args["code"], by=current_user),
            "shipment": shipment}


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
    return service.release_shipment(db.session, shipment, by=current_user, instance=instance_name(),
                                    signature=(args["password"], args["meaning"]))


@blp.route("/<int:shipment_id>/manifest")
@login_required
@blp.response(200, ManifestSchema)
def manifest(shipment_id: int) -> Any:
    """Return the signed JSON manifest: content, the SHA-256 of its canonical JSON, our signature."""
    return manifests.manifest(_shipment(shipment_id), instance=instance_name(), key=installation_key())


@blp.route("/<int:shipment_id>/manifest.csv")
@login_required
@blp.response(200, content_type="text/csv")
def manifest_csv(shipment_id: int) -> Any:
    """Return the manifest's items as CSV."""
    shipment = _shipment(shipment_id)
    manifests.manifest_content(shipment, instance=instance_name())  # refuses drafts
    return Response(manifests.manifest_csv(shipment), mimetype="text/csv")


@blp.route("/<int:shipment_id>/receive", methods=["POST"])
@permission_required("shipments.build")
@blp.arguments(ShipmentReceiveSchema)
@blp.response(200, ReconciliationSchema)
def receive(args: dict[str, Any], shipment_id: int) -> Any:
    """Receive by the scans on arrival; answer the reconciliation (received, damaged, missing, unexpected)."""
    damaged = receiving.parse_damage([f"{k}: {v}" for k, v in args["damaged"].items()])

    return receiving.receive_shipment(db.session, _shipment(shipment_id), scans=args["scans"],
                                      damaged=damaged,
                                    arrival_temp_c=args.get("arrival_temp_c"), by=current_user).to_dict()


@blp.route("/<int:shipment_id>/late", methods=["POST"])
@permission_required("shipments.build")
@blp.arguments(LateReceiptSchema)
@blp.response(200, ShipmentItemSchema)
@blp.alt_response(409, description="The item was not missing, or the shipment was not received yet")
def receive_late(args: dict[str, Any], shipment_id: int) -> Any:
    """Receive an item that was missing at receipt but turned up later (custody event, site now holds it)."""
    return receiving.receive_late(db.session, _shipment(shipment_id), args["code"], damage=args.get("damage"),
                                by=current_user)


@blp.route("/<int:shipment_id>/reconciliation")
@login_required
@blp.response(200, ReconciliationSchema)
def reconciliation(shipment_id: int) -> Any:
    """Return a received shipment's reconciliation report."""
    return receiving.reconciliation(_shipment(shipment_id)).to_dict()


def _bounded(view: F) -> F:
    """Refuse a request body larger than any manifest before it is parsed."""
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if (request.content_length or 0) > manifests.MAX_MANIFEST_BYTES:
            abort(413, message=f"a manifest is at most {manifests.MAX_MANIFEST_BYTES // (1024 * 1024)} MB")
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


@blp.route("/import", methods=["POST"])
@permission_required("shipments.import")
@_bounded
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": ManifestSchema}}})
@blp.response(201, ShipmentDetailSchema)
@blp.alt_response(409, description="Already imported, or made by this installation")
@blp.alt_response(422, schema=ErrorSchema,
                  description="Refused: every problem with its item, field, value and "
                                                        "reason in errors.manifest; nothing was stored")
def import_manifest() -> Any:
    """Import another installation's signed manifest (the body is the manifest file as exported).

    Refused when it is unsigned, signed by a key an admin did not register or revoked, altered after signing,
    or has an invalid field, a CSV checksum that does not match its items, or an item that disagrees with the
    sample registered here. The body is read exactly as the import page reads an uploaded file.
    """
    try:
        return manifests.import_manifest(db.session, request.get_data(), by=current_user,
                                         instance=instance_name(),
                                         own_fingerprint=installation_key().fingerprint)
    except manifests.ManifestRefused as exc:
        abort(422, message=exc.message, errors={"manifest": [p.to_dict() for p in exc.problems]})


@blp.route("/keys/own")
@permission_required("manifests.keys")
@blp.response(200, InstallationKeySchema)
def own_key() -> Any:
    """Return this installation's manifest signing key (public half and fingerprint) for partner sites."""
    key = installation_key()
    return {"installation": instance_name(), "algorithm": signing.ALGORITHM, "public_key": key.public_key,
            "public_key_pem": key.public_pem, "fingerprint": key.fingerprint}


@blp.route("/keys/")
class ManifestKeys(MethodView):
    decorators: ClassVar[list[Any]] = [permission_required("manifests.keys")]

    @blp.response(200, ManifestKeySchema(many=True))
    @blp.paginate(SelectPage)
    def get(self) -> Any:
        """List the partner installations' keys this installation trusts (and those it revoked)."""
        return keys.keys_query()

    @blp.arguments(ManifestKeyCreateSchema)
    @blp.response(201, ManifestKeySchema)
    @blp.alt_response(409, description="The key is already registered, or was revoked")
    def post(self, args: dict[str, Any]) -> Any:
        """Trust a partner installation's public key for the manifests it signs (audited)."""
        return keys.register_key(db.session, **args, own_fingerprint=installation_key().fingerprint,
                                 by=current_user)


@blp.route("/keys/<int:key_id>/revoke", methods=["POST"])
@permission_required("manifests.keys")
@blp.response(200, ManifestKeySchema)
@blp.alt_response(409, description="Already revoked")
def revoke_key(key_id: int) -> Any:
    """Stop trusting a partner key: manifests it signs are refused from now on (audited)."""
    return keys.revoke_key(db.session, keys.get_key(db.session, key_id), by=current_user)
