"""A researcher screens serum markers against DFS, opens a marker's report and downloads its KM figure."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.conftest import log_in


def test_researcher_runs_dfs_screen_and_downloads_a_figure(page, live_server, tmp_path: Path) -> None:
    log_in(page, live_server, "researcher")
    page.get_by_role("link", name="Associations").click()
    page.get_by_role("heading", name="Marker–outcome associations").wait_for()
    page.get_by_label("Outcome", exact=True).select_option("dfs_a")
    page.get_by_label("Time point", exact=True).select_option("BASELINE")
    page.get_by_label("Sample type", exact=True).select_option("SERUM")
    page.get_by_label("Marker set", exact=True).select_option("cytokine")
    page.get_by_role("button", name="Run analysis").click()
    page.get_by_role("heading", name=re.compile(r"Analysis run \d+: DFS \(variant A\)")).wait_for()
    assert page.get_by_text("DFS only among randomised cCR participants").is_visible()
    volcano = page.get_by_role("img", name=re.compile("Volcano plot"))
    volcano.wait_for()
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=volcano.element_handle())

    page.get_by_role("link", name="IL6", exact=True).click()
    page.get_by_role("heading", name="IL6: DFS (variant A)").wait_for()
    # the KM by median split needs DFS events, which the small demo may not have: the trajectories always
    # exist
    trajectory = page.get_by_role("img", name="Marker over time of IL6")
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=trajectory.element_handle())
    assert trajectory.evaluate("(img) => img.naturalWidth") > 300
    if page.get_by_text("No DFS (variant A) events").count() == 0:
        km = page.get_by_role("img", name="Kaplan-Meier by median split of IL6")
        page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=km.element_handle())

    figure = page.get_by_role("figure").filter(has=trajectory)
    with page.expect_download() as info:
        figure.get_by_role("link", name="PNG").click()
    download = info.value
    assert download.suggested_filename.endswith("-IL6-trajectory.png")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def _wait_for_images(page) -> None:
    page.wait_for_function("() => [...document.images].every((img) => img.complete)", timeout=120000)
    broken = page.evaluate("() => [...document.images].filter((img) => img.naturalWidth === 0).map((i) => "
                           "i.alt)")
    assert broken == [], broken


def test_pi_reads_the_readout_and_a_marker_report(page, live_server) -> None:
    """Screenshots of the trial readout and of a marker report are kept in test-artifacts/."""
    from tests.e2e.conftest import ARTIFACTS

    log_in(page, live_server, "pi")
    page.get_by_role("link", name="Trial endpoints").click()
    page.get_by_role("heading", name="Table 1: baseline characteristics by arm").wait_for()
    for heading in ("Participant flow (CONSORT) and samples available (REMARK)",
                    "Competing risks: first failure by cause and arm", "Median follow-up"):
        assert page.get_by_role("heading", name=heading).is_visible()
    flow = page.get_by_role("img", name="Participant flow diagram")
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=flow.element_handle(),
                           timeout=120000)
    _wait_for_images(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "readout.png"), full_page=True)

    page.get_by_role("link", name="Associations").click()
    page.get_by_label("Outcome", exact=True).select_option("ccr")
    page.get_by_label("Time point", exact=True).select_option("BASELINE")
    page.get_by_label("Sample type", exact=True).select_option("SERUM")
    page.get_by_label("Marker set", exact=True).select_option("cytokine")
    page.get_by_role("button", name="Run analysis").click()
    page.get_by_role("heading", name=re.compile(r"Analysis run \d+: cCR at CRE1")).wait_for()
    page.get_by_role("link", name="IL6", exact=True).click()
    page.get_by_role("heading", name="IL6: cCR at CRE1").wait_for()
    assert page.get_by_role("heading", name="Logistic model and ROC").is_visible()
    roc = page.get_by_role("img", name="ROC curve of IL6")
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=roc.element_handle(),
                           timeout=120000)
    _wait_for_images(page)
    page.screenshot(path=str(ARTIFACTS / "marker-report.png"), full_page=True)
    assert (ARTIFACTS / "readout.png").stat().st_size > 50_000
