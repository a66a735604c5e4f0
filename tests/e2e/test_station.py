"""A technician scans tubes at the scan station the way a USB scanner does: code, then Enter."""

from __future__ import annotations

from sqlalchemy import select

from lims.extensions import db
from lims.participants.models import Participant
from lims.samples.models import Sample
from lims.studies.models import Site
from tests.e2e.conftest import log_in


def _stored_zj_samples(live_server, n: int) -> list[str]:
    with live_server.app.app_context():
        rows = db.session.scalars(
            select(Sample.accession).join(Participant, Sample.participant_id == Participant.id)
            .join(Site, Participant.site_id == Site.id)
            .where(Site.code == "ZJ", Sample.status == "in_storage", Sample.freeze_thaw_count == 0)
            .order_by(Sample.id.desc()).limit(n)
        ).all()
    assert len(rows) == n
    return list(rows)


def test_scan_thaw_and_refusal(page, live_server) -> None:
    good, second, third = _stored_zj_samples(live_server, 3)
    log_in(page, live_server, "tech.zj")
    page.get_by_role("link", name="Scan station").click()
    page.get_by_role("heading", name="Scan station").wait_for()
    scan = page.get_by_label("Scan barcode")
    assert scan.evaluate("el => el === document.activeElement"), "the scan field must have the focus"

    page.get_by_label("Thaw").check()
    scan.press_sequentially(good.lower())
    scan.press("Enter")
    panel = page.get_by_role("status", name="Scan result")
    panel.get_by_text(f"{good}: thawed: now 1 freeze-thaw cycle").wait_for()
    assert "ok" in panel.get_attribute("class")
    assert scan.evaluate("el => el === document.activeElement") and scan.input_value() == ""

    scan.press_sequentially(good[:-1] + ("Z" if good[-1] != "Z" else "Y"))
    scan.press("Enter")
    panel.get_by_text("check character").wait_for()
    assert "bad" in panel.get_attribute("class")

    page.get_by_label("Batch mode").check()
    handled = int(panel.get_attribute("data-handled") or 0)
    for code in (second, third, second):  # typed back to back, as a scanner does
        scan.press_sequentially(code)
        scan.press("Enter")
    page.wait_for_function("() => Number(document.querySelector('#feedback').dataset.handled) >= "
                           f"{handled + 3}")
    panel.get_by_text("already in this batch").wait_for()
    assert page.get_by_role("heading", name="Batch: 2 scanned").is_visible()
    page.get_by_role("button", name="Apply to all").click()
    panel.get_by_text("Applied thaw to 2 samples").wait_for()

    with live_server.app.app_context():
        counts = db.session.scalars(select(Sample.freeze_thaw_count)
                                    .where(Sample.accession.in_([good, second, third])))
        assert sorted(counts) == [1, 1, 1]
