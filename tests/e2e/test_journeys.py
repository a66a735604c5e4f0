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
            .where(Site.code == "ZJ", Visit.status == "planned",
                   TimePoint.code.in_(["CRE2", "CRE3", "CRE4", "FU12M"]))
            .order_by(Visit.planned_on).limit(1)
        ).one()
        box = db.session.scalar(select(StorageUnit.barcode).join(Site, StorageUnit.site_id == Site.id)
                                .where(Site.code == "ZJ", StorageUnit.kind == "box")
                                .order_by(StorageUnit.id.desc()))
    return row[0], row[1], box


def test_technician_journey(page, live_server) -> None:
    participant, timepoint, box = _planned_visit(live_server)
    log_in(page, live_server, "tech.zj")
    page.get_by_label("Search").fill(participant)
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=participant, exact=True).click()
    page.get_by_role("link", name=f"Register {timepoint} samples").click()
    page.get_by_role("heading", name=re.compile(f"Register samples: {participant}")).wait_for()

    today = date.today().isoformat()  # noqa: DTZ011 - the day the browser's user types, in its own zone
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
        page.get_by_role("button", name="Download labels").click()
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


def _serum_samples(live_server, n: int) -> list[str]:
    from lims.samples.models import Sample
    from lims.studies.models import SampleType

    with live_server.app.app_context():
        rows = db.session.scalars(
            select(Sample.accession).join(SampleType, Sample.sample_type_id == SampleType.id)
            .join(Participant, Sample.participant_id == Participant.id)
            .where(SampleType.code == "SERUM", Sample.status == "in_storage")
            .order_by(Sample.id.desc()).limit(n)).all()
    assert len(rows) == n
    return list(rows)


def test_researcher_journey(page, live_server, tmp_path) -> None:
    """(b) Import a marker file with an error, read the error, fix it, import, export a linked dataset."""
    first, second = _serum_samples(live_server, 2)
    broken = tmp_path / "il8-run-77.csv"
    broken.write_text("sample,marker,value,unit,run_id\n"
                      f"{first},IL8,12.5,pg/mL,run-77\n"
                      f"{second},IL8,9.1,kg,run-77\n")
    log_in(page, live_server, "researcher")
    page.get_by_role("link", name="Markers", exact=True).click()
    page.get_by_role("link", name=re.compile("Import results")).first.click()
    page.get_by_role("heading", name="Import marker results").wait_for()
    page.get_by_label("Results file").set_input_files(str(broken))
    page.get_by_role("button", name="Import results").click()
    page.get_by_role("heading", name="Import refused").wait_for()
    assert "Nothing was stored" in page.get_by_role("alert").inner_text()
    problem = page.get_by_role("row").filter(has_text="kg")
    assert problem.count() == 1 and "unit" in problem.inner_text()

    fixed = tmp_path / "il8-run-77-fixed.csv"
    fixed.write_text(broken.read_text().replace(",kg,", ",pg/mL,"))
    page.goto(f"{live_server.url}/markers/import")
    page.get_by_label("Results file").set_input_files(str(fixed))
    page.get_by_role("button", name="Import results").click()
    page.get_by_role("heading", name="Import accepted").wait_for()

    page.get_by_role("link", name="Markers", exact=True).click()
    page.get_by_role("link", name="Export a dataset").click()
    page.get_by_label("Markers").select_option(["IL8"])
    page.get_by_label("Layout").select_option("long")
    with page.expect_download() as info:
        page.get_by_role("button", name="Export dataset").click()
    import io
    import json
    import zipfile

    with zipfile.ZipFile(io.BytesIO(info.value.path().read_bytes())) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        data = zf.read("data.csv").decode()
    assert manifest["query"]["markers"] == ["IL8"] and "9.1" in data and "12.5" in data
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "journey_researcher_export.png"), full_page=True)


def test_pi_journey(page, live_server, tmp_path) -> None:
    """(c) Open the associations page for DFS, open a marker's report, download a figure."""
    log_in(page, live_server, "pi")
    page.get_by_role("link", name="Associations").click()
    page.get_by_role("heading", name="Marker–outcome associations").wait_for()
    page.get_by_label("Outcome", exact=True).select_option("dfs_a")
    page.get_by_label("Time point", exact=True).select_option("BASELINE")
    page.get_by_label("Sample type", exact=True).select_option("SERUM")
    page.get_by_label("Marker set", exact=True).select_option("cytokine")
    page.get_by_role("button", name="Run analysis").click()
    page.get_by_role("heading", name=re.compile(r"Analysis run \d+: DFS \(variant A\)")).wait_for()
    volcano = page.get_by_role("img", name=re.compile("Volcano plot"))
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=volcano.element_handle())
    page.get_by_role("link", name="IL6", exact=True).click()
    page.get_by_role("heading", name="IL6: DFS (variant A)").wait_for()
    figure = page.get_by_role("figure").first
    image = figure.get_by_role("img")
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    with page.expect_download() as info:
        figure.get_by_role("link", name="SVG").click()
    saved = tmp_path / info.value.suggested_filename
    info.value.save_as(saved)
    assert saved.read_text().lstrip().startswith(("<?xml", "<svg"))
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "journey_pi_marker_report.png"), full_page=True)
