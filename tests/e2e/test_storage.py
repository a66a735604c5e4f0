"""A technician scans a box, then tubes (code + Enter, as a USB scanner types them), and sees them on the box
map."""

from __future__ import annotations

import re

from sqlalchemy import select

from lims.extensions import db
from lims.participants.models import Participant
from lims.samples.models import Sample
from lims.storage.models import Placement, StorageUnit
from lims.studies.models import Site
from tests.e2e.conftest import ARTIFACTS, log_in


def _zj_tubes_in_freezer_boxes(live_server, n: int) -> list[str]:
    with live_server.app.app_context():
        rows = db.session.scalars(
            select(Sample.accession).join(Placement, Placement.sample_id == Sample.id)
            .join(StorageUnit, StorageUnit.id == Placement.unit_id)
            .join(Participant, Sample.participant_id == Participant.id)
            .join(Site, Participant.site_id == Site.id)
            .where(Site.code == "ZJ", Sample.status == "in_storage", StorageUnit.kind == "box",
                   StorageUnit.barcode != "ZJ-FRZ2-RET")
            .order_by(Sample.id).limit(n)
        ).all()
    assert len(rows) == n
    return list(rows)


def test_place_tubes_by_scanning_and_see_them_on_the_box_map(page, live_server) -> None:
    first, second = _zj_tubes_in_freezer_boxes(live_server, 2)
    log_in(page, live_server, "tech.zj")
    page.get_by_role("link", name="Storage").click()
    page.get_by_role("heading", name="Storage", exact=True).wait_for()
    box_field = page.get_by_label("Scan box barcode")
    assert box_field.evaluate("el => el === document.activeElement"), "the box scan field must have the focus"
    box_field.press_sequentially("zj-frz2-ret", delay=5)
    box_field.press("Enter")
    page.get_by_role("heading", name="Box for returns", exact=True).wait_for()
    grid = page.get_by_role("table", name="Box map of Box for returns")
    empty_before = grid.get_by_text("empty").count()

    tube = page.get_by_label("Scan tube")
    assert tube.evaluate("el => el === document.activeElement"), "the tube scan field must have the focus"
    tube.press_sequentially(first.lower(), delay=5)
    tube.press("Enter")
    page.get_by_role("status").filter(has_text=f"{first} moved at").wait_for()
    placed = page.get_by_title(re.compile(rf"^[A-I]\d: {first} "))
    placed.wait_for()
    position = placed.get_attribute("title").split(":")[0]

    page.get_by_label("Position (optional)").fill("I9")
    tube = page.get_by_label("Scan tube")
    tube.press_sequentially(second, delay=5)
    tube.press("Enter")
    page.get_by_role("status").filter(has_text=f"{second} moved at I9").wait_for()
    page.get_by_title(re.compile(rf"^I9: {second} ")).wait_for()
    assert page.get_by_title(re.compile(rf"^{position}: {first} ")).is_visible()
    assert page.get_by_role("table",
                            name="Box map of Box for returns").get_by_text(
                                "empty").count() == empty_before - 2
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "storage_box_map.png"), full_page=True)

    # A taken position is refused with the reason, and the tube stays where it was.
    page.get_by_label("Position (optional)").fill("I9")
    page.get_by_label("Scan tube").press_sequentially(first, delay=5)
    page.get_by_label("Scan tube").press("Enter")
    page.get_by_role("alert").filter(has_text="position I9 of box ZJ-FRZ2-RET is taken").wait_for()

    page.get_by_role("link", name=re.compile(rf"I9\s*{second}")).click()
    page.get_by_role("heading", name=f"Sample {second}").wait_for()
    page.get_by_text("ZJ › ZJ -80 °C freezer 2 › Shelf 1 › Box for returns › I9", exact=True).wait_for()
