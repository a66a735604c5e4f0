"""Multi-marker signatures: solver oracles, leakage, signal recovery, bad input, export, provenance."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from scipy.stats import ttest_ind
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from analysis import signature_figures
from analysis import signatures as sg
from analysis.signatures.provenance import dataset_sha256
from analysis.signatures.solver import CoxLoss, LogisticLoss, solve_path

FAST = {"outer_folds": 5, "inner_folds": 3, "repeats": 2, "n_lambda": 8, "lambda_min_ratio": 0.05}


def _noise_frame(n: int, p: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(rng.normal(size=(n, p)), columns=[f"m{i:03d}" for i in range(p)])
    df["pcr"] = rng.permutation(np.r_[np.ones(n // 2), np.zeros(n - n // 2)]).astype(int)
    return df


def _planted_frame(seed: int = 1, n: int = 100, p: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.lognormal(size=(n, p))
    lp = 1.3 * np.log(X[:, 0]) - 1.1 * np.log(X[:, 1]) + 0.9 * np.log(X[:, 2])
    df = pd.DataFrame(X, columns=[f"m{i:02d}" for i in range(p)])
    df["pcr"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-lp))).astype(int)
    df["age"] = rng.normal(60, 7, n)
    return df


@pytest.fixture(scope="module")
def planted() -> pd.DataFrame:
    return _planted_frame()


@pytest.fixture(scope="module")
def planted_spec(planted: pd.DataFrame) -> sg.ModelSpec:
    markers = [c for c in planted.columns if c.startswith("m")]
    return sg.ModelSpec(outcome=sg.BinaryOutcome("pcr"), markers=markers, forced=["age"], transform="log2",
                        permutations=19, **FAST)


@pytest.fixture(scope="module")
def planted_run(planted: pd.DataFrame, planted_spec: sg.ModelSpec) -> sg.ValidationResult:
    return sg.validate(planted, planted_spec)


# --- solver against independent implementations ------------------------------------------------------------

def test_l1_logistic_matches_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    n, p, C = 100, 20, 0.1
    X = rng.normal(size=(n, p))
    X = (X - X.mean(0)) / X.std(0)
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(size=n) > 0).astype(float)
    ref = LogisticRegression(C=C, l1_ratio=1.0, solver="saga", tol=1e-10, max_iter=100_000).fit(X, y)
    lam = 1 / (n * C)  # sklearn: C·Σ logloss + |w|₁  ⇔  mean logloss + |w|₁/(nC)
    path = solve_path(LogisticLoss(y), np.c_[np.ones(n), X][None], np.ones((1, n)),
                      np.array([[4 * lam, lam]]),
                      1.0, np.r_[0.0, np.ones(p)], kind="binary", tol=1e-10, max_iter=20_000)
    assert np.abs(path.coef[0, -1, 1:] - ref.coef_[0]).max() < 1e-6
    assert path.coef[0, -1, 0] == pytest.approx(ref.intercept_[0], abs=1e-6)


def test_ridge_cox_matches_lifelines() -> None:
    rng = np.random.default_rng(1)
    n = 120
    X = rng.normal(size=(n, 4))
    X = (X - X.mean(0)) / X.std(0, ddof=1)  # lifelines standardises with ddof=1 before penalising
    T = np.round(rng.exponential(size=n) * np.exp(-X[:, 0]) * 100) + 1  # with ties
    E = (rng.uniform(size=n) < 0.7).astype(float)
    df = pd.DataFrame(X, columns=list("abcd")).assign(T=T, E=E)
    ref = CoxPHFitter(penalizer=0.05, l1_ratio=0.0, baseline_estimation_method="breslow")
    # lifelines uses Efron ties and we use Breslow: they agree on untied times
    df_untied = df.assign(T=T + rng.uniform(0, 0.01, n))
    ref.fit(df_untied, "T", "E")
    o = np.argsort(df_untied["T"].to_numpy(), kind="mergesort")
    path = solve_path(CoxLoss(df_untied["T"].to_numpy()[o], E[o]), X[o][None], np.ones((1, n)),
                      np.array([[0.05]]), 0.0, np.ones(4), kind="cox", tol=1e-10, max_iter=20_000)
    assert np.abs(path.coef[0, 0] - ref.params_.to_numpy()).max() < 1e-4


# --- honest validation ------------------------------------------------------------------------------------

def test_pure_noise_is_not_rescued_by_the_pipeline_but_is_by_naive_selection() -> None:
    df = _noise_frame(80, 500, seed=11)
    markers = [c for c in df.columns if c.startswith("m")]
    spec = sg.ModelSpec(outcome=sg.BinaryOutcome("pcr"), markers=markers, permutations=19,
                        **{**FAST, "repeats": 1, "lambda_min_ratio": 0.1, "n_lambda": 6})
    run = sg.validate(df, spec)
    assert abs(run.auc - 0.5) < 0.12
    assert run.permutation_p > 0.05

    # the classic mistake: pick the 10 best markers on all patients, then cross-validate only the model
    X, y = df[markers].to_numpy(), df["pcr"].to_numpy()
    p_values = ttest_ind(X[y == 1], X[y == 0]).pvalue
    top = np.argsort(p_values)[:10]
    prob = cross_val_predict(LogisticRegression(max_iter=1000), X[:, top], y,
                             cv=StratifiedKFold(5, shuffle=True, random_state=1),
                             method="predict_proba")[:, 1]
    assert roc_auc_score(y, prob) > 0.7


def test_planted_signal_is_recovered_and_selected_most_often(planted_run: sg.ValidationResult) -> None:
    run = planted_run
    assert run.auc > 0.75
    assert run.auc_ci[0] < run.auc < run.auc_ci[1]
    assert run.permutation_p == pytest.approx(1 / 20)  # no permutation beats a real signal
    top3 = set(run.selection["marker"].head(3))
    assert top3 == {"m00", "m01", "m02"}
    assert (run.selection.set_index("marker").loc[["m00", "m01", "m02"], "frequency"] == 1.0).all()
    signs = run.selection.set_index("marker")["mean_coef_when_selected"]
    assert signs["m00"] > 0 and signs["m01"] < 0
    assert 0.5 < run.calibration["slope"] < 2.0
    assert len(run.fold_table) == 10 and run.fold_table["converged"].all()
    assert set(run.decision_curve.columns) == {"threshold", "net_benefit_model", "net_benefit_all",
                                               "net_benefit_none"}


def test_forced_covariate_is_unpenalised(planted: pd.DataFrame) -> None:
    markers = [c for c in planted.columns if c.startswith("m")]
    spec = sg.ModelSpec(outcome=sg.BinaryOutcome("pcr"), markers=markers, forced=["age"], transform="log2",
                        permutations=0, **FAST)
    model = sg.fit_final(planted, spec)
    coefs = model.coefficients().set_index("predictor")["coef"]
    assert coefs["age"] != 0 and model.coefficients().set_index("predictor").loc["age", "forced"]


def test_survival_signal_and_risk(planted: pd.DataFrame) -> None:
    rng = np.random.default_rng(5)
    df = planted.copy()
    lp = 0.9 * np.log(df["m00"]) - 0.7 * np.log(df["m01"])
    t = rng.exponential(scale=600 * np.exp(-lp))
    c = rng.uniform(200, 1500, len(df))
    df["dfs_days"], df["dfs_event"] = np.ceil(np.minimum(t, c)), (t <= c).astype(int)
    markers = [m for m in df.columns if m.startswith("m")]
    spec = sg.ModelSpec(outcome=sg.SurvivalOutcome("dfs_days", "dfs_event"), markers=markers,
                        transform="log2",
                        permutations=9, horizon_days=365, **FAST)
    run = sg.validate(df, spec)
    assert run.cindex > 0.65 and run.td_auc > 0.65
    assert set(run.selection["marker"].head(2)) == {"m00", "m01"}
    assert run.permutation_p == pytest.approx(0.1)
    model = sg.fit_final(df, spec)
    risk = model.predict_risk(df[markers], 365)
    assert risk.between(0, 1).all()
    assert np.corrcoef(risk, model.predict(df[markers]))[0, 1] > 0.9
    loaded = sg.loads(sg.dumps(model))  # the Cox model's coefficients and Breslow baseline survive the file
    np.testing.assert_allclose(loaded.predict(df[markers]), model.predict(df[markers]), rtol=0, atol=1e-12)
    np.testing.assert_allclose(loaded.predict_risk(df[markers], 365), risk, rtol=0, atol=1e-12)


# --- bad input --------------------------------------------------------------------------------------------

def test_too_few_events_for_the_folds(planted: pd.DataFrame) -> None:
    df = planted.copy()
    df["pcr"] = 0
    df.loc[df.index[:4], "pcr"] = 1
    spec = sg.ModelSpec(outcome=sg.BinaryOutcome("pcr"), markers=["m00", "m01"], permutations=0)
    with pytest.raises(ValueError,
                       match=r"too few patients in the smaller outcome class.*4.*reduce outer_folds"):
        sg.validate(df, spec)


def test_too_few_survival_events(planted: pd.DataFrame) -> None:
    df = planted.assign(t=np.arange(1, len(planted) + 1), e=0)
    df.loc[df.index[:3], "e"] = 1
    spec = sg.ModelSpec(outcome=sg.SurvivalOutcome("t", "e"), markers=["m00"], permutations=0)
    with pytest.raises(ValueError, match="too few events for the folds: 3"):
        sg.validate(df, spec)


def test_marker_without_variance(planted: pd.DataFrame) -> None:
    df = planted.assign(flat=1.0, empty=np.nan)
    spec = sg.ModelSpec(outcome=sg.BinaryOutcome("pcr"), markers=["m00", "flat", "empty"], permutations=0)
    with pytest.raises(ValueError, match=r"no variance in 2 of 3 predictors.*flat, empty.*drop them"):
        sg.validate(df, spec)


def test_outcome_with_one_class(planted: pd.DataFrame) -> None:
    spec = sg.ModelSpec(outcome=sg.BinaryOutcome("pcr"), markers=["m00"], permutations=0)
    with pytest.raises(ValueError, match="one class only"):
        sg.validate(planted.assign(pcr=1), spec)


def test_fold_with_one_class_is_named(planted: pd.DataFrame) -> None:
    df = planted.copy()
    df["pcr"] = 0
    df.loc[df.index[:4], "pcr"] = 1  # enough for 3 outer folds, but an outer training set keeps only 2
    spec = sg.ModelSpec(outcome=sg.BinaryOutcome("pcr"), markers=["m00"], permutations=0, outer_folds=3,
                        inner_folds=3)
    with pytest.raises(ValueError,
                       match="outer_folds=3 with inner_folds=3 needs at least 5, otherwise a fold "
                                         "would hold one outcome class only"):
        sg.validate(df, spec)


def test_more_markers_than_patients_without_penalty() -> None:
    df = _noise_frame(40, 60, seed=2)
    spec = sg.ModelSpec(outcome=sg.BinaryOutcome("pcr"), markers=[c for c in df if c != "pcr"],
                        penalty="none", permutations=0)
    with pytest.raises(ValueError,
                       match=r"60 predictors but only 32 patients.*penalty='none'.*use penalty='l1'"):
        sg.validate(df, spec)


def test_missing_and_non_numeric_columns(planted: pd.DataFrame) -> None:
    spec = sg.ModelSpec(outcome=sg.BinaryOutcome("pcr"), markers=["m00", "nope"], permutations=0)
    with pytest.raises(ValueError, match="lacks required columns: nope"):
        sg.validate(planted, spec)
    spec = sg.ModelSpec(outcome=sg.BinaryOutcome("pcr"), markers=["m00", "site"], permutations=0)
    with pytest.raises(ValueError, match=r"non-numeric predictor columns: site.*dummy-code"):
        sg.validate(planted.assign(site="A"), spec)


def test_negative_values_under_log_transform(planted: pd.DataFrame) -> None:
    spec = sg.ModelSpec(outcome=sg.BinaryOutcome("pcr"), markers=["m00", "m01"], transform="log2",
                        permutations=0, **FAST)
    with pytest.raises(ValueError, match="negative values in log-transformed markers: m01"):
        sg.fit_final(planted.assign(m01=planted["m01"] - 2), spec)


def test_spec_rejects_inconsistent_settings() -> None:
    with pytest.raises(ValueError, match="seeds has 2 values but repeats=3"):
        sg.ModelSpec(outcome=sg.BinaryOutcome("y"), markers=["a"], repeats=3, seeds=(1, 2))
    with pytest.raises(ValueError, match="penalty='lasso'"):
        sg.ModelSpec(outcome=sg.BinaryOutcome("y"), markers=["a"], penalty="lasso")


# --- preprocessing is fitted on training rows only ---------------------------------------------------------

def test_log_pseudocount_and_scaling_come_from_training_rows() -> None:
    train = pd.DataFrame({"a": [0.0, 2.0, 4.0, np.nan]})
    test = pd.DataFrame({"a": [0.0, 1000.0, np.nan]})
    step = sg.MarkerPreprocessor(columns=["a"], transforms={"a": "log2"}).fit(train)
    assert step.params_.pseudocount[0] == 1.0  # half the smallest positive training value
    assert step.params_.median[0] == 2.0
    z_train = np.log2(np.array([0.0, 2.0, 4.0, 2.0]) + 1.0)
    expected = (np.log2(np.array([0.0, 1000.0, 2.0]) + 1.0) - z_train.mean()) / z_train.std()
    assert np.allclose(step.transform(test)[:, 0], expected)


# --- export, reproducibility, provenance -------------------------------------------------------------------

def test_export_load_apply_round_trip(tmp_path, planted: pd.DataFrame, planted_spec: sg.ModelSpec) -> None:
    model = sg.fit_final(planted, planted_spec)
    columns = planted_spec.predictors
    before = model.predict(planted[columns])
    path = tmp_path / "signature.json"
    model.save(path)
    doc = json.loads(path.read_text("utf-8"))  # plain JSON anyone can read
    assert doc["format"] == "trialbank-signature/2" and doc["required_columns"] == columns
    loaded = sg.load(path)
    new = planted[columns].iloc[:7].copy()
    new.loc[new.index[0], "m05"] = np.nan  # missing values are imputed with the training median
    np.testing.assert_allclose(loaded.predict(planted[columns]), before, rtol=0, atol=1e-12)
    np.testing.assert_allclose(loaded.predict(new), model.predict(new), rtol=0, atol=1e-12)
    assert loaded.predict(new).notna().all()
    assert loaded.dataset_sha256 == model.dataset_sha256 and loaded.spec == model.spec
    assert loaded.cv_loss == model.cv_loss and loaded.lam == model.lam
    assert {"m00", "m01", "m02"} <= set(loaded.selected_markers())
    assert loaded.pipeline.named_steps["prep"].columns == columns
    assert sg.dumps(loaded) == path.read_bytes()  # loading and saving again writes the same file

    with pytest.raises(ValueError, match=r"missing columns: m03.*unexpected extra columns: ward"):
        loaded.predict(planted[columns].drop(columns="m03").assign(ward=1))
    assert len(loaded.predict(planted[columns].assign(ward=1), allow_extra=True)) == len(planted)


class _Boom:
    """Unpickling this would run os.system: the loader must refuse the file without executing it."""

    def __reduce__(self) -> tuple:
        import os

        return (os.system, ("touch " + str(_Boom.marker),))


def test_load_refuses_pickles_and_anything_unexpected(tmp_path, planted: pd.DataFrame,
                                                        planted_spec: sg.ModelSpec) -> None:
    import pickle

    import joblib

    _Boom.marker = tmp_path / "pwned"
    for name, write in {"x.joblib": lambda p: joblib.dump({"format": "trialbank-signature/2", "m": _Boom()},
                                                          p),
                        "x.pkl": lambda p: p.write_bytes(pickle.dumps(_Boom()))}.items():
        write(tmp_path / name)
        with pytest.raises(sg.NotASignatureFile,
                           match=r"not a Trialbank signature file.*not plain JSON.*pickle"):
            sg.load(tmp_path / name)
    assert not _Boom.marker.exists(), "nothing in the file was executed"

    good = json.loads(sg.dumps(sg.fit_final(planted, planted_spec)))
    other = {"format": "trialbank-signature/1", "model": {}}
    extra = {**good, "py/object": "os.system"}
    inner = {**good, "model": {**good["model"], "__reduce__": ["os.system", "id"]}}
    short = {**good, "preprocessing": {**good["preprocessing"], "mean": good["preprocessing"]["mean"][:-1]}}
    code = {**good, "model": {**good["model"], "coef": ["__import__('os')"] * len(good["model"]["coef"])}}
    for doc, message in [(other, "format is 'trialbank-signature/1'"), (extra, "file: unexpected py/object"),
                         (inner, "model: unexpected __reduce__"), (short, "preprocessing.mean has 30 values"),
                         (code, "model.coef must be a list of numbers"), ([1, 2], "format is 'list'")]:
        with pytest.raises(sg.NotASignatureFile, match=message):
            sg.loads(json.dumps(doc).encode())
    with pytest.raises(sg.NotASignatureFile, match="NaN is not allowed"):
        sg.loads(b'{"format": "trialbank-signature/2", "x": NaN}')


def test_same_seeds_same_result(planted: pd.DataFrame, planted_spec: sg.ModelSpec,
                                planted_run: sg.ValidationResult) -> None:
    again = sg.validate(planted, planted_spec, permutations=0)
    assert again.auc == planted_run.auc
    pd.testing.assert_frame_equal(again.selection, planted_run.selection)


def test_provenance_and_reports(planted: pd.DataFrame, planted_run: sg.ValidationResult) -> None:
    prov = planted_run.provenance
    assert prov["seeds"] == [1, 2]
    assert prov["params"]["penalty"] == "l1" and prov["params"]["forced"] == ["age"]
    assert prov["permutations"] == 19
    assert len(prov["dataset_sha256"]) == 64
    assert prov["dataset_sha256"] == dataset_sha256(planted, planted_run.spec.columns)
    for pkg in ("numpy", "pandas", "scipy", "scikit-learn", "lifelines", "python"):
        assert prov["versions"][pkg]
    changed = planted.copy()
    changed.loc[changed.index[0], "m00"] += 1e-9
    assert dataset_sha256(changed, planted_run.spec.columns) != prov["dataset_sha256"]

    text = planted_run.methods_text()
    for phrase in ("5-fold outer", "repeated 2 times", "seeds 1, 2", "3-fold stratified inner",
                   "8 log-spaced",
                   "19 times", "age were always included", "DeLong"):
        assert phrase in text
    blob = json.loads(json.dumps(planted_run.to_dict()))
    assert blob["auc"] == pytest.approx(planted_run.auc)
    assert blob["selection"][0]["marker"] in {"m00", "m01", "m02"}


def test_watch_and_wait_from_a_run(planted: pd.DataFrame, planted_spec: sg.ModelSpec,
                                   planted_run: sg.ValidationResult) -> None:
    table = planted_run.watch_and_wait([0.1, 0.3])
    preds = planted_run.predictions
    spared = preds["prob_mean"] < 0.3
    assert table.loc[1, "surgeries_avoided"] == spared.sum()
    assert table.loc[1, "residual_missed"] == (spared & (preds["y"] == 1)).sum()


def test_figures_render(planted_run: sg.ValidationResult) -> None:
    cal = planted_run.calibration
    png = signature_figures.calibration_plot(cal["points"], cal["slope"], cal["intercept"])
    svg = signature_figures.decision_curve_plot(planted_run.decision_curve, fmt="svg")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in svg[:500]


@pytest.mark.parametrize("penalty", ["elasticnet", "ridge", "none"])
def test_other_penalties_run(planted: pd.DataFrame, penalty: str) -> None:
    spec = sg.ModelSpec(outcome=sg.BinaryOutcome("pcr"), markers=["m00", "m01", "m02", "m03", "m04"],
                        transform="log2", penalty=penalty, permutations=0, **FAST)
    run = sg.validate(planted, spec)
    assert run.auc > 0.7
    if penalty != "elasticnet":
        assert (run.selection["frequency"] == 1.0).all()  # ridge and no penalty keep every marker
    assert sg.fit_final(planted, spec).predict(planted[spec.predictors]).between(0, 1).all()
