"""A person logs in and finds the demo's participants, their time points and samples."""

from __future__ import annotations

from tests.e2e.conftest import log_in


def test_login_then_participants_timepoints_and_samples(page, live_server) -> None:
    page.goto(live_server.url)
    assert page.get_by_role("heading", name="Log in to Trialbank").is_visible()
    log_in(page, live_server, "tech.zj")
    page.get_by_role("heading", name="Participants").wait_for()
    page.get_by_label("Search").fill("ZJ-001")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="ZJ-001").click()
    page.get_by_role("heading", name="Participant ZJ-001").wait_for()
    assert page.get_by_role("row", name="BASELINE").is_visible()
    first_sample = page.locator("ul.kit a").first
    accession = first_sample.inner_text()
    first_sample.click()
    page.get_by_role("heading", name=f"Sample {accession}").wait_for()
    assert page.get_by_role("heading", name="Custody history").is_visible()
