"""The bench in a real browser: a Tab-suffixed scanner at the station, a morning draw registered on its local
day, and the bench pages at tablet width (800 px) without horizontal scrolling (screenshots kept in
test-artifacts/)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from lims.core.uow import unit_of_work
from lims.extensions import db
from lims.participants.models import Participant, Visit
from lims.samples.models import Sample
from lims.storage.models import StorageUnit
from lims.storage.service import create_unit, place_sample
from lims.studies.models import SampleType, Site, TimePoint
from tests.e2e.conftest import ARTIFACTS, log_in

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _zj_stored(live_server, n: int) -> list[str]:
    with live_server.app.app_context():
        rows = db.session.scalars(
            select(Sample.accession).join(Site, Sample.site_id == Site.id)
            .where(Site.code == "ZJ", Sample.status == "in_storage").order_by(Sample.id).offset(40)
            .limit(n)).all()
    assert len(rows) == n
    return list(rows)


def test_tab_suffixed_scanner_at_the_station(page, live_server) -> None:
    first, second, third = _zj_stored(live_server, 3)
    log_in(page, live_server, "tech.zj")
    page.get_by_role("link", name="Scan station").click()
    scan = page.get_by_label("Scan barcode")
    panel = page.get_by_role("status", name="Scan result")
    assert scan.evaluate("el => el === document.activeElement")

    # A scanner set to a Tab suffix: the code, then Tab. The scan is taken and the field keeps the focus.
    scan.press_sequentially(first)
    scan.press("Tab")
    panel.get_by_text(f"{first}: found").wait_for()
    assert "ok" in panel.get_attribute("class")
    assert scan.evaluate("el => el === document.activeElement") and scan.input_value() == ""

    # With an AIM symbology prefix (Code 128) and a Tab suffix.
    scan.press_sequentially("]C1" + second)
    scan.press("Tab")
    panel.get_by_text(f"{second}: found").wait_for()

    # A scanner typing through a German keyboard layout: the station says so.
    scan.press_sequentially(third.replace("-", "ß"))
    scan.press("Tab")
    panel.get_by_text(re.compile(f"this is {third} typed through a German")).wait_for()
    assert "bad" in panel.get_attribute("class")

    # The focus moves away in the middle of a fast scan burst (no suffix seen): the scan is still taken.
    handled = int(page.locator("#feedback").get_attribute("data-handled") or 0)
    scan.press_sequentially(third)
    page.locator("#text").focus()
    page.wait_for_function(f"() => Number(document.querySelector('#feedback').dataset.handled) > {handled}")
    panel.get_by_text(f"{third}: found").wait_for()


def test_scanner_setup_shows_what_the_scanner_sent(page, live_server) -> None:
    log_in(page, live_server, "tech.zj")
    page.goto(f"{live_server.url}/station/setup")
    probe = page.get_by_label("Scan the test label here")
    probe.press_sequentially("]C1TB-9999999-V")
    probe.press("Tab")
    result = page.get_by_role("status", name="What the scanner sent")
    result.get_by_text("Read TB-9999999-V, ended by Tab").wait_for()
    result.get_by_text(re.compile("symbology identifier ]C1")).wait_for()
    table = page.get_by_role("table", name="Every key, in the order it arrived")
    assert table.get_by_role("cell", name="5D", exact=True).count() == 1  # "]"
    assert table.get_by_role("cell", name="09", exact=True).count() == 1  # Tab


def _planned_zj_visit(live_server) -> tuple[str, str]:
    with live_server.app.app_context():
        row = db.session.execute(
            select(Participant.code, TimePoint.code).join(Visit, Visit.participant_id == Participant.id)
            .join(TimePoint, Visit.timepoint_id == TimePoint.id).join(Site, Participant.site_id == Site.id)
            .where(Site.code == "ZJ", Visit.status == "planned",
                   TimePoint.code.in_(["CRE5", "CRE6", "FU12M", "CRE7"]))
            .order_by(Visit.planned_on.desc()).limit(1)).one()
    return row[0], row[1]


def test_a_morning_draw_is_registered_on_its_local_day(page, live_server) -> None:
    participant, timepoint = _planned_zj_visit(live_server)
    now = datetime.now(SHANGHAI)
    day = now.date() if now.hour >= 8 else now.date() - timedelta(days=1)
    log_in(page, live_server, "tech.zj")
    page.goto(f"{live_server.url}/samples/register/{participant}/{timepoint}")
    page.get_by_text("Times are local (Asia/Shanghai)").wait_for()
    page.get_by_label("Visit date").fill(day.isoformat())
    rows = page.get_by_role("row").filter(has=page.get_by_role("radio", name="collected"))
    for i in range(rows.count()):
        row = rows.nth(i)
        if "(optional)" in row.inner_text():
            continue
        row.get_by_role("radio", name="collected").check()
        row.get_by_label(re.compile("^Collection time of")).fill(f"{day.isoformat()}T07:30")
    page.get_by_role("button", name="Register samples").click()
    page.get_by_role("heading", name=f"Samples of {participant} · {timepoint}").wait_for()
    accession = page.get_by_role("link", name=re.compile(r"^TB-\d{7}-.$")).first.inner_text()
    page.get_by_role("link", name=accession, exact=True).click()
    page.get_by_role("heading", name=f"Sample {accession}").wait_for()
    facts = page.locator("dl.facts")
    facts.get_by_text(f"{day.isoformat()} 07:30").wait_for()
    with live_server.app.app_context():
        stored = db.session.scalar(select(Sample.collected_at).where(Sample.accession == accession))
    # Stored in UTC: 07:30 in Shanghai is 23:30 UTC on the day before.
    assert stored == datetime(day.year, day.month, day.day, 7, 30, tzinfo=SHANGHAI).astimezone(UTC)
    assert stored.date() == day - timedelta(days=1)


def _wide_box(live_server) -> int:
    """A 96-tube rack box (8 x 12) at ZJ with a few tubes in it, the widest box map a bench shows."""
    with live_server.app.app_context():
        unit = db.session.scalar(select(StorageUnit).where(StorageUnit.barcode == "ZJ-RK96"))
        if unit is None:
            with unit_of_work(db.session):
                site = db.session.scalar(select(Site).where(Site.code == "ZJ"))
                freezer = db.session.scalar(select(StorageUnit).where(StorageUnit.barcode == "ZJ-FRZ1"))
                unit = create_unit(db.session, site=site, kind="box", name="Rack 96 (FluidX)",
                                   barcode="ZJ-RK96",
                                   parent=freezer, rows=8, cols=12)
                tubes = db.session.scalars(
                    select(Sample).join(Site, Sample.site_id == Site.id).join(SampleType)
                    .where(Site.code == "ZJ", Sample.status == "in_storage",
                           SampleType.code == "CTDNA_PLASMA")
                    .order_by(Sample.id.desc()).limit(14)).all()
                assert len(tubes) == 14
                for i, tube in enumerate(tubes):
                    place_sample(db.session, tube, unit, position=f"{'AH'[i // 12]}{i % 12 + 1}", by=None)
        return unit.id


def _pages(live_server) -> dict[str, str]:
    with live_server.app.app_context():
        sample = db.session.scalar(select(Sample).join(Site, Sample.site_id == Site.id)
                                   .where(Site.code == "ZJ", Sample.status == "in_storage")
                                   .order_by(Sample.id))
        box = db.session.scalar(select(StorageUnit.id).where(StorageUnit.barcode == "ZJ-FRZ1-B001"))
        code = sample.participant.code
        planned = db.session.execute(
            select(Participant.code, TimePoint.code).join(Visit, Visit.participant_id == Participant.id)
            .join(TimePoint, Visit.timepoint_id == TimePoint.id).join(Site, Participant.site_id == Site.id)
            .where(Site.code == "ZJ", Visit.status == "planned").limit(1)).one()
        blood = db.session.scalar(select(Sample.accession).join(Site, Sample.site_id == Site.id)
                                  .where(Site.code == "ZJ", Sample.derivation == "primary",
                                         Sample.status.in_(("collected", "in_storage")))
                                  .order_by(Sample.id.desc()))
        accession = sample.accession
    wide = _wide_box(live_server)
    return {
        "station": "/station/", "scanner-setup": "/station/setup", "storage": "/storage/",
        "box-map-9x9": f"/storage/units/{box}", "box-map-8x12": f"/storage/units/{wide}",
        "rack-import": f"/storage/units/{wide}/rack", "bulk-placement": "/storage/bulk",
        "participants": "/participants/", "participant": f"/participants/{code}",
        "sample": f"/samples/{accession}",
        "register": f"/samples/register/{planned[0]}/{planned[1]}", "process": f"/samples/{blood}/process",
        "worklist": "/worklists/visits", "sample-grid": "/worklists/samples?site=ZJ",
        "shipments": "/shipments/",
    }


def test_bench_pages_fit_a_tablet_at_800_px(browser, live_server) -> None:
    context = browser.new_context(viewport={"width": 800, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        log_in(page, live_server, "labmanager")
        ARTIFACTS.mkdir(exist_ok=True)
        wide = []
        for name, path in _pages(live_server).items():
            response = page.goto(f"{live_server.url}{path}")
            assert response is not None and response.ok, (name, path, response and response.status)
            page.screenshot(path=str(ARTIFACTS / f"tablet-800-{name}.png"), full_page=True)
            width = page.evaluate("() => [document.documentElement.scrollWidth, "
                                  "document.documentElement.clientWidth]")
            if width[0] > width[1]:
                wide.append((name, width))
            logout = page.get_by_role("button", name="Log out").bounding_box()
            assert logout is not None and logout["x"] + logout["width"] <= 800, (name, logout)
        assert wide == [], f"pages wider than the screen: {wide}"
        page.goto(f"{live_server.url}/storage/units/{_wide_box(live_server)}")
        last = page.get_by_role("columnheader", name="12", exact=True).bounding_box()
        assert last is not None and last["x"] + last["width"] <= 800
    finally:
        context.close()
