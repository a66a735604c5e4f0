"""Marker pages, JSON API and CLI: roles, catalogue editing, import upload with report, export download."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from sqlalchemy import func, select

from lims.markers.cli import export_command, import_catalogue_command, import_results_command
from lims.markers.models import ExportRun, Marker, MarkerResult

HEADER = "sample,marker,value,unit,qualifier\n"


def _count(session) -> int:
    return session.scalar(select(func.count(MarkerResult.id))) or 0


def test_catalogue_page_and_data_manager_edit(login, session, catalogue) -> None:
    client = login("researcher")
    page = client.get("/markers/")
    assert page.status_code == 200 and "IL6" in page.get_data(as_text=True)
    assert client.get("/markers/new").status_code == 403
    client = login("data_manager")
    assert "Add a marker" in client.get("/markers/new").get_data(as_text=True)
    form = {"code": "SCC_AG", "name": "SCC antigen", "category": "tumour_marker", "unit": "ng/mL",
            "specimen_types": ["SERUM"], "lod": "0.1", "lloq": "0.2", "uloq": "70", "transform": "log2"}
    assert client.post("/markers/new", data=form).status_code == 302
    assert session.scalar(select(Marker).where(Marker.code == "SCC_AG")).uloq == 70
    bad = client.post("/markers/new", data={**form, "code": "X1", "unit": "parsecs"})
    assert bad.status_code == 400 and "unknown unit" in bad.get_data(as_text=True)
    dup = client.post("/markers/new", data={**form, "code": "il6"})
    assert dup.status_code == 400 and "already exists" in dup.get_data(as_text=True)
    edit = client.get("/markers/IL6/edit").get_data(as_text=True)
    assert 'value="Interleukin-6"' in edit and '<option value="SERUM" selected>' in edit
    assert client.get("/markers/NOPE/edit").status_code == 404
    assert client.post("/markers/IL6/edit",
                       data={**form, "code": "IL6", "name": "IL-6 (serum)"}).status_code == 302
    assert session.scalar(select(Marker).where(Marker.code == "IL6")).name == "IL-6 (serum)"


def test_catalogue_import_page_all_or_nothing(login, session, catalogue) -> None:
    client = login("data_manager")
    good = ("code,name,category,unit,specimen_types,lod,transform\n"
            "TMB,Tumour mutational burden,TMB,mut/Mb,FFPE,,log2\nIL6,Interleukin "
            "6,cytokine,pg/mL,SERUM;CTDNA_PLASMA,0.4,log2\n")
    r = client.post("/markers/catalogue/import", data={"file": (io.BytesIO(good.encode()), "cat.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 302
    assert session.scalar(select(Marker).where(Marker.code == "IL6")).lod == 0.4
    bad = good + "NEW1,New,bogus,pg/mL,SERUM,,none\n"
    r = client.post("/markers/catalogue/import",
                    data={"file": (io.BytesIO(bad.replace("0.4", "0.7").encode()), "cat.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 422 and "category must be one of" in r.get_data(as_text=True)
    assert session.scalar(select(Marker).where(Marker.code == "IL6")).lod == 0.4
    assert session.scalar(select(Marker).where(Marker.code == "NEW1")) is None


def test_import_page_report_and_roles(login, session, catalogue, sampled) -> None:
    _, acc = sampled()
    assert login("technician").get("/markers/import").status_code == 403
    assert login("lab_manager").get("/markers/import").status_code == 403
    client = login("data_manager")
    text = HEADER + f"{acc['SERUM']},IL6,4,pg/mL,\n{acc['SERUM_2']},IL6,zero,pg/mL,\n"
    r = client.post("/markers/import", data={"file": (io.BytesIO(text.encode()), "lab.csv")},
                    content_type="multipart/form-data")
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "Nothing was stored" in html and "not a number" in html and _count(
        session) == 0
    text = HEADER + f"{acc['SERUM']},IL6,4,pg/mL,\n"
    r = client.post("/markers/import", data={"file": (io.BytesIO(text.encode()), "lab.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 200 and "1 result(s) stored" in r.get_data(as_text=True) and _count(session) == 1
    listing = client.get(f"/markers/results?marker=IL6&accession={acc['SERUM']}").get_data(as_text=True)
    assert "1 result" in listing and acc["SERUM"] in listing
    assert acc["SERUM"] in login("technician").get("/markers/results").get_data(as_text=True)
    assert "0 results" in login("technician_nb").get("/markers/results").get_data(as_text=True)
    assert login("technician_nb").get("/api/v1/markers/results").get_json() == []


def test_api_catalogue_results_import_export(login, session, catalogue, sampled) -> None:
    p, acc = sampled()
    client = login("data_manager")
    assert client.get("/api/v1/markers/").get_json()[0]["code"]
    r = client.post("/api/v1/markers/", json={"code": "NLR", "name": "Neutrophil-lymphocyte ratio",
                                              "category": "haematology", "unit": "ratio",
                                              "specimen_types": ["WHOLE_BLOOD"]})
    assert r.status_code == 201 and r.get_json()["transform"] == "none"
    assert client.post("/api/v1/markers/", json={"code": "NLR2"}).status_code == 422
    bad = HEADER + f"{acc['SERUM']},IL6,4,kg,\n"
    r = client.post("/api/v1/markers/imports", data={"file": (io.BytesIO(bad.encode()), "x.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 422 and r.get_json()["message"].startswith("nothing was imported")
    body = r.get_json()["report"]
    assert body["ok"] is False and body["problems"][0]["column"] == "unit"
    assert body["problems"][0]["row"] == 2 and _count(session) == 0
    good = HEADER + f"{acc['SERUM']},IL6,4,pg/mL,\n{acc['SERUM_2']},IL6,,pg/mL,<LOD\n"
    r = client.post("/api/v1/markers/imports", data={"file": (io.BytesIO(good.encode()), "x.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 201 and r.get_json()["results"] == 2
    page = client.get("/api/v1/markers/results?marker=IL6&page_size=1")
    assert page.status_code == 200 and len(page.get_json()) == 1
    assert json.loads(page.headers["X-Pagination"])["total"] == 2
    assert page.get_json()[0]["participant_id"] == p.code
    assert client.post("/api/v1/markers/exports", json={}).status_code == 403
    client = login("researcher")
    r = client.post("/api/v1/markers/exports", json={"form": "wide", "format": "parquet", "markers": ["IL6"]})
    assert r.status_code == 200 and r.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.data)) as zf:
        assert set(zf.namelist()) == {"data.parquet", "data_dictionary.csv", "manifest.json"}
    assert client.post("/api/v1/markers/exports", json={"dates": True}).status_code == 403
    assert client.post("/api/v1/markers/exports", json={"form": "tall"}).status_code == 422


def test_export_page_downloads_zip(login, session, catalogue, sampled) -> None:
    assert login("technician").get("/markers/export").status_code == 403
    client = login("pi")
    page = client.get("/markers/export").get_data(as_text=True)
    assert "Include calendar dates" in page
    r = client.post("/markers/export", data={"form": "long", "format": "csv", "dates": "yes"})
    assert r.status_code == 200 and r.mimetype == "application/zip"
    assert session.scalar(select(func.count(ExportRun.id))) == 1
    client = login("researcher")
    assert "Include calendar dates" not in client.get("/markers/export").get_data(as_text=True)
    r = client.post("/markers/export", data={"markers": ["NOPE"]})
    assert r.status_code == 400 and "unknown marker" in r.get_data(as_text=True)


def test_cli_import_and_export(runner, session, catalogue, sampled, tmp_path) -> None:
    _, acc = sampled()
    path = tmp_path / "r.csv"
    path.write_text(HEADER + f"{acc['SERUM']},IL6,4,pg/mL,\n")
    result = runner.invoke(import_results_command, [str(path), "--user", "monitor"])
    assert result.exit_code != 0 and "needs one of" in result.output
    result = runner.invoke(import_results_command, [str(path), "--user", "data_manager"])
    assert result.exit_code == 0, result.output
    assert "1 results" in result.output
    result = runner.invoke(import_results_command, [str(path), "--user", "data_manager"])
    assert result.exit_code == 1 and "already has a stored result" in result.output
    cat = tmp_path / "cat.csv"
    cat.write_text("code,name,category,unit,specimen_types\nSCC,SCC-Ag,tumour_marker,ng/mL,SERUM\n")
    assert runner.invoke(import_catalogue_command, [str(cat), "--user", "data_manager"]).exit_code == 0
    result = runner.invoke(export_command, ["--user", "researcher", "--marker", "IL6", "--form", "wide",
                                            "--format", "xlsx", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    zips = list(tmp_path.glob("*.zip"))
    assert len(zips) == 1
    with zipfile.ZipFile(zips[0]) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["query"]["markers"] == ["IL6"] and manifest["exported_by"]["username"] == "researcher"
    result = runner.invoke(export_command, ["--user", "researcher", "--dates", "--out", str(tmp_path)])
    assert result.exit_code != 0 and "study days" in result.output
    result = runner.invoke(export_command, ["--user", "pi", "--dates", "--no-outcomes", "--out",
                                            str(tmp_path / "dm.zip")])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(tmp_path / "dm.zip") as zf:
        assert "collection_date" in zf.read("data.csv").decode().splitlines()[0]


@pytest.mark.parametrize("path", ["/markers/", "/markers/results", "/markers/export", "/markers/import"])
def test_pages_need_login(client, path) -> None:
    r = client.get(path)
    assert r.status_code == 302 and "/login" in r.headers["Location"]
