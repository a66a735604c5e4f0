"""Screens as jobs: above ``JOB_ABOVE_ROWS`` the POST queues a job; it saves the same run the request
saves."""

from __future__ import annotations

from typing import Any

import pytest

from tests.results.factories import SERUM

FORM = {"outcome": "dfs_a", "timepoint": "BASELINE", "sample_type": "SERUM", "transform": "log2",
        "cut": "median"}


@pytest.fixture()
def as_jobs(demo_trial: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(demo_trial.app.config, "JOB_ABOVE_ROWS", 0)


def _numbers(client: Any, run_id: int) -> dict[str, Any]:
    run = client.get(f"/api/v1/results/runs/{run_id}").get_json()
    return {k: run[k] for k in ("parameters", "dataset_sha256", "dataset_rows", "n_markers", "results")}


def test_screen_page_queues_a_job_that_saves_the_same_run(demo_trial: Any, demo_client: Any,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    client = demo_client("pi")
    inline = client.post("/results/associations", data=FORM)
    assert inline.status_code == 302 and "/results/runs/" in inline.headers["Location"]
    inline_id = int(inline.headers["Location"].rsplit("/", 1)[1])

    monkeypatch.setitem(demo_trial.app.config, "JOB_ABOVE_ROWS", 0)
    queued = client.post("/results/associations", data=FORM)
    assert queued.status_code == 302 and "/jobs/" in queued.headers["Location"]
    job_id = int(queued.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    job = client.get(f"/api/v1/jobs/{job_id}").get_json()
    assert job["kind"] == "association_screen" and job["status"] == "done", job
    run_id = job["result"]["run_id"]
    assert run_id != inline_id and f"/results/runs/{run_id}" in client.get(queued.headers[
        "Location"]).get_data(
        as_text=True)
    assert _numbers(client, run_id) == _numbers(client, inline_id)
    assert client.get(f"/api/v1/results/runs/{run_id}").get_json()["by_username"] == "pi"
    # the job is its requester's: another user does not see it
    assert demo_client("researcher").get(f"/jobs/{job_id}").status_code == 404


def test_screen_api_answers_202_and_a_failing_screen_says_why(as_jobs: None, demo_client: Any) -> None:
    client = demo_client("researcher")
    accepted = client.post("/api/v1/results/runs", json={"outcome": "efs", "sample_type": "SERUM",
                                                         "markers": list(SERUM), "cut": "median"})
    assert accepted.status_code == 202, accepted.get_json()
    job = client.get(accepted.headers["Location"]).get_json()
    assert job["status"] == "done" and job["result"]["markers"] == len(SERUM)
    assert client.get(f"/api/v1/results/runs/{job['result']['run_id']}").status_code == 200
    # parameters are checked at once; what only the data can refuse ends the job failed, with the reason
    assert client.post("/api/v1/results/runs", json={"outcome": "survival"}).status_code == 422
    failing = client.post("/api/v1/results/runs",
                          json={"outcome": "os", "timepoint": "CRE1", "sample_type": "SERUM"})
    assert failing.status_code == 202
    job = client.get(failing.headers["Location"]).get_json()
    assert job["status"] == "failed" and "guarantee-time bias" in job["error"] and job["attempts"] == 1
