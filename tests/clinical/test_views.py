"""Clinical pages: endpoints overview, participant course with timeline, data queries, import page."""

from __future__ import annotations

import io
import re
from datetime import date

from sqlalchemy import func, select

from lims.accounts.models import Signature
from lims.accounts.service import signatures_for
from lims.clinical.models import CRE, ImportRun
from tests.clinical.conftest import day
from tests.conftest import PASSWORD


def test_participant_page_shows_timeline_endpoints_qol_and_toxicity(login, course) -> None:
    client = login("pi")
    page = client.get("/clinical/ZJ-850")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<h1>Clinical course of ZJ-850</h1>" in html
    assert '<svg class="timeline" role="img"' in html
    for label in ("CRE1: cCR", "Randomised: CCR_WW", "local regrowth", "salvage surgery R1", "distant",
                  "Death (disease)", "Pneumonitis G3 (serious)", "RT 41.4 Gy / 23 fx"):
        assert label in html, label
    # DFS from randomisation (day 85): the regrowth on day 300 under A, and under B too (salvage was R1).
    assert html.count(f"{300 - 85 + 1} d, LOCAL_REGROWTH") == 2
    assert "600 d, death" in html
    # QLQ-C30 global health: items 29, 30 = 4, 6 -> RS 5 -> 66.7
    assert "66.7" in html
    assert re.search(r"<th scope=\"row\">Pneumonitis</th><td>3</td><td>3</td><td>—</td>", html)


def test_participant_page_needs_a_clinical_role(login, course) -> None:
    assert login("technician").get("/clinical/ZJ-850").status_code == 403


def test_unknown_participant_is_404(login) -> None:
    assert login("pi").get("/clinical/ZJ-000").status_code == 404


def test_overview_and_csv(login, course) -> None:
    client = login("researcher")
    html = client.get("/clinical/?variant=B").get_data(as_text=True)
    assert "variant <strong>B</strong>" in html and 'href="/clinical/ZJ-850"' in html
    csv = client.get("/clinical/endpoints.csv").get_data(as_text=True)
    assert csv.splitlines()[0].startswith("participant_id,site,stratum")
    assert "ZJ-850" in csv
    assert client.get("/clinical/?variant=C").status_code == 400


def test_quality_page_lists_queries_per_site(login, course) -> None:
    client = login("data_manager")
    html = client.get("/clinical/quality?site=ZJ&as_of=2026-06-01").get_data(as_text=True)
    assert "<h1>Data queries: site ZJ</h1>" in html
    assert "serious Oesophagitis (onset 2025-02-04) not reported to the ethics committee" in html
    assert "serious Pneumonitis reported 20 days after onset (allowed 7)" in html
    other = client.get("/clinical/quality?site=NB&as_of=2026-06-01").get_data(as_text=True)
    assert "ZJ-850" not in other
    assert login("researcher").get("/clinical/quality").status_code == 403


def test_import_page_reports_problems_and_imports(login, course, session) -> None:
    client = login("data_manager")
    assert client.get("/clinical/import").status_code == 200
    bad = client.post("/clinical/import", data={"format": "tables", "password": PASSWORD, "files": (
        io.BytesIO(b"participant_id,seq,date,overall\nZJ-850,3,2026-99-01,cCR\n"), "cre.csv")},
        content_type="multipart/form-data")
    assert bad.status_code == 422
    assert "Not imported: 1 problem(s)" in bad.get_data(as_text=True)
    good = client.post("/clinical/import", data={"format": "tables", "password": PASSWORD, "files": (
        io.BytesIO(b"participant_id,seq,date,overall\nZJ-850,3,2025-07-01,cCR\n"), "cre.csv")},
        content_type="multipart/form-data")
    assert good.status_code == 200 and "1 added" in good.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(CRE).where(CRE.seq == 3)) == 1
    run_id = session.scalar(select(func.max(ImportRun.id)))
    signed = signatures_for(session, "clinical_import", run_id)
    assert [(s.meaning, s.signer_name) for s in signed] == [("performed", "Data_Manager")]
    wrong = client.post("/clinical/import", data={"format": "tables", "password": "not it", "files": (
        io.BytesIO(b"participant_id,seq,date,overall\nZJ-850,4,2025-09-01,cCR\n"), "cre.csv")},
        content_type="multipart/form-data")
    assert wrong.status_code == 403 and "signature was not applied" in wrong.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(CRE).where(CRE.seq == 4)) == 0
    assert login("pi").get("/clinical/import").status_code == 403


def test_data_queries_service(session, study, course) -> None:
    from lims.clinical.quality import data_queries

    queries = data_queries(session, study, "ZJ", as_of=date(2026, 6, 1))
    kinds = {(q.participant, q.kind) for q in queries}
    assert ("ZJ-850", "SAE") in kinds
    # CRE3 (planned after CRE2, before the regrowth) was never recorded.
    assert any(q.kind == "missing" and q.value == 3 for q in queries)
    # Nothing expected after the regrowth: surveillance ends at the first event.
    assert not any(q.kind == "missing" and q.value and q.value >= 5 for q in queries)
    assert day(300) < date(2026, 6, 1)


def test_cre_outside_its_window_is_a_query(session, study, course) -> None:
    from lims.clinical.quality import data_queries

    # CRE2 is planned at EOT + 98 days (+/- 7); EOT being day 40, day 160 is late.
    cre2 = session.scalar(select(CRE).where(CRE.participant_id == course.id, CRE.seq == 2))
    cre2.date = day(160)
    window = next(v for v in course.visits if v.timepoint.code == "CRE2")
    assert window.window_end < day(160)
    queries = data_queries(session, study, "ZJ", as_of=date(2026, 6, 1))
    assert any(q.table == "cre" and q.kind == "window" and q.reason.startswith("CRE2 on 2025-06-14 outside")
               for q in queries)
    cre2.date = day(140)
    assert not any(q.table == "cre" and q.kind == "window"
               for q in data_queries(session, study, "ZJ", as_of=date(2026, 6, 1)))


def test_locked_clinical_data_refuse_imports_until_unlocked(login, course, session) -> None:
    client = login("data_manager")
    refused = client.post("/clinical/ZJ-850/lock", data={"reason": "data cut", "password": "wrong"})
    assert refused.status_code == 403
    locked = client.post("/clinical/ZJ-850/lock", data={"reason": "primary analysis data cut",
                                                         "password": PASSWORD, "meaning": "approved"},
                         follow_redirects=True)
    html = locked.get_data(as_text=True)
    assert "The clinical data of ZJ-850 are locked." in html and "primary analysis data cut" in html
    upload = {"format": "tables", "password": PASSWORD, "files": (
        io.BytesIO(b"participant_id,seq,date,overall\nZJ-850,3,2025-07-01,cCR\n"), "cre.csv")}
    blocked = client.post("/clinical/import", data=upload, content_type="multipart/form-data")
    assert blocked.status_code == 422 and "clinical data locked on" in blocked.get_data(as_text=True)
    assert login("pi").post("/clinical/ZJ-850/unlock", data={"reason": "x"}).status_code == 403
    client = login("data_manager")
    client.post("/clinical/ZJ-850/unlock", data={"reason": "query resolved", "password": PASSWORD})
    upload["files"] = (io.BytesIO(b"participant_id,seq,date,overall\nZJ-850,3,2025-07-01,cCR\n"), "cre.csv")
    assert client.post("/clinical/import", data=upload, content_type="multipart/form-data").status_code == 200
    assert [s.record_type for s in session.scalars(select(Signature).order_by(Signature.id))][-3:] == [
        "clinical_lock", "clinical_unlock", "clinical_import"]
