"""JSON API: run a screen, read it back, re-run it; roles and refusals."""

from __future__ import annotations

from typing import Any

from tests.results.factories import SERUM


def test_run_read_and_rerun_over_json(demo_client: Any) -> None:
    client = demo_client("researcher")
    created = client.post("/api/v1/results/runs", json={
        "outcome": "efs", "sample_type": "SERUM", "markers": list(SERUM), "cut": "median",
        "covariates": ["age"]})
    assert created.status_code == 201, created.get_json()
    run = created.get_json()
    assert run["effect"] == "HR" and len(run["dataset_sha256"]) == 64 and run["by_username"] == "researcher"
    assert {r["marker"] for r in run["results"]} == set(SERUM)
    assert all(r["lower"] <= r["effect"] <= r["upper"] for r in run["results"] if r["effect"] is not None)
    assert any("Adjusted for Age" in c for c in run["conditions"])
    same = client.get(f"/api/v1/results/runs/{run['id']}").get_json()
    assert same["results"] == run["results"] and same["parameters"] == run["parameters"]
    check = client.get(f"/api/v1/results/runs/{run['id']}/rerun").get_json()
    assert check == {"run_id": run["id"], "dataset_sha256": run["dataset_sha256"], "same_input": True,
                     "identical": True, "max_abs_difference": 0.0}
    listed = client.get("/api/v1/results/runs").get_json()
    assert listed[0]["id"] == run["id"]


def test_api_refusals(demo_client: Any) -> None:
    researcher = demo_client("researcher")
    bad = researcher.post("/api/v1/results/runs", json={"outcome": "survival", "sample_type": "SERUM"})
    assert bad.status_code == 422 and "outcome" in bad.get_json()["errors"]["json"]
    empty = researcher.post("/api/v1/results/runs", json={"outcome": "os", "sample_type": "BUFFY_COAT"})
    assert empty.status_code == 400 and "no marker values" in empty.get_json()["message"]
    landmark = researcher.post("/api/v1/results/runs", json={"outcome": "pcr", "sample_type": "SERUM",
                                                             "landmark": 30})
    assert landmark.status_code == 400 and landmark.get_json()["errors"] == {
        "landmark": ["a landmark applies to survival outcomes only, not to pCR"]}
    assert researcher.get("/api/v1/results/runs/999999").status_code == 404
    monitor = demo_client("monitor")
    assert monitor.get("/api/v1/results/runs").status_code == 200
    assert monitor.post("/api/v1/results/runs",
                        json={"outcome": "os", "sample_type": "SERUM"}).status_code == 403
    assert demo_client("tech.nb").get("/api/v1/results/runs").status_code == 403


def test_api_and_page_share_one_schema(demo_client: Any) -> None:
    """The JSON body is refused with the page's messages: the field, the value and why."""
    researcher = demo_client("researcher")
    far = researcher.post("/api/v1/results/runs", json={"outcome": "os", "sample_type": "SERUM",
                                                        "landmark": 5000})
    assert far.status_code == 422 and far.get_json()["errors"]["json"] == {
        "landmark": ["landmark must be between 0 and 3650 days, got 5000"]}
    cut = researcher.post("/api/v1/results/runs", json={"outcome": "os", "sample_type": "SERUM",
                                                        "cut": "tertiles"})
    assert cut.status_code == 422 and cut.get_json()["errors"]["json"] == {
        "cut": ["cut must be one of none, median, optimal; got 'tertiles'"]}
    unknown = researcher.post("/api/v1/results/runs", json={"outcome": "os", "sample_type": "SERUM",
                                                            "markers": ["rx_il6", "NOPE"]})
    assert unknown.status_code == 400 and unknown.get_json()["errors"] == {
        "markers": ["unknown marker(s) NOPE; use codes from the marker catalogue"]}
