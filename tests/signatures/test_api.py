"""JSON API of signature runs: queue, read, re-run, refuse bad input, guard by permission."""

from __future__ import annotations

from typing import Any

from tests.signatures.conftest import NOISE, SIGNAL

BODY = {"outcome": "ccr", "timepoint": "BASELINE", "sample_types": ["SERUM"], "markers": [SIGNAL, *NOISE],
        "outer_folds": 3, "inner_folds": 2, "mode": "quick", "thresholds": [0.2]}


def test_queue_read_and_rerun_a_run(sig_client: Any) -> None:
    client = sig_client("researcher")
    posted = client.post("/api/v1/signatures/runs", json=BODY)
    assert posted.status_code == 202, posted.get_json()
    run = posted.get_json()
    assert run["status"] == "queued"  # it runs once the request has committed (inline in the tests)
    one = client.get(f"/api/v1/signatures/runs/{run['id']}").get_json()
    assert one["status"] == "done"
    assert one["auc"] == one["result"]["auc"] and one["spec"]["markers"] == sorted([SIGNAL, *NOISE])
    assert one["seeds"] == [1, 2] and len(one["dataset_sha256"]) == 64 and one["versions"]["numpy"]
    assert one["result"]["selection"][0]["marker"] == SIGNAL and one["comparison"] is None
    again = client.post(f"/api/v1/signatures/runs/{run['id']}/rerun").get_json()
    again = client.get(f"/api/v1/signatures/runs/{again['id']}").get_json()
    assert again["rerun_of_id"] == run["id"]
    assert again["comparison"] == {"original_id": run["id"], "same_input": True, "identical": True,
                                   "differences": []}
    listed = client.get("/api/v1/signatures/runs").get_json()
    assert [r["id"] for r in listed[:2]] == [again["id"], run["id"]]


def test_bad_input_is_a_422_or_a_failed_run_with_the_message(sig_client: Any) -> None:
    client = sig_client("pi")
    refused = client.post("/api/v1/signatures/runs", json={**BODY, "outer_folds": 1, "thresholds": [1.5]})
    assert refused.status_code == 422
    errors = refused.get_json()["errors"]["json"]
    assert "outer_folds" in errors and "thresholds" in errors
    unknown = client.post("/api/v1/signatures/runs", json={**BODY, "sample_types": ["NOPE"]})
    assert unknown.status_code == 400 and "unknown: NOPE" in unknown.get_json()["message"]
    queued = client.post("/api/v1/signatures/runs",
                         json={**BODY, "outer_folds": 10, "inner_folds": 10}).get_json()
    failed = client.get(f"/api/v1/signatures/runs/{queued['id']}").get_json()
    assert failed["status"] == "failed" and "too few patients in the smaller outcome class" in failed["error"]


def test_only_researchers_and_pis_may_run_or_read(sig_client: Any) -> None:
    client = sig_client("monitor")
    assert client.post("/api/v1/signatures/runs", json=BODY).status_code == 403
    assert client.get("/api/v1/signatures/runs").status_code == 403
    anonymous = sig_client("pi")
    anonymous.post("/logout")
    assert anonymous.get("/api/v1/signatures/runs").status_code == 401
