"""HTTP tests of the signatures page: form, runs (inline and in a thread), figures, report, model, re-run,
errors."""

from __future__ import annotations

import io
import pickle
import re
from typing import Any

import numpy as np
import pandas as pd
import pypdfium2 as pdfium
import pytest

from analysis.signatures import load
from lims.extensions import db
from lims.signatures import service
from lims.signatures.models import SignatureRun
from tests.signatures.conftest import FLAT, NOISE, SIGNAL

PNG = b"\x89PNG\r\n\x1a\n"
PANEL = [SIGNAL, *NOISE]


def _form(**overrides: Any) -> dict[str, Any]:
    form = {"outcome": "ccr", "timepoint": "BASELINE", "sample_types": ["SERUM"], "transform": "log2",
            "penalty": "l1", "outer_folds": "3", "inner_folds": "2", "mode": "quick", "markers": PANEL,
            "thresholds": "0.2, 0.5"}
    form.update(overrides)
    return form


def _start(client: Any, **overrides: Any) -> int:
    response = client.post("/signatures/", data=_form(**overrides))
    assert response.status_code == 302, response.get_data(as_text=True)
    match = re.search(r"/signatures/runs/(\d+)$", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


def _run(signature_trial: Any, run_id: int) -> SignatureRun:
    with signature_trial.app.app_context():
        run = db.session.get(SignatureRun, run_id)
        db.session.expunge(run)
        return run


def test_form_lists_outcomes_markers_and_covariates(sig_client: Any) -> None:
    html = sig_client("pi").get("/signatures/").get_data(as_text=True)
    assert "<h1>Signatures</h1>" in html
    for text in ("pCR (predicts residual disease)", "Regrowth by 1 year", "Overall survival",
                 'for="timepoint"',
                 f'id="marker-{SIGNAL}"', 'id="covariate-age"', "Quick (2 repeats, 19 permutations"):
        assert text in html


def test_only_pis_and_researchers_may_run_models(sig_client: Any) -> None:
    assert sig_client("researcher").get("/signatures/").status_code == 200
    client = sig_client("tech.zj")
    assert client.get("/signatures/").status_code == 403
    assert client.post("/signatures/", data=_form()).status_code == 403


def test_quick_run_shows_performance_selection_figures_and_report(sig_client: Any,
                                                                  signature_trial: Any) -> None:
    client = sig_client("pi")
    run_id = _start(client, covariates=["age"])
    run = _run(signature_trial, run_id)
    assert run.status == "done", run.error
    assert run.by_username == "pi" and len(run.dataset_sha256) == 64 and run.seeds == [1, 2]
    assert run.versions["scikit-learn"] and run.spec["forced"] == ["age"] and run.spec["outer_folds"] == 3
    page = client.get(f"/signatures/runs/{run_id}").get_data(as_text=True)
    auc = re.search(r"Cross-validated AUC \(95% CI\)</th><td>([01]\.\d{3}) \(([01]\.\d{3})–([01]\.\d{3})\)",
                    page)
    assert auc, page
    low, mid, high = float(auc.group(2)), float(auc.group(1)), float(auc.group(3))
    assert low <= mid <= high and mid == pytest.approx(run.result["auc"], abs=5e-4)
    assert mid > 0.75, "the planted SG_IL6 signal separates cCR"
    # the planted marker is selected most often, and the selection table says so first
    selection = run.result["selection"]
    assert selection[0]["marker"] == SIGNAL and selection[0]["frequency"] >= 0.8
    assert all(row["frequency"] < selection[0]["frequency"] for row in selection[1:])
    rows = re.findall(r"<tr><td>(SG_\w+)</td>\s*<td><span class=\"bar\"", page)
    assert rows[0] == SIGNAL and sorted(rows) == sorted(PANEL)
    assert "Watch and wait at chosen thresholds" not in page  # cCR is not the watch-and-wait outcome
    assert "Permutation p (whole nested procedure)" in page and "19 permutations" in page
    for name in ("calibration", "decision"):
        png = client.get(f"/signatures/runs/{run_id}/{name}.png")
        assert png.status_code == 200 and png.mimetype == "image/png" and png.data.startswith(PNG)
        svg = client.get(f"/signatures/runs/{run_id}/{name}.svg")
        assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data[:800]
        assert f"/signatures/runs/{run_id}/{name}.svg" in page
    report = client.get(f"/signatures/runs/{run_id}/report.html")
    assert report.status_code == 200 and "attachment" in report.headers["Content-Disposition"]
    text = report.get_data(as_text=True)
    methods = run.result["methods"]
    assert "nested cross-validation: 3-fold outer cross-validation" in methods and "seeds 1, 2" in methods
    assert methods in text and text.count("data:image/png;base64,") == 2
    assert run.dataset_sha256 in text
    document = client.get(f"/signatures/runs/{run_id}/report.pdf")
    assert document.mimetype == "application/pdf" and document.data.startswith(b"%PDF-")
    pdf = pdfium.PdfDocument(document.data)
    words = " ".join(" ".join(pdf[i].get_textpage().get_text_range().split()) for i in range(len(pdf)))
    assert len(pdf) >= 2 and "Marker selection frequency" in words and SIGNAL in words
    assert " ".join(methods.split()[:40]) in words, "the methods paragraph is written out"


def test_exported_model_predicts_the_frame_and_rejects_other_columns(sig_client: Any,
                                                                     signature_trial: Any) -> None:
    client = sig_client("researcher")
    run_id = _start(client)
    blob = client.get(f"/signatures/runs/{run_id}/model.json")
    assert blob.status_code == 200 and "attachment" in blob.headers["Content-Disposition"]
    assert blob.mimetype == "application/json" and blob.data.startswith(b"{")
    assert f'filename="signature-run-{run_id}.signature.json"' in blob.headers["Content-Disposition"]
    model = load(io.BytesIO(blob.data))
    run = _run(signature_trial, run_id)
    assert model.dataset_sha256 == run.dataset_sha256
    with signature_trial.app.app_context():
        from lims.studies.service import get_study

        frame = service.frame_for(db.session, get_study(db.session), run.parameters)
    prob = model.predict(frame[PANEL])
    assert prob.between(0, 1).all() and len(prob) == run.dataset_rows
    with pytest.raises(ValueError, match="missing columns: SG_IL6"):
        model.predict(frame[list(NOISE)])

    # a model stored as a pickle (before JSON) is neither served nor unpickled
    with signature_trial.app.app_context():
        db.session.get(SignatureRun, run_id).model = pickle.dumps({"model": "old"})
        db.session.commit()
    refused = client.get(f"/signatures/runs/{run_id}/model.json")
    assert refused.status_code == 400 and b"not a Trialbank signature file" in refused.data
    assert b"re-run it" in refused.data


def test_stored_run_reruns_to_identical_numbers(sig_client: Any, signature_trial: Any) -> None:
    client = sig_client("pi")
    first = _start(client, outcome="pcr", outer_folds="3", inner_folds="2", penalty="elasticnet",
                   thresholds="0.3, 0.6")
    original = _run(signature_trial, first)
    assert original.status == "done", original.error
    page = client.get(f"/signatures/runs/{first}").get_data(as_text=True)
    assert "Watch and wait at chosen thresholds" in page
    assert [row["threshold"] for row in original.result["watch_and_wait"]] == [0.3, 0.6]
    response = client.post(f"/signatures/runs/{first}/rerun")
    assert response.status_code == 302
    second = int(response.headers["Location"].rsplit("/", 1)[1])
    again = _run(signature_trial, second)
    assert again.rerun_of_id == first and again.status == "done"
    assert again.dataset_sha256 == original.dataset_sha256 and again.seeds == original.seeds
    assert again.result["auc"] == original.result["auc"]
    assert again.result["selection"] == original.result["selection"]
    assert again.result["permutation_stats"] == original.result["permutation_stats"]
    assert again.result["final_model"] == original.result["final_model"]
    html = client.get(f"/signatures/runs/{second}").get_data(as_text=True)
    assert f"Identical to run #{first}: same input data (SHA-256), same numbers." in html


def test_rerun_after_the_data_changed_says_so(sig_client: Any, signature_trial: Any) -> None:
    client = sig_client("pi")
    first = _start(client)
    with signature_trial.app.app_context():
        run = db.session.get(SignatureRun, first)
        run.result = {**run.result, "auc": 0.123}
        run.dataset_sha256 = "0" * 64
        db.session.commit()
    second = int(client.post(f"/signatures/runs/{first}/rerun").headers["Location"].rsplit("/", 1)[1])
    html = client.get(f"/signatures/runs/{second}").get_data(as_text=True)
    assert f"The data have changed since run #{first}" in html and "auc" in html


@pytest.mark.parametrize(("overrides", "message"), [
    # the messages are the analysis module's; the numbers follow the demo data, so they are matched loosely
    ({"outer_folds": "10", "inner_folds": "10"},
     (r"too few patients in the smaller outcome class for the folds: \d+, but outer_folds=10 with "
      r"inner_folds=10 "
     r"needs at least 12, otherwise a fold would hold one outcome class only")),
    ({"markers": [SIGNAL, FLAT]}, f"no variance in 1 of 2 predictors \\(constant or all missing\\): {FLAT}"),
    ({"outcome": "regrowth_1y"}, r"(never takes the event value 1\.0|has one class only)"),
    ({"outcome": "pcr", "penalty": "none", "outer_folds": "2", "covariates": ["age", "male", "ecog"],
      "markers": "ALL_BUT_FLAT"},
     (r"\d+ predictors but only \d+ patients per training fold with penalty=&#39;none&#39;: an unpenalised "
      r"model is "
     r"not identifiable; use penalty=&#39;l1&#39;")),
    ({"outcome": "os", "outer_folds": "10", "inner_folds": "10"},
     r"(too few events for the folds: \d+|has no events; a survival model needs events)"),
])
def test_bad_input_fails_the_run_with_the_analysis_message(sig_client: Any, signature_trial: Any,
                                                           overrides: dict[str, Any], message: str) -> None:
    client = sig_client("pi")
    if overrides.get("markers") == "ALL_BUT_FLAT":
        # 24 participants, at most 12 per training fold: 12 predictors (+ intercept) are always too many
        overrides = {**overrides, "markers": [*PANEL, "IFNG", "IL10", "IL6", "IL8", "SCC_AG", "TNFA"]}
    run_id = _start(client, **overrides)
    run = _run(signature_trial, run_id)
    assert run.status == "failed" and run.result is None and run.model is None
    html = client.get(f"/signatures/runs/{run_id}").get_data(as_text=True)
    alert = re.search(r'<p class="flash error" role="alert">(.*?)</p>', html, re.DOTALL)
    assert alert and re.search(message, alert.group(1)), html
    assert client.get(f"/signatures/runs/{run_id}/report.html").status_code == 400


@pytest.mark.parametrize(("overrides", "message"), [
    ({"thresholds": "0.2, 1.5"}, "threshold 1.5 must lie strictly between 0 and 1"),
    ({"outer_folds": "1"}, "must be between 2 and 10, got 1"),
    ({"markers": ["NOPE"]}, "unknown marker(s) NOPE"),
    ({"outcome": "os", "ccr_only": "1"}, "applies to pCR and MPR"),
])
def test_bad_form_input_is_refused_before_any_run(sig_client: Any, signature_trial: Any,
                                                  overrides: dict[str, Any], message: str) -> None:
    client = sig_client("pi")
    with signature_trial.app.app_context():
        before = db.session.query(SignatureRun).count()
    response = client.post("/signatures/", data=_form(**overrides))
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    with signature_trial.app.app_context():
        assert db.session.query(SignatureRun).count() == before


def test_survival_result_page_shows_the_c_index(sig_client: Any, signature_trial: Any) -> None:
    rng = np.random.default_rng(3)
    signal = rng.lognormal(1.0, 0.8, 40)
    frame = pd.DataFrame({"time": np.ceil(rng.exponential(400 / signal)) + 1,
                          "event": (rng.random(40) < 0.7).astype(float), "age": rng.normal(60, 8, 40),
                          "male": rng.integers(0, 2, 40).astype(float),
                          "ecog": rng.integers(0, 2, 40).astype(float),
                          SIGNAL: signal, NOISE[0]: rng.lognormal(1.0, 0.8, 40)},
                         index=pd.Index([f"P{i:02d}" for i in range(40)], name="participant_id"))
    params = {"outcome": "os", "timepoint": "BASELINE", "sample_types": ["SERUM"], "category": None,
              "transform": "log2", "penalty": "l1", "mode": "quick", "outer_folds": 3, "inner_folds": 2,
              "ccr_only": False, "thresholds": [0.2], "markers": [], "covariates": []}
    spec, result, model = service.compute(frame, params)
    assert result["cindex"] is not None and result["watch_and_wait"] is None
    with signature_trial.app.app_context():
        from lims.studies.service import get_study

        run = service.create_run(db.session, get_study(db.session), params, by=None)
        run.status, run.result, run.model, run.seeds = "done", result, model, list(spec.seeds)
        run.dataset_sha256, run.dataset_rows, run.versions = result["provenance"]["dataset_sha256"], 40, {
            "x": "1"}
        db.session.commit()
        run_id = run.id
    html = sig_client("pi").get(f"/signatures/runs/{run_id}").get_data(as_text=True)
    assert re.search(r"Cross-validated C-index \(95% CI\)</th><td>0\.\d{3} \(", html)
    assert "Survival outcomes have no calibration points or decision curve" in html


def test_post_returns_at_once_and_a_worker_computes_the_run(sig_client: Any, signature_trial: Any,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Any) -> None:
    from lims.jobs import queue
    from lims.jobs import service as jobs_service
    from lims.jobs.models import Job

    app = signature_trial.app
    # A real (Huey SQLite) queue with no worker yet: the POST only queues the run.
    monkeypatch.setitem(app.config, "QUEUE_URL", f"sqlite:///{tmp_path / 'queue.db'}")
    monkeypatch.setitem(app.extensions, queue.EXTENSION, {"huey": None, "tasks": None,
                                                          "lock": app.extensions[queue.EXTENSION]["lock"]})
    client = sig_client("pi")
    run_id = _start(client)
    run = _run(signature_trial, run_id)
    assert run.status == "queued" and run.job_id is not None
    page = client.get(f"/signatures/runs/{run_id}").get_data(as_text=True)
    assert "this page refreshes every two seconds" in page and f"job #{run.job_id}" in page
    with app.app_context():  # what a worker does with the message
        assert jobs_service.execute(db.session, run.job_id, worker="test-worker:1") == "done"
        job = db.session.get(Job, run.job_id)
        assert job.status == "done" and job.result["run_id"] == run_id
    run = _run(signature_trial, run_id)
    assert run.status == "done" and run.started_at is not None and run.finished_at >= run.started_at
    assert "Cross-validated AUC" in client.get(f"/signatures/runs/{run_id}").get_data(as_text=True)


def test_final_model_predicts_unresected_participants(sig_client: Any, signature_trial: Any) -> None:
    client = sig_client("pi")
    run_id = _start(client, outcome="pcr")
    run = _run(signature_trial, run_id)
    assert run.status == "done", run.error
    with signature_trial.app.app_context():
        from lims.studies.service import get_study

        study = get_study(db.session)
        labelled = service.frame_for(db.session, study, run.parameters)
        waiting = service.frame_for(db.session, study, run.parameters, unresected=True)
        predictions = service.predict_unresected(db.session, study, db.session.get(SignatureRun, run_id))
    assert len(waiting) and not set(waiting.index) & set(labelled.index) and waiting["pcr"].isna().all()
    expected = service.load_model(run).predict(waiting[run.spec["forced"] + run.spec["markers"]])
    assert predictions.table["probability"].sort_index().equals(expected.sort_index().rename("probability"))
    html = client.get(f"/signatures/runs/{run_id}").get_data(as_text=True)
    assert "The final model on unresected participants" in html
    first = predictions.table.index[0]
    assert f"<tr><td>{first}</td><td>{predictions.table['probability'].iloc[0]:.3f}</td>" in html
