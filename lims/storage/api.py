"""Storage JSON API: units with occupancy, box positions, place by scan, moves, locations, suggestions,
retention."""

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
from lims.samples import service as samples_service
from lims.storage import racks, service
from lims.storage.bulk import place_from_csv
from lims.storage.models import GRID_KINDS, Placement, StorageUnit
from lims.storage.schemas import (
    BulkPlacedSchema,
    PlacedTubeSchema,
    PlaceTubeSchema,
    RackAppliedSchema,
    RackApplyFormSchema,
    RackDiffSchema,
    RackFileSchema,
    RackScanFormSchema,
    RetentionQuerySchema,
    RetentionSchema,
    SampleLocationSchema,
    StorageSuggestionSchema,
    UnitCreateSchema,
    UnitDetailSchema,
    UnitMovedSchema,
    UnitMoveSchema,
    UnitQuerySchema,
    UnitSchema,
)
from lims.studies.models import Site
from lims.studies.service import get_study

blp = Blueprint("storage_api", __name__, description="Storage: freezers, racks, boxes and sample positions")


def _unit(unit_id: int) -> StorageUnit:
    """Return the unit if the user may see it (404 otherwise, also across sites)."""
    return access.require_see(current_user, service.get_unit(db.session, unit_id))


def _sample(accession: str) -> Any:
    return access.require_see(current_user, samples_service.find_by_accession(db.session, accession))


def _detail(unit: StorageUnit) -> dict[str, Any]:
    ids = service.descendant_ids(db.session, unit.id)
    use = service.usage(db.session, [u for u in service.site_units(db.session, unit.site_id) if u.id in ids])
    data = UnitSchema().dump(unit)
    data.update(path=service.unit_label(db.session, unit), usage=use[unit.id], children=unit.children,
                positions=None, samples=[])
    if unit.kind in GRID_KINDS:
        data["positions"] = [
            {"position": c.label, "row": c.row, "col": c.col,
             "accession": c.sample.accession if c.sample else None,
             "sample_type": c.sample.sample_type.code if c.sample else None,
             "status": c.sample.status if c.sample else None}
            for row in service.box_map(db.session, unit) for c in row]
    else:
        data["samples"] = [s.accession for s in service.loose_samples(db.session, unit)]
    return data


@blp.route("/units")
class Units(MethodView):
    decorators: ClassVar[list[Any]] = [login_required]

    @blp.arguments(UnitQuerySchema, location="query")
    @blp.response(200, UnitSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, args: dict[str, Any]) -> Any:
        """List the storage units of your sites (filter by site, parent and kind)."""
        stmt = (select(StorageUnit).join(Site).where(access.visible_units(current_user))
                .order_by(Site.code, StorageUnit.name, StorageUnit.id))
        if args.get("site"):
            stmt = stmt.where(Site.code == args["site"].upper())
        if args.get("parent_id") is not None:
            stmt = stmt.where(StorageUnit.parent_id == args["parent_id"])
        if args.get("kind"):
            stmt = stmt.where(StorageUnit.kind == args["kind"])
        return stmt

    @permission_required("storage.configure")
    @blp.arguments(UnitCreateSchema)
    @blp.response(201, UnitDetailSchema)
    def post(self, args: dict[str, Any]) -> Any:
        """Create a storage unit at a site or inside another unit (lab managers)."""
        parent_id = args.pop("parent_id", None)
        parent = _unit(parent_id) if parent_id else None
        site_code = args.pop("site", None)
        site = parent.site if parent else db.session.scalar(select(Site)
                                                            .where(Site.code == (site_code or "").upper()))
        if site is None:
            raise DomainError("give the site (or a parent unit)", field="site")
        return _detail(service.create_unit(db.session, site=site, parent=parent, by=current_user, **args))


@blp.route("/units/<int:unit_id>")
@login_required
@blp.response(200, UnitDetailSchema)
def unit_detail(unit_id: int) -> Any:
    """Show a unit with its path, occupancy (everything inside counted) and every box position."""
    return _detail(_unit(unit_id))


@blp.route("/units/<int:unit_id>/place", methods=["POST"])
@permission_required("storage.manage")
@blp.arguments(PlaceTubeSchema)
@blp.response(201, PlacedTubeSchema)
@blp.alt_response(409, description="Position taken, box full, or the sample was moved meanwhile")
def place(args: dict[str, Any], unit_id: int) -> Any:
    """Place a scanned tube at a position (or the next free one); a placed tube is moved."""
    unit = access.require(current_user, "storage.manage", _unit(unit_id))
    return service.place_by_scan(db.session, unit, args["code"], position=args.get("position"),
                                 by=current_user,
                                 expected_version=args.get("version"))


@blp.route("/units/<int:unit_id>/move", methods=["POST"])
@permission_required("storage.manage")
@blp.arguments(UnitMoveSchema)
@blp.response(200, UnitMovedSchema)
@blp.alt_response(409, description="The unit was moved or changed meanwhile")
def move(args: dict[str, Any], unit_id: int) -> Any:
    """Move a unit with everything inside into another unit; each sample inside gets a custody event."""
    unit = access.require(current_user, "storage.manage", _unit(unit_id))
    target = service.get_unit_by_barcode(db.session, args["into"], site_codes=[unit.site.code],
                                         where=access.visible_units(current_user))
    count = service.move_unit(db.session, unit, target, by=current_user, expected_version=args.get("version"))
    return {"unit": unit, "path": service.unit_label(db.session, unit), "samples_moved": count}


@blp.route("/locations/<accession>")
@login_required
@blp.response(200, SampleLocationSchema)
def location(accession: str) -> Any:
    """Return a sample's full location path (one query) and its placement version."""
    sample = _sample(accession)
    placement = db.session.get(Placement, sample.id)
    return {"accession": sample.accession, "path": service.location_path(db.session, sample.id),
            "unit_id": placement.unit_id if placement else None,
            "position": placement.position_label if placement else None,
            "version": placement.version if placement else None}


@blp.route("/suggestions/<accession>")
@login_required
@blp.response(200, StorageSuggestionSchema)
def suggestion(accession: str) -> Any:
    """Suggest where a sample should go (same participant and time point together, type and temperature)."""
    sample = _sample(accession)
    s = service.suggest_location(db.session, sample)
    if s is None:
        return {"accession": sample.accession, "unit_id": None, "barcode": None, "position": None,
                "reason": "no container at this site admits the sample type with free space"}
    return {"accession": sample.accession, "unit_id": s.unit.id, "barcode": s.unit.barcode,
            "position": s.position, "reason": s.reason}


@blp.route("/retention")
@login_required
@blp.arguments(RetentionQuerySchema, location="query")
@blp.response(200, RetentionSchema(many=True))
@blp.paginate()
def retention(args: dict[str, Any], pagination_parameters: Any) -> Any:
    """List samples kept past their type's retention period (study setting), oldest first."""
    study = get_study(db.session)
    today = access.local_today(access.study_zone(study))
    rows = service.retention_due(db.session, study, on=args.get("on") or today,
                                 where=access.visible_samples(current_user))
    pagination_parameters.item_count = len(rows)
    first = pagination_parameters.first_item
    return rows[first:first + pagination_parameters.page_size]


@blp.route("/units/<int:unit_id>/rack-scan", methods=["POST"])
@permission_required("storage.manage")
@blp.arguments(RackScanFormSchema, location="form")
@blp.arguments(RackFileSchema, location="files")
@blp.response(200, RackDiffSchema)
def rack_scan(form: dict[str, Any], files: dict[str, Any], unit_id: int) -> Any:
    """Compare a rack reader's file (FluidX, VisionMate, Micronic, DataPaq) with the box map; no change."""
    unit = access.require(current_user, "storage.manage", _unit(unit_id))
    return racks.compare(db.session, unit, files["file"].read(), user=current_user,
                         numbering=form["numbering"])


@blp.route("/units/<int:unit_id>/rack-scan/apply", methods=["POST"])
@permission_required("storage.manage")
@blp.arguments(RackApplyFormSchema, location="form")
@blp.arguments(RackFileSchema, location="files")
@blp.response(200, RackAppliedSchema)
@blp.alt_response(409,
                  description="The box or file changed since the review, or a move is refused; nothing "
                              "changed")
def rack_apply(form: dict[str, Any], files: dict[str, Any], unit_id: int) -> Any:
    """Apply a reviewed rack scan: every move or none, one custody event per tube."""
    unit = access.require(current_user, "storage.manage", _unit(unit_id))
    diff = racks.apply_scan(db.session, unit, files["file"].read(), user=current_user,
                            fingerprint=form["fingerprint"], numbering=form["numbering"])
    return {"applied": len(diff.moves), "comparison": diff}


@blp.route("/placements", methods=["POST"])
@permission_required("storage.manage")
@blp.arguments(RackFileSchema, location="files")
@blp.response(201, BulkPlacedSchema)
@blp.alt_response(422, description="Refused: nothing was placed; errors name every line, field and reason")
def bulk_place(files: dict[str, Any]) -> Any:
    """Place tubes from a CSV (accession, box, position; position empty = next free), all or nothing."""
    return {"placed": place_from_csv(db.session, files["file"].read(), by=current_user)}
