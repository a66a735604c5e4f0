"""A PI builds a marker signature for cCR on the demo trial, watches it run and downloads the report."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import log_in


def test_pi_runs_a_quick_signature_and_downloads_the_report(page, live_server, tmp_path: Path) -> None:
    log_in(page, live_server, "pi")
    page.get_by_role("link", name="Signatures").click()
    page.get_by_role("heading", name="Signatures", exact=True).wait_for()
    page.get_by_label("Outcome").select_option("ccr")
    page.get_by_label("Time point").select_option("EOT")
    page.get_by_label("SERUM · Serum").check()
    page.get_by_label("Outer folds").fill("3")
    page.get_by_label("Inner folds (penalty tuning)").fill("2")
    page.get_by_label("Age (per year)").check()
    page.get_by_label("Validation").select_option("quick")
    page.get_by_role("button", name="Run model").click()
    page.get_by_role("heading", name="Signature run #").wait_for()
    # the run computes in a background thread; the page refreshes itself until the result is in
    page.get_by_role("heading", name="Validated performance").wait_for(timeout=90000)
    assert page.get_by_role("rowheader", name="Cross-validated AUC (95% CI)").is_visible()
    assert page.get_by_role("heading", name="Marker selection frequency").is_visible()
    selection = page.get_by_role("table", name="Marker selection frequency")
    assert selection.get_by_role("cell", name="IL6", exact=True).is_visible()
    calibration = page.get_by_role("img",
                                   name="Calibration plot: observed against cross-validated predicted "
                                        "probability")
    decision = page.get_by_role("img",
                                name="Decision curve: net benefit of the model, operating on all and on none")
    for figure in (calibration, decision):  # images load after the page: wait until each has rendered
        figure.wait_for()
        page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=figure.element_handle())
    methods = page.locator("p.methods").inner_text()
    assert "nested cross-validation: 3-fold outer cross-validation" in methods
    with page.expect_download() as info:
        page.get_by_role("link", name="Download report (HTML)").click()
    report = tmp_path / "report.html"
    info.value.save_as(report)
    text = report.read_text(encoding="utf-8")
    assert methods.strip() in text and text.count("data:image/png;base64,") == 2
