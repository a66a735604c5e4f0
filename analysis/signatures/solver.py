"""Batched proximal-gradient solvers for penalised logistic and Cox regression.

Why not scikit-learn's LogisticRegression or lifelines' CoxPHFitter inside the cross-validation: a nested
cross-validation with a permutation test fits tens of thousands of small models, and neither library lets some
coefficients go unpenalised (forced clinical covariates) while others carry an L1 / elastic-net penalty. Here
many problems that share the same rows and outcome (folds, inner folds, permutations) are solved at once as a
stack: each problem is a transformed design matrix plus 0/1 row weights that say which rows are its training
set.

Objective of problem b at penalty ``lam``:

    loss_b(beta) + lam * sum_j pf_j * (alpha * |beta_j| + (1 - alpha) / 2 * beta_j**2)

where ``loss_b`` is the weighted mean negative log-likelihood (logistic: Bernoulli deviance / 2; Cox: Breslow
partial likelihood divided by the number of training rows, the glmnet scaling and ``lifelines``'
``penalizer`` scaling). ``pf_j = 0`` leaves a coefficient out of the tuned penalty (intercept, forced
covariates). A loss may carry a fixed ridge term ``0.5 * sum_j l2_j * beta_j**2``: a small one on forced
covariates keeps their estimates finite when a covariate separates the outcome in some fold.

The algorithm is FISTA with backtracking and adaptive (gradient) restart, warm-started along a decreasing
penalty path. Tests check it against scikit-learn (L1 logistic) and lifelines (ridge Cox) at fixed penalties.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

_TINY = 1e-300
_COMPACT = 8


class LogisticLoss:
    """Weighted mean logistic loss for a stack of problems sharing ``y``; column 0 of X is the intercept.

    Its gradient is Lipschitz with constant λmax(XᵀWX) / (4 Σw), so a fixed step needs no line search.
    """

    exact_step = True

    def __init__(self, y: np.ndarray, l2: np.ndarray | None = None) -> None:
        self.y = np.asarray(y, dtype=float)
        self.l2 = l2

    def value_grad(
        self, X: np.ndarray, w: np.ndarray, beta: np.ndarray, need_grad: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None]:
        eta = _matvec(X, beta)
        nw = w.sum(axis=1)
        value = (w * (np.logaddexp(0.0, eta) - self.y * eta)).sum(axis=1) / nw + _ridge(beta, self.l2)
        if not need_grad:
            return value, None
        return value, self.grad(X, w, beta, eta)

    def grad(self, X: np.ndarray, w: np.ndarray, beta: np.ndarray,
             eta: np.ndarray | None = None) -> np.ndarray:
        eta = _matvec(X, beta) if eta is None else eta
        r = w * (expit(eta) - self.y) / w.sum(axis=1)[:, None]
        g = _rmatvec(X, r)
        return g if self.l2 is None else g + self.l2 * beta


class CoxLoss:
    """Weighted Breslow negative log partial likelihood / n for problems sharing (time, event).

    Rows must be sorted by time ascending (``order`` is applied by the caller once, for every problem).
    No β-free Lipschitz bound is tight here, so FISTA uses backtracking.
    """

    exact_step = False

    def __init__(self, time: np.ndarray, event: np.ndarray, l2: np.ndarray | None = None) -> None:
        self.l2 = l2
        time = np.asarray(time, dtype=float)
        if np.any(np.diff(time) < 0):
            raise ValueError("CoxLoss needs rows sorted by time")
        self.event = np.asarray(event, dtype=float)
        n = len(time)
        # first / last index of each row's tie group (risk set = all rows with time >= t_i)
        starts = np.r_[True, time[1:] != time[:-1]]
        group = np.cumsum(starts) - 1
        first_of_group = np.flatnonzero(starts)
        last_of_group = np.r_[first_of_group[1:] - 1, n - 1]
        self.first = first_of_group[group]
        self.last = last_of_group[group]

    def loglik(self, eta: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Weighted Breslow log partial likelihood, summed (not averaged), one value per problem."""
        m = eta.max(axis=1, keepdims=True)
        e = w * np.exp(eta - m)
        rc = np.cumsum(e[:, ::-1], axis=1)[:, ::-1]
        S = rc[:, self.first]
        de = w * self.event
        return (de * (eta - m - np.log(np.maximum(S, _TINY)))).sum(axis=1)

    def value_grad(
        self, X: np.ndarray, w: np.ndarray, beta: np.ndarray, need_grad: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None]:
        eta = _matvec(X, beta)
        m = eta.max(axis=1, keepdims=True)
        e = w * np.exp(eta - m)
        rc = np.cumsum(e[:, ::-1], axis=1)[:, ::-1]
        S = np.maximum(rc[:, self.first], _TINY)
        de = w * self.event
        nw = w.sum(axis=1)
        value = -(de * (eta - m - np.log(S))).sum(axis=1) / nw + _ridge(beta, self.l2)
        if not need_grad:
            return value, None
        A = np.cumsum(de / S, axis=1)[:, self.last]
        r = (e * A - de) / nw[:, None]
        g = _rmatvec(X, r)
        return value, g if self.l2 is None else g + self.l2 * beta


def _ridge(beta: np.ndarray, l2: np.ndarray | None) -> np.ndarray | float:
    return 0.0 if l2 is None else 0.5 * (l2 * beta**2).sum(axis=1)


def _matvec(X: np.ndarray, beta: np.ndarray) -> np.ndarray:
    return np.matmul(X, beta[:, :, None])[:, :, 0]


def _rmatvec(X: np.ndarray, r: np.ndarray) -> np.ndarray:
    return np.matmul(r[:, None, :], X)[:, 0, :]


@dataclass
class PathResult:
    """Coefficients along the penalty path: ``coef[b, l, j]`` for problem b at lambdas[b, l]."""

    coef: np.ndarray
    lambdas: np.ndarray
    converged: np.ndarray  # (B, L) bool
    iterations: np.ndarray  # (B, L) int


def _prox(z: np.ndarray, step: np.ndarray, lam: np.ndarray, alpha: float, pf: np.ndarray) -> np.ndarray:
    """Elastic-net proximal map with per-problem step and penalty and per-coefficient penalty factors."""
    s = (step * lam)[:, None] * pf[None, :]
    return np.sign(z) * np.maximum(np.abs(z) - s * alpha, 0.0) / (1.0 + s * (1.0 - alpha))


def _penalty(beta: np.ndarray, lam: np.ndarray, alpha: float, pf: np.ndarray) -> np.ndarray:
    return lam * (pf * (alpha * np.abs(beta) + 0.5 * (1 - alpha) * beta**2)).sum(axis=1)


def fista(
    loss: LogisticLoss | CoxLoss,
    X: np.ndarray,
    w: np.ndarray,
    lam: np.ndarray,
    alpha: float,
    pf: np.ndarray,
    beta0: np.ndarray,
    step0: np.ndarray,
    *,
    tol: float = 1e-6,
    max_iter: int = 3000,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Solve a stack of problems at one penalty each; return (beta, step, converged, iterations).

    A problem stops once no coefficient moves by more than ``tol`` × max(1, max|beta|) in one step; every
    ``_COMPACT`` iterations the stack is shrunk to the problems still running.
    """
    B = len(beta0)
    x_all = beta0.copy()
    step_all = step0.copy()
    converged = np.zeros(B, dtype=bool)
    iterations = np.full(B, max_iter)
    act = np.arange(B)
    Xa, wa, lama = X, w, lam
    x, yk, theta, step = x_all.copy(), x_all.copy(), np.ones(B), step_all.copy()
    it = 0
    while it < max_iter:
        it += 1
        if isinstance(loss, LogisticLoss):  # exact_step: a fixed step, no line search
            x_new = _prox(yk - step[:, None] * loss.grad(Xa, wa, yk), step, lama, alpha, pf)
        else:
            x_new, step = _backtrack(loss, Xa, wa, yk, step, lama, alpha, pf)
        delta = np.abs(x_new - x).max(axis=1)
        done = delta <= tol * np.maximum(1.0, np.abs(x_new).max(axis=1))
        # adaptive restart (O'Donoghue & Candes 2015): drop momentum when it points uphill
        restart = ((yk - x_new) * (x_new - x)).sum(axis=1) > 0
        theta_new = (1 + np.sqrt(1 + 4 * theta**2)) / 2
        mom = np.where(restart, 0.0, (theta - 1) / theta_new)
        theta = np.where(restart, 1.0, theta_new)
        yk = x_new + mom[:, None] * (x_new - x)
        x = x_new
        newly = done & ~converged[act]
        if newly.any():
            idx = act[newly]
            x_all[idx], step_all[idx] = x[newly], step[newly]
            converged[idx] = True
            iterations[idx] = it
        keep = ~converged[act]
        if not keep.any():
            break
        if keep.all():
            continue
        # shrink the stack when it pays (copying X costs about one iteration)
        if it % _COMPACT == 0 or keep.mean() < 0.5:
            act, x, yk, theta, step = act[keep], x[keep], yk[keep], theta[keep], step[keep]
            Xa, wa, lama = X[act], w[act], lam[act]
        else:
            # finished problems ride along but are frozen at their converged value
            frozen = ~keep
            yk = np.where(frozen[:, None], x_all[act], yk)
            x = np.where(frozen[:, None], x_all[act], x)
            theta = np.where(frozen, 1.0, theta)
    still = ~converged[act]
    x_all[act[still]] = x[still]
    step_all[act[still]] = step[still]
    return x_all, step_all, converged, iterations


def _backtrack(loss: CoxLoss | LogisticLoss, X: np.ndarray, w: np.ndarray, yk: np.ndarray, step: np.ndarray,
               lam: np.ndarray, alpha: float, pf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Proximal step from ``yk``, halving each problem's step until the quadratic upper bound holds."""
    fy, gy = loss.value_grad(X, w, yk)
    while True:
        x_new = _prox(yk - step[:, None] * gy, step, lam, alpha, pf)
        f_new, _ = loss.value_grad(X, w, x_new, need_grad=False)
        d = x_new - yk
        bound = fy + (gy * d).sum(axis=1) + (d * d).sum(axis=1) / (2 * step)
        bad = f_new > bound + 1e-12 * (1 + np.abs(fy))
        if not bad.any():
            return x_new, step
        step = np.where(bad, step * 0.5, step)


def _l2_max(loss: LogisticLoss | CoxLoss) -> float:
    return 0.0 if loss.l2 is None else float(np.max(loss.l2))


def initial_step(X: np.ndarray, w: np.ndarray, kind: str, l2_max: float = 0.0) -> np.ndarray:
    """Step 1/L from the largest eigenvalue of the weighted Gram matrix.

    Exact for the logistic loss (curvature ≤ 1/4); for Cox a starting guess that backtracking corrects.
    """
    nw = w.sum(axis=1)
    Xw = X * np.sqrt(w)[:, :, None]
    n, p = X.shape[1], X.shape[2]
    if p <= n:
        G = np.einsum("bni,bnj->bij", Xw, Xw)
    else:
        G = np.einsum("bin,bjn->bij", Xw, Xw)
    top = np.linalg.eigvalsh(G)[:, -1] / nw
    scale = 0.25 if kind == "binary" else 1.0
    return 1.0 / np.maximum(scale * top + l2_max, 1e-12)


def null_solution(
    loss: LogisticLoss | CoxLoss, X: np.ndarray, w: np.ndarray, pf: np.ndarray, step: np.ndarray
) -> np.ndarray:
    """Fit only the unpenalised coefficients (intercept, forced covariates); penalised ones stay 0."""
    beta0 = np.zeros(X.shape[:1] + X.shape[2:])
    free = pf == 0
    if not free.any():
        return beta0
    # a huge penalty on the penalised coefficients keeps them at exactly zero
    big = np.full(len(X), 1e12)
    beta, _, _, _ = fista(loss, X, w, big, 1.0, pf, beta0, step, tol=1e-8, max_iter=5000)
    return beta


def lambda_max(
    loss: LogisticLoss | CoxLoss, X: np.ndarray, w: np.ndarray, beta_null: np.ndarray, alpha: float,
    pf: np.ndarray
) -> np.ndarray:
    """Smallest penalty at which every penalised coefficient is zero (alpha floored at 1e-3, as glmnet)."""
    _, g = loss.value_grad(X, w, beta_null)
    assert g is not None  # need_grad is on
    pen = pf > 0
    if not pen.any():
        return np.zeros(len(X))
    return np.abs(g[:, pen] / pf[pen]).max(axis=1) / max(alpha, 1e-3)


def solve_path(
    loss: LogisticLoss | CoxLoss,
    X: np.ndarray,
    w: np.ndarray,
    lambdas: np.ndarray,
    alpha: float,
    pf: np.ndarray,
    *,
    kind: str,
    tol: float = 1e-6,
    max_iter: int = 3000,
    beta_start: np.ndarray | None = None,
) -> PathResult:
    """Warm-started path over ``lambdas`` (B, L), largest first, for every problem of the stack."""
    B, L = lambdas.shape
    step = initial_step(X, w, kind, _l2_max(loss))
    beta = null_solution(loss, X, w, pf, step) if beta_start is None else beta_start
    coef = np.zeros((B, L, X.shape[2]))
    converged = np.zeros((B, L), dtype=bool)
    iterations = np.zeros((B, L), dtype=int)
    for k in range(L):
        beta, step, conv, its = fista(loss, X, w, lambdas[:, k], alpha, pf, beta, step, tol=tol,
                                      max_iter=max_iter)
        coef[:, k] = beta
        converged[:, k] = conv
        iterations[:, k] = its
    return PathResult(coef=coef, lambdas=lambdas, converged=converged, iterations=iterations)


def lambda_grid(lmax: np.ndarray, n_lambda: int, min_ratio: float) -> np.ndarray:
    """Log-spaced grid from each problem's lambda_max down to min_ratio * lambda_max, shape (B, n_lambda)."""
    frac = np.logspace(0.0, np.log10(min_ratio), n_lambda)
    return lmax[:, None] * frac[None, :]
