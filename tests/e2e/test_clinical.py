"""A PI opens the clinical endpoints, a participant's course on its timeline, and a data manager the
queries."""

from __future__ import annotations

from tests.e2e.conftest import log_in


def test_pi_sees_endpoints_and_a_timeline(page, live_server) -> None:
    log_in(page, live_server, "pi")
    page.get_by_role("link", name="Clinical").click()
    page.get_by_role("heading", name="Clinical endpoints").wait_for()
    assert page.get_by_role("heading", name="Response rates").is_visible()
    page.get_by_role("link", name="ZJ-001").click()
    page.get_by_role("heading", name="Clinical course of ZJ-001").wait_for()
    assert page.get_by_role("img", name="Timeline of ZJ-001").is_visible()
    assert page.get_by_role("heading", name="Endpoints").is_visible()
    page.get_by_text("Timeline as a list").click()
    assert page.get_by_role("cell",
                            name="CRE1: cCR").or_(page.get_by_role("cell",
                                                                   name="Enrolment")).first.is_visible()


def test_data_manager_filters_queries_by_site(page, live_server) -> None:
    log_in(page, live_server, "datamanager")
    page.goto(f"{live_server.url}/clinical/quality")
    page.get_by_role("heading", name="Data queries").wait_for()
    page.get_by_label("Site").select_option("NB")
    page.get_by_role("button", name="Show").click()
    page.get_by_role("heading", name="Data queries: site NB").wait_for()
