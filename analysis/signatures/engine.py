"""Nested cross-validation engine: many (outer fold × inner fold × permutation) fits solved as one stack.

A *job* is one full nested CV (one repeat) on one version of the predictor matrix (the observed one, or one
with rows permuted against the outcome for the permutation test). Permuting predictor rows against a fixed
outcome is the same null as permuting the outcome, and it lets every job share the outcome, its sort order and
the stratified folds.

Inside a job, for each outer fold f:
- the preprocessing of every problem is fitted on that problem's training rows only (inner-training rows for
  the inner problems, outer-training rows for the outer one) and then applied to all rows;
- the penalty grid comes from the outer-training problem (lambda_max down to ``lambda_min_ratio`` × it) and is
  shared by its inner problems, as in glmnet;
- the penalty minimising the inner cross-validated loss (binary: log-loss on the inner validation rows;
  survival: the Verweij–van Houwelingen cross-validated partial likelihood) is picked, ties going to the
  larger penalty;
- the outer-training fit at that penalty predicts the outer test rows, which no step has seen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedKFold

from . import preprocess
from .checks import Prepared
from .solver import CoxLoss, LogisticLoss, initial_step, lambda_grid, lambda_max, null_solution, solve_path
from .spec import ModelSpec


@dataclass
class Design:
    """Fold structure of one repeat (row indices into the prepared arrays)."""

    seed: int
    outer: list[tuple[np.ndarray, np.ndarray]]
    inner: list[list[tuple[np.ndarray, np.ndarray]]]


@dataclass
class JobResult:
    """Outcome of one nested CV: out-of-fold predictions and the per-outer-fold models."""

    oof: np.ndarray  # binary: P(event); survival: linear predictor
    fold_of: np.ndarray  # outer fold of each row
    lam: np.ndarray  # (K,) chosen penalty
    lam_index: np.ndarray  # (K,)
    coef: np.ndarray  # (K, q) coefficients on standardised predictors at the chosen penalty
    intercept: np.ndarray  # (K,)
    converged: np.ndarray  # (K,) outer fit converged at every path step up to the chosen one
    cv_loss: np.ndarray  # (K, L) inner CV loss curve per outer fold
    grid: np.ndarray  # (K, L) penalty grid per outer fold


def make_design(strata: np.ndarray, outer_folds: int, inner_folds: int | None, seed: int) -> Design:
    """Stratified outer folds and, within each outer training set, stratified inner folds."""
    outer = list(StratifiedKFold(outer_folds, shuffle=True, random_state=seed).split(strata, strata))
    inner: list[list[tuple[np.ndarray, np.ndarray]]] = []
    for f, (train, _) in enumerate(outer):
        if inner_folds is None:
            inner.append([])
            continue
        skf = StratifiedKFold(inner_folds, shuffle=True, random_state=seed * 1000 + f)
        inner.append([(train[a], train[b]) for a, b in skf.split(train, strata[train])])
    return Design(seed=seed, outer=outer, inner=inner)


def _loss(prep: Prepared, spec: ModelSpec) -> LogisticLoss | CoxLoss:
    l2 = fixed_ridge(spec, prep.kind)
    return LogisticLoss(prep.y, l2) if prep.kind == "binary" else CoxLoss(prep.times, prep.y, l2)


def fixed_ridge(spec: ModelSpec, kind: str) -> np.ndarray | None:
    """``spec.forced_ridge`` on forced covariates, 0 elsewhere (None when there is nothing to add)."""
    if not spec.forced or spec.forced_ridge == 0:
        return None
    l2 = np.r_[np.full(len(spec.forced), spec.forced_ridge), np.zeros(len(spec.markers))]
    return np.r_[0.0, l2] if kind == "binary" else l2


def penalty_factors(spec: ModelSpec, kind: str) -> np.ndarray:
    """0 for intercept (binary) and forced covariates, 1 for markers (0 for all when penalty='none')."""
    pf = np.r_[np.zeros(len(spec.forced)), np.ones(len(spec.markers))]
    if spec.penalty == "none":
        pf[:] = 0.0
    return np.r_[0.0, pf] if kind == "binary" else pf


def design_matrix(Xraw: np.ndarray, rows: np.ndarray, codes: list[str], kind: str) -> np.ndarray:
    """Preprocess all rows with parameters learnt on ``rows``; binary adds the intercept column."""
    params = preprocess.fit_params(Xraw[rows], codes)
    Z = preprocess.transform(Xraw, codes, params)
    return np.c_[np.ones(len(Z)), Z] if kind == "binary" else Z


def run_jobs(prep: Prepared, spec: ModelSpec, jobs: list[tuple[np.ndarray, Design]], max_cells: float = 3e6
             ) -> list[JobResult]:
    """Run nested CVs for (predictor matrix, design) pairs, stacking as many as fit in ``max_cells``
    numbers."""
    K, J = _shape(jobs[0][1])
    per_job = K * (J + 1)
    q = prep.X.shape[1] + (1 if prep.kind == "binary" else 0)
    chunk = max(1, int(max_cells // (per_job * prep.n * q)))
    results: list[JobResult] = []
    for start in range(0, len(jobs), chunk):
        results.extend(_run_chunk(prep, spec, jobs[start:start + chunk]))
    return results


def _run_chunk(prep: Prepared, spec: ModelSpec, jobs: list[tuple[np.ndarray, Design]]) -> list[JobResult]:
    kind, n = prep.kind, prep.n
    codes = [spec.transforms[c] for c in spec.predictors]
    K, J = _shape(jobs[0][1])
    per_job = K * (J + 1)
    Xs, Ws = [], []
    # problem layout per job: [outer 0..K-1, then inner (f, k) at K + f*J + k]
    for Xraw, design in jobs:
        for train, _ in design.outer:
            Xs.append(design_matrix(Xraw, train, codes, kind))
            Ws.append(_weights(n, train))
        for f in range(K):
            for train, _ in design.inner[f]:
                Xs.append(design_matrix(Xraw, train, codes, kind))
                Ws.append(_weights(n, train))
    X = np.stack(Xs)
    W = np.stack(Ws)
    _check_problem_classes(prep, W, jobs, K, J)
    loss = _loss(prep, spec)
    pf = penalty_factors(spec, kind)
    alpha = spec.alpha
    step = initial_step(X, W, kind, 0.0 if loss.l2 is None else float(loss.l2.max()))
    beta0 = null_solution(loss, X, W, pf, step)
    owner = np.array([j * per_job + f for j in range(len(jobs))
                      for f in list(range(K)) + [f for f in range(K) for _ in range(J)]])
    if spec.penalty == "none":
        lams = np.zeros((len(X), 1))
    else:
        lmax = lambda_max(loss, X, W, beta0, alpha, pf)
        lams = lambda_grid(lmax[owner], spec.n_lambda, spec.lambda_min_ratio)
    path = solve_path(loss, X, W, lams, alpha, pf, kind=kind, tol=spec.tol, max_iter=spec.max_iter,
                      beta_start=beta0)
    eta = np.einsum("bnp,blp->bln", X, path.coef)  # (B, L, n) linear predictors on every row
    L = lams.shape[1]
    out = []
    for j, (_, design) in enumerate(jobs):
        base = j * per_job
        cv_loss = np.zeros((K, L))
        for f in range(K):
            for k, (_train, val) in enumerate(design.inner[f]):
                b = base + K + f * J + k
                if kind == "binary":
                    e = eta[b][:, val]
                    yv = prep.y[val]
                    cv_loss[f] += (np.logaddexp(0.0, e) - yv * e).sum(axis=1)
                else:
                    assert isinstance(loss, CoxLoss)  # kind is "survival"
                    outer_w = np.broadcast_to(_weights(n, design.outer[f][0]), (L, n))
                    inner_w = np.broadcast_to(W[b], (L, n))
                    cv_loss[f] -= loss.loglik(eta[b], outer_w) - loss.loglik(eta[b], inner_w)
        pick = cv_loss.argmin(axis=1)
        oof = np.full(n, np.nan)
        fold_of = np.zeros(n, dtype=int)
        coef = np.zeros((K, prep.X.shape[1]))
        icpt = np.zeros(K)
        conv = np.zeros(K, dtype=bool)
        for f, (_, test) in enumerate(design.outer):
            b, l = base + f, pick[f]
            lin = eta[b, l, test]
            oof[test] = 1.0 / (1.0 + np.exp(-lin)) if kind == "binary" else lin
            fold_of[test] = f
            c = path.coef[b, l]
            coef[f], icpt[f] = (c[1:], c[0]) if kind == "binary" else (c, 0.0)
            conv[f] = bool(path.converged[b, : l + 1].all())
        out.append(JobResult(oof=oof, fold_of=fold_of, lam=lams[base + np.arange(K), pick], lam_index=pick,
                             coef=coef, intercept=icpt, converged=conv, cv_loss=cv_loss,
                             grid=lams[base:base + K]))
    return out


def _shape(design: Design) -> tuple[int, int]:
    return len(design.outer), len(design.inner[0])


def _weights(n: int, rows: np.ndarray) -> np.ndarray:
    w = np.zeros(n)
    w[rows] = 1.0
    return w


def _check_problem_classes(prep: Prepared, W: np.ndarray, jobs: list, K: int, J: int) -> None:
    pos = W @ prep.y
    tot = W.sum(axis=1)
    bad = (pos == 0) | ((pos == tot) & (prep.kind == "binary"))
    if bad.any():
        b = int(np.flatnonzero(bad)[0])
        per_job = K * (J + 1)
        i = b % per_job
        where = f"outer fold {i + 1}" if i < K else (f"inner fold {(i - K) % J + 1} of outer fold "
                                                     f"{(i - K) // J + 1}")
        raise ValueError(
            f"a training set ({where}) has one outcome class only (or no events); "
            "reduce outer_folds/inner_folds so that every fold holds both classes"
        )
