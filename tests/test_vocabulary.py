"""Readable names: codes and field names are shown by name on pages and in messages, from one place."""

from __future__ import annotations

from datetime import date

from lims.core.vocabulary import field_label, label, problem_text


def test_codes_and_fields_have_readable_names() -> None:
    assert label("checked_out", "status") == "checked out" and label("in_storage") == "in storage"
    assert label("ln2_tank", "kind") == "liquid nitrogen tank"
    assert field_label("precentrifugation_temp_c") == "temperature before centrifugation (°C)"
    assert field_label("kit-12-collected_at") == "collection time"
    assert problem_text("form", "nothing was filled in") == "nothing was filled in"
    assert problem_text("spin1_g", "is impossible") == "first spin force (g): is impossible"
    assert label("SOMETHING_NEW") == "something new"


def test_pages_show_strata_and_statuses_by_name(login, make_participant) -> None:
    make_participant(code="ZJ-733", stratum="CCR_WW", rt_start_on=date(2025, 1, 20))
    client = login("researcher")
    listing = client.get("/participants/?q=ZJ-733").get_data(as_text=True)
    assert "cCR, randomised to watch and wait" in listing and "CCR_WW</td>" not in listing
    page = client.get("/participants/ZJ-733").get_data(as_text=True)
    assert "cCR, randomised to watch and wait" in page
