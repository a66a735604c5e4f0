"""In a real browser: a lab manager sets up a bench Zebra, a technician prints a sample's label on it from the
sample page; the ZPL that reaches the printer (a listener on 127.0.0.1) is drawn and its symbols decoded."""

from __future__ import annotations

from sqlalchemy import select

from lims.extensions import db
from lims.samples.models import Sample
from lims.studies.models import Site
from tests.e2e.conftest import ARTIFACTS, log_in
from tests.labels.helpers import decode, expected, on_dark
from tests.labels.zpl_render import render, to_image
from tests.printing.conftest import Listener


def _wz_sample(live_server) -> str:
    with live_server.app.app_context():
        return db.session.scalar(select(Sample.accession).join(Site, Sample.site_id == Site.id)
                                 .where(Site.code == "WZ", Sample.status == "in_storage").order_by(Sample.id))


def test_a_bench_zebra_is_set_up_and_prints_from_the_sample_page(page, live_server) -> None:
    zebra = Listener()
    try:
        log_in(page, live_server, "labmanager")
        page.get_by_role("link", name="Printing").click()
        page.get_by_role("link", name="Label printers").click()
        page.get_by_label("Site").select_option("WZ")
        page.get_by_label("Name", exact=True).fill("WZ bench Zebra")
        page.get_by_label("Bench (optional)").fill("Bench 1")
        page.get_by_label("Host").fill("127.0.0.1")
        page.get_by_label("Port").fill(str(zebra.port))
        page.get_by_label("Label stock (ZPL) or page layout (PDF)").select_option("38x13")
        page.get_by_label("Resolution").select_option("203")
        page.get_by_role("button", name="Add printer").click()
        page.get_by_role("cell", name="WZ bench Zebra", exact=True).wait_for()

        accession = _wz_sample(live_server)
        page.get_by_role("button", name="Log out").click()
        log_in(page, live_server, "tech.wz")
        page.goto(f"{live_server.url}/samples/{accession}")
        page.get_by_label("Printer",
                          exact=True).select_option(label="WZ · Bench 1 · WZ bench Zebra (38x13, 203 dpi)")
        page.get_by_label("Reprint reason").fill("label damaged in the freezer")
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator("#labels").screenshot(path=str(ARTIFACTS / "printing_sample_page_labels.png"))
        page.get_by_role("button", name="Print labels").click()
        page.get_by_role("heading", name="sent").wait_for()
        page.screenshot(path=str(ARTIFACTS / "printing_job_sent.png"), full_page=True)
        (received,) = zebra.wait(1)
    finally:
        zebra.close()
    labels = render(received.decode("ascii"))
    assert labels[0].datamatrix == [accession]
    assert decode(on_dark(to_image(labels[0]), 203)) == expected(accession, code128=False)
