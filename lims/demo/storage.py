"""Demo storage: a second ZJ freezer, a rack moved into it (every sample inside gets a ``moved`` event), a few
single-tube moves."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from lims.demo import DemoContext
from lims.storage import service
from lims.storage.models import Placement, StorageUnit
from lims.studies.models import Site


def generate(ctx: DemoContext) -> None:
    """Add a freezer at ZJ, move a rack into it and move a few tubes between boxes."""
    session = ctx.session
    site = session.scalar(select(Site).where(Site.code == "ZJ"))
    tech = ctx.technicians.get("ZJ")
    if site is None or tech is None:
        return
    when = datetime.combine(ctx.data_cut - timedelta(days=20), time(9, 0), tzinfo=UTC)
    freezer = service.create_unit(session, site=site, kind="freezer", name="ZJ -80 °C freezer 2",
                                  barcode="ZJ-FRZ2", set_temp_c=-80.0)
    shelf = service.create_unit(session, site=site, kind="shelf", name="Shelf 1", barcode="ZJ-FRZ2-S1",
                                parent=freezer)
    service.create_unit(session, site=site, kind="box", name="Box for returns", barcode="ZJ-FRZ2-RET",
                        parent=shelf, rows=9, cols=9, box_type="81-place cryobox")
    racks = list(session.scalars(select(StorageUnit)
                                 .where(StorageUnit.site_id == site.id, StorageUnit.kind == "rack")
                                 .order_by(StorageUnit.id)))
    moved = 0
    if racks:
        moved += service.move_unit(session, racks[0], shelf, by=tech, at=when)
    boxes = list(session.scalars(select(StorageUnit)
                                 .where(StorageUnit.site_id == site.id, StorageUnit.kind == "box",
                                                           StorageUnit.box_type == "freezer")
                                 .order_by(StorageUnit.id)))
    if len(boxes) >= 2:
        tubes = list(session.scalars(select(Placement).where(Placement.unit_id == boxes[0].id)
                                     .order_by(Placement.row.desc(), Placement.col.desc()).limit(3)))
        for i, placement in enumerate(tubes):
            service.place_sample(session, placement.sample, boxes[-1], by=tech,
                                 at=when + timedelta(minutes=5 * (i + 1)))
            moved += 1
    ctx.summary.extra["storage moves"] = moved
