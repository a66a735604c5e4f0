"""Export safety: text a spreadsheet would evaluate is written as text in every CSV and XLSX Trialbank writes.

A marker whose code, name and assay are formulas, results whose run and operator are formulas, an adverse
event whose term is one and an import file named like one go through the dataset export (CSV and XLSX, data
and dictionary), the marker catalogue, the REDCap export, the clinical endpoints CSV, the audit trail CSV and
the shipment manifest CSV. Negative numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
import zipfile
from typing import Any

import openpyxl
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lims.clinical import redcap
from lims.clinical.importer import import_tables
from lims.core.spreadsheet import (
    TRIGGERS,
    csv_text,
    frame_csv,
    frame_xlsx,
    needs_neutralising,
    neutralise,
    restore,
)
from lims.markers.export import ExportQuery, export_dataset
from lims.markers.importer import import_results
from lims.markers.service import catalogue_csv, import_catalogue, save_marker
from lims.shipments.manifests import manifest_csv
from lims.shipments.models import Shipment, ShipmentItem

FORMULA_CODE = "@SUM(A1)"
FORMULA_NAME = "=1+2"
FORMULA_ASSAY = "+cmd|' /C calc'!A0"
DDE = "=cmd|' /C calc'!A0"


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def _assert_safe_csv(text: str) -> None:
    """No cell of a CSV would be evaluated by a spreadsheet."""
    dangerous = [c for c in _cells(text) if c[:1] in TRIGGERS and needs_neutralising(c)]
    assert dangerous == [], dangerous[:5]


# ----- the rule ---------------------------------------------------------------------------------------------
@given(st.text(max_size=20))
def test_neutralise_is_undone_by_restore_and_leaves_nothing_to_evaluate(text: str) -> None:
    safe = neutralise(text)
    assert restore(safe) == text
    assert safe[:1] not in TRIGGERS or not needs_neutralising(safe)


@pytest.mark.parametrize("text", ["=1+2", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "'=1", DDE])
def test_formula_text_gets_an_apostrophe(text: str) -> None:
    assert neutralise(text) == "'" + text and restore(neutralise(text)) == text


@pytest.mark.parametrize("value", [-1.5, -3, "-1.5", "+2", "1e-5", "plain", "", None, 0])
def test_numbers_and_plain_text_are_left_alone(value: Any) -> None:
    assert neutralise(value) == value


def test_frame_csv_neutralises_text_cells_and_names_but_not_numbers() -> None:
    frame = pd.DataFrame({"=col": ["=1+2", "ok", None], "n": [-1.5, 2.0, -3.0],
                          "k": pd.Categorical(["@x", "y", "@x"])})
    back = pd.read_csv(io.StringIO(frame_csv(frame)), keep_default_na=False)
    assert list(back.columns) == ["'=col", "n", "k"]
    assert back["'=col"].tolist() == ["'=1+2", "ok", ""] and back["k"].tolist() == ["'@x", "y", "'@x"]
    assert back["n"].tolist() == [-1.5, 2.0, -3.0] and back["n"].dtype == float
    assert csv_text(["=h"], [["-1", "-1+1", -1]]) == "'=h\r\n-1,'-1+1,-1\r\n"


def test_frame_xlsx_writes_formulas_as_text_and_numbers_as_numbers() -> None:
    frame = pd.DataFrame({"=col": ["=1+2", "plain", "bell\x07"], "n": [-1.5, 2, None]})
    sheet = openpyxl.load_workbook(io.BytesIO(frame_xlsx(frame))).active
    cells = {c.coordinate: c for row in sheet.iter_rows() for c in row}
    assert cells["A1"].value == "=col" and cells["A1"].data_type == "s" and cells["A1"].quotePrefix
    assert cells["A2"].value == "=1+2" and cells["A2"].data_type == "s" and cells["A2"].quotePrefix
    assert cells["A3"].value == "plain" and not cells["A3"].quotePrefix
    assert cells["A4"].value == "bell\ufffd"  # a control character XLSX cannot hold
    assert cells["B2"].value == -1.5 and cells["B2"].data_type == "n" and cells["B4"].value is None


# ----- every writer -----------------------------------------------------------------------------------------
@pytest.fixture()
def formulas(session: Any, edge: dict[str, Any], user: Any) -> dict[str, Any]:
    """A formula marker with results (one negative) imported from a file named like a formula."""
    save_marker(session, {"code": FORMULA_CODE, "name": FORMULA_NAME, "category": "cytokine", "unit": "ratio",
                          "assay": FORMULA_ASSAY, "specimen_types": ["SERUM"], "transform": "none"})
    serum = edge["accessions"]["SERUM"]
    text = ("sample,marker,value,unit,run_id,operator\n"
            f'{serum},{FORMULA_CODE},-1.5,ratio,-2+3,"{DDE}"\n{serum},IL6,4.2,pg/mL,R1,ana\n')
    import_results(session, text.encode(), filename="=HYPERLINK(1).csv", by=user("data_manager"))
    return edge


@pytest.mark.parametrize("form", ["long", "wide"])
def test_dataset_csv_and_dictionary_hold_no_live_formula(session, study, formulas, user, form) -> None:
    out = export_dataset(session, study, ExportQuery(form=form, format="csv", outcomes=[]), by=user("pi"))
    with zipfile.ZipFile(io.BytesIO(out.content)) as zf:
        data, dictionary = zf.read("data.csv").decode(), zf.read("data_dictionary.csv").decode()
    for text in (data, dictionary):
        _assert_safe_csv(text)
    assert f"'{FORMULA_CODE}" in data and f"'{FORMULA_CODE}" in dictionary
    if form == "wide":
        assert f"'{FORMULA_NAME}" in dictionary  # the marker's name labels its column
    frame = pd.read_csv(io.StringIO(data))
    values = frame["value"] if form == "long" else frame[f"'{FORMULA_CODE}"]
    assert -1.5 in values.tolist(), "a negative result stays a number"


def test_dataset_xlsx_holds_text_not_formulas(session, study, formulas, user) -> None:
    out = export_dataset(session, study, ExportQuery(form="long", format="xlsx", outcomes=[]), by=user("pi"))
    with zipfile.ZipFile(io.BytesIO(out.content)) as zf:
        book = openpyxl.load_workbook(io.BytesIO(zf.read("data.xlsx")))
        dictionary = zf.read("data_dictionary.csv").decode()
    cells = [c for row in book.active.iter_rows() for c in row if c.value is not None]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    texts = {c.value: c for c in cells if isinstance(c.value, str)}
    assert texts[FORMULA_CODE].quotePrefix and texts[FORMULA_CODE].data_type == "s"
    assert -1.5 in [c.value for c in cells if c.data_type == "n"]
    _assert_safe_csv(dictionary)


def test_catalogue_csv_is_safe_and_round_trips(session, formulas) -> None:
    text = catalogue_csv(session)
    _assert_safe_csv(text)
    assert f"'{FORMULA_CODE}" in text and f"'{FORMULA_NAME}" in text
    assert import_catalogue(session, text.encode(), filename="catalogue.csv") >= 4
    from lims.markers.service import get_marker

    marker = get_marker(session, FORMULA_CODE)
    assert (marker.code, marker.name, marker.assay) == (FORMULA_CODE, FORMULA_NAME, FORMULA_ASSAY)


def test_redcap_export_is_safe_and_reads_back_the_same_text(session, study, edge, user) -> None:
    report = import_tables(session, study, {"adverse_events.csv": (
        b"participant_id,term,grade,onset_date\nZJ-777,=1+2,1,2025-02-01\n")}, by=user("data_manager"))
    assert report.applied
    export = redcap.export_redcap(session, study)
    _assert_safe_csv(export.decode())
    assert "'=1+2" in export.decode()
    again = redcap.import_redcap(session, study, "export.csv", export, by=user("data_manager"))
    assert again.applied and again.problems == [] and again.changes == 0, ("the apostrophe is not part of "
                                                                           "the term")


def test_endpoints_csv_is_safe(login, edge) -> None:
    response = login("pi").get("/clinical/endpoints.csv")
    assert response.status_code == 200
    _assert_safe_csv(response.get_data(as_text=True))


def test_audit_csv_is_safe(login, formulas) -> None:
    response = login("admin").get("/audit/export.csv")
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "'=HYPERLINK(1).csv" in text
    _assert_safe_csv(text)


def test_manifest_csv_is_safe() -> None:
    item = ShipmentItem(accession="TB-9000001-G", participant_code="ZJ-777", sample_type_code="SERUM",
                        quantity=-1.0, unit="ml", box_barcode="=1+2", from_location="@A1")
    text = manifest_csv(Shipment(items=[item]))
    _assert_safe_csv(text)
    assert "'=1+2" in text and "'@A1" in text and ",-1," in text
