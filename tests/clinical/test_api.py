"""JSON API under /api/v1/clinical."""

from __future__ import annotations

import io

from lims.clinical import redcap
from tests.conftest import PASSWORD


def test_participant_endpoints_qol_and_timeline(login, course) -> None:
    client = login("researcher")
    a = client.get("/api/v1/clinical/participants/ZJ-850/endpoints").get_json()
    b = client.get("/api/v1/clinical/participants/zj-850/endpoints?variant=B").get_json()
    assert (a["variant"], a["dfs_time"], a["dfs_event"],
            a["dfs_event_type"]) == ("A", 216, True, "LOCAL_REGROWTH")
    # salvage was R1: counts under B too
    assert (b["variant"], b["dfs_event_type"]) == ("B", "LOCAL_REGROWTH")
    assert a["os_time"] == 600 and a["os_event"] is True and a["ccr_cre1"] is True and a["pcr"] is False
    assert a["first_failure"] == "local" and a["rand_date"] is None  # researchers see study days, not dates
    qol = client.get("/api/v1/clinical/participants/ZJ-850/qol").get_json()
    assert round(qol["QLQ-C30"][0]["QL2"], 1) == 66.7 and qol["FACT-E"] == []
    marks = client.get("/api/v1/clinical/participants/ZJ-850/timeline").get_json()
    death = next(m for m in marks if m["label"] == "Death (disease)")
    assert death["date"] is None and death["day"] == a["os_time"]
    pi = login("pi")
    assert pi.get("/api/v1/clinical/participants/ZJ-850/endpoints").get_json()["rand_date"] == "2025-03-31"
    marks = pi.get("/api/v1/clinical/participants/ZJ-850/timeline").get_json()
    assert {"lane": "Disease", "date": "2026-08-28", "day": 600, "end": None, "end_day": None,
            "label": "Death (disease)", "kind": "death"} in marks
    everyone = client.get("/api/v1/clinical/endpoints").get_json()
    assert "ZJ-850" in {row["participant_id"] for row in everyone}


def test_endpoints_need_a_clinical_role_and_a_known_participant(client, login, course) -> None:
    assert client.get("/api/v1/clinical/endpoints").status_code == 401
    tech = login("technician")
    assert tech.get("/api/v1/clinical/participants/ZJ-850/endpoints").status_code == 403
    pi = login("pi")
    assert pi.get("/api/v1/clinical/participants/XX-1/endpoints").status_code == 404
    assert pi.get("/api/v1/clinical/endpoints?variant=C").status_code == 422


def test_import_upload_returns_the_report(login, course, session, study) -> None:
    client = login("data_manager")
    export = redcap.export_redcap(session, study)
    broken = export.replace(b"ZJ-850,cre1_arm_1", b"ZJ-999,cre1_arm_1")
    refused = client.post("/api/v1/clinical/imports", data={"format": "redcap", "password": PASSWORD,
                                                            "files": (io.BytesIO(broken), "x.csv")},
                          content_type="multipart/form-data")
    assert refused.status_code == 422 and refused.get_json()["message"].startswith("nothing was imported")
    body = refused.get_json()["report"]
    assert body["applied"] is False
    assert {"file": "x.csv", "field": "record_id", "value": "ZJ-999",
            "reason": "unknown participant in this study"} \
        .items() <= body["problems"][0].items()
    same = client.post("/api/v1/clinical/imports",
                       data={"format": "redcap", "password": PASSWORD, "files": (io.BytesIO(export), "x.csv"),
                                                         "mapping": (io.BytesIO(redcap.default_mapping_text()
                                                                                .encode()),
                                                                     "m.yaml")},
                       content_type="multipart/form-data")
    assert same.status_code == 200, same.get_json()
    assert same.get_json()["changes"] == 0 and same.get_json()["applied"] is True
    tables = client.post("/api/v1/clinical/imports",
                         data={"format": "tables", "password": PASSWORD, "files": (
        io.BytesIO(b"participant_id,seq,date,overall\nZJ-850,3,2025-07-01,cCR\n"), "cre.csv")},
        content_type="multipart/form-data")
    assert tables.status_code == 200 and tables.get_json()["inserted"] == 1
    runs = client.get("/api/v1/clinical/imports").get_json()
    assert runs[0]["by"] == "data_manager" and runs[0]["inserted"] == 1
    assert login("pi").post("/api/v1/clinical/imports", data={}).status_code == 403
    unsigned = login("data_manager").post("/api/v1/clinical/imports", data={"format": "tables", "files": (
        io.BytesIO(b"participant_id,seq,date,overall\n"), "cre.csv")}, content_type="multipart/form-data")
    assert unsigned.status_code == 422 and "password" in unsigned.get_json()["errors"]["multipart"]


def test_data_queries_per_site(login, course) -> None:
    dm = login("data_manager")
    rows = dm.get("/api/v1/clinical/queries?site=ZJ&as_of=2026-06-01").get_json()
    assert {"site": "ZJ", "participant": "ZJ-850", "kind": "SAE", "table": "adverse_events",
            "field": "ethics_reported_on", "value": "2025-03-16",
            "reason": "serious Pneumonitis reported 20 days after onset (allowed 7)"} in rows
    assert dm.get("/api/v1/clinical/queries?site=NB&as_of=2026-06-01").get_json() == []
    assert login("researcher").get("/api/v1/clinical/queries").status_code == 403
