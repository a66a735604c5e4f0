"""Marker pages in a browser: a researcher exports a dataset; a data manager sees why an import was
refused."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from tests.e2e.conftest import log_in


def test_researcher_exports_wide_dataset(page, live_server) -> None:
    log_in(page, live_server, "researcher")
    page.get_by_role("link", name="Markers", exact=True).click()
    page.get_by_role("heading", name="Marker catalogue").wait_for()
    page.get_by_role("link", name="Export a dataset").click()
    page.get_by_role("heading", name="Export a linked dataset").wait_for()
    assert page.get_by_label("Include calendar dates").count() == 0
    page.get_by_label("Markers").select_option(["IL6", "CTDNA_VAF"])
    page.get_by_label("Layout").select_option("wide")
    with page.expect_download() as info:
        page.get_by_role("button", name="Export dataset").click()
    content = Path(info.value.path()).read_bytes()
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        data = zf.read("data.csv").decode()
    assert sorted(manifest["query"]["markers"]) == ["CTDNA_VAF",
                                                    "IL6"] and manifest["query"]["form"] == "wide"
    assert data.splitlines()[0].startswith("participant_id,timepoint,")


def test_data_manager_sees_refused_import(page, live_server, tmp_path) -> None:
    bad = tmp_path / "results.csv"
    bad.write_text("sample,marker,value,unit\nTB-0000001-X,IL6,1,pg/mL\n")
    log_in(page, live_server, "datamanager")
    page.goto(f"{live_server.url}/markers/import")
    page.get_by_role("heading", name="Import marker results").wait_for()
    page.get_by_label("Results file").set_input_files(str(bad))
    page.get_by_role("button", name="Import results").click()
    page.get_by_role("heading", name="Import refused").wait_for()
    assert "Nothing was stored" in page.get_by_role("alert").inner_text()
    assert page.get_by_role("cell", name="check character", exact=False).count() == 1
