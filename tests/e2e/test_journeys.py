"""The user journeys end to end in a real browser, found the way a new user would: labels, roles, headings.

(a) technician: log in, register a visit's samples, print their labels, scan the tubes into a box and
see them on the box map.
"""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select

from lims.extensions import db
from lims.participants.models import Participant, Visit
from lims.storage.models import StorageUnit
from lims.studies.models import Site, TimePoint
from tests.e2e.conftest import ARTIFACTS, log_in


def _planned_visit(live_server) -> tuple[str, str, str]:
    """Return (participant, time point, an empty-ish box barcode) for a ZJ visit still to register."""
    with live_server.app.app_context():
        row = db.session.execute(
            select(Participant.code, TimePoint.code).join(Visit, Visit.participant_id == Participant.id)
            .join(TimePoint, Visit.timepoint_id == TimePoint.id).join(Site, Participant.site_id == Site.id)
            .where(Site.code == "ZJ", Visit.status == "planned", TimePoint.code.in_(["CRE2", "CRE3", "CRE4", "FU12M"]))
            .order_by(Visit.planned_on).limit(1)
        ).one()
        box = db.session.scalar(select(StorageUnit.barcode).join(Site, StorageUnit.site_id == Site.id)
                                .where(Site.code == "ZJ", StorageUnit.kind == "box").order_by(StorageUnit.id.desc()))
    return row[0], row[1], box


def test_technician_journey(page, live_server) -> None:
    participant, timepoint, box = _planned_visit(live_server)
    log_in(page, live_server, "tech.zj")
    page.get_by_label("Search").fill(participant)
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=participant, exact=True).click()
    page.get_by_role("link", name=f"Register {timepoint} samples").click()
    page.get_by_role("heading", name=re.compile(f"Register samples: {participant}")).wait_for()

    today = date.today().isoformat()
    page.get_by_label("Visit date").fill(today)
    rows = page.get_by_role("row").filter(has=page.get_by_role("radio", name="collected"))
    for i in range(rows.count()):
        row = rows.nth(i)
        if "(optional)" in row.inner_text():
            continue
        row.get_by_role("radio", name="collected").check()
        row.get_by_label(re.compile("^Collection time of")).fill(f"{today}T08:30")
    page.get_by_role("button", name="Register samples").click()
    page.get_by_role("heading", name=f"Samples of {participant} · {timepoint}").wait_for()
    accessions = [a.inner_text() for a in page.get_by_role("link", name=re.compile(r"^TB-\d{7}-.$")).all()]
    assert accessions, "the registered samples are listed"

    with page.expect_download() as download:
        page.get_by_role("button", name="Print labels").click()
    pdf = download.value.path().read_bytes()
    assert pdf.startswith(b"%PDF")

    page.get_by_role("link", name="Storage").click()
    box_field = page.get_by_label("Scan box barcode")
    box_field.press_sequentially(box, delay=5)
    box_field.press("Enter")
    tube = page.get_by_label("Scan tube")
    tube.wait_for()
    for code in accessions:
        tube.press_sequentially(code, delay=5)
        tube.press("Enter")
        page.get_by_title(re.compile(rf"^[A-Z]\d+: {code} ")).wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "journey_technician_box_map.png"), full_page=True)
