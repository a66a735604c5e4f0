"""Input checks with messages that name the problem and what to change; turns a frame into model arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .spec import ModelSpec


@dataclass
class Prepared:
    """Model-ready arrays. Survival rows are sorted by time (``index`` keeps the original row labels)."""

    kind: str
    X: np.ndarray  # raw predictors, columns = spec.predictors
    y: np.ndarray  # binary: 1 = event class; survival: event indicator
    time: np.ndarray | None
    index: pd.Index
    n_dropped: int
    classes: tuple  # binary: (non-event value, event value)

    @property
    def times(self) -> np.ndarray:
        """Follow-up times; only a survival outcome has them."""
        if self.time is None:
            raise ValueError("a binary outcome has no follow-up times")
        return self.time

    @property
    def strata(self) -> np.ndarray:
        return self.y.astype(int)

    @property
    def n(self) -> int:
        return len(self.y)

    @property
    def n_events(self) -> int:
        return int(self.y.sum())


def require_columns(df: pd.DataFrame, columns: list[str], what: str = "the data") -> None:
    """Raise a ValueError listing columns that ``df`` lacks."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what} lacks required columns: {', '.join(missing)}")


def prepare(df: pd.DataFrame, spec: ModelSpec) -> Prepared:
    """Check ``df`` against ``spec`` and return model arrays; every failure says what to change."""
    require_columns(df, spec.columns)
    non_numeric = [c for c in spec.predictors if not pd.api.types.is_numeric_dtype(df[c])]
    if non_numeric:
        raise ValueError(
            f"non-numeric predictor columns: {', '.join(non_numeric)}; convert them to numbers "
            "(dummy-code categories, e.g. pandas.get_dummies, and list the dummies)"
        )
    out = spec.outcome
    keep = df[out.columns].notna().all(axis=1)
    data = df.loc[keep]
    n_dropped = int((~keep).sum())
    classes: tuple = ()
    time = None
    if out.kind == "binary":
        values = data[out.column]
        levels = sorted(pd.unique(values), key=str)
        if out.event not in levels:
            raise ValueError(
                f"outcome {out.column!r} never takes the event value {out.event!r} "
                f"(values: {', '.join(map(str, levels))}); set BinaryOutcome(event=...)"
            )
        if len(levels) == 1:
            raise ValueError(
                f"outcome {out.column!r} has one class only ({levels[0]!r} in all {len(values)} patients); "
                "a model needs patients of both classes"
            )
        if len(levels) > 2:
            raise ValueError(
                f"outcome {out.column!r} has {len(levels)} values ({', '.join(map(str, levels))}); "
                "a binary outcome needs exactly two"
            )
        other = next(v for v in levels if v != out.event)
        classes = (other, out.event)
        y = (values == out.event).to_numpy(dtype=float)
        X = data[spec.predictors].to_numpy(dtype=float)
        index = data.index
    else:
        t = pd.to_numeric(data[out.time], errors="coerce").to_numpy(dtype=float)
        e = pd.to_numeric(data[out.event], errors="coerce").to_numpy(dtype=float)
        if np.isnan(t).any() or (t <= 0).any():
            raise ValueError(f"time column {out.time!r} must hold positive numbers of days")
        if not np.isin(e, (0.0, 1.0)).all():
            raise ValueError(f"event column {out.event!r} must be 0 (censored) or 1 (event)")
        if e.sum() == 0:
            raise ValueError(f"event column {out.event!r} has no events; a survival model needs events")
        order = np.argsort(t, kind="mergesort")
        time, y = t[order], e[order]
        X = data[spec.predictors].to_numpy(dtype=float)[order]
        index = data.index[order]
    _check_variance(X, spec)
    _check_folds(y, spec, out.kind)
    _check_dimension(X, y, spec)
    return Prepared(kind=out.kind, X=X, y=y, time=time, index=index, n_dropped=n_dropped, classes=classes)


def _check_variance(X: np.ndarray, spec: ModelSpec) -> None:
    flat = []
    for j, c in enumerate(spec.predictors):
        col = X[:, j]
        col = col[~np.isnan(col)]
        if len(col) == 0 or np.ptp(col) == 0:
            flat.append(c)
    if flat:
        raise ValueError(
            f"no variance in {len(flat)} of {len(spec.predictors)} predictors (constant or all missing): "
            f"{', '.join(flat)}; drop them from markers/forced, they cannot separate patients"
        )


def _check_folds(y: np.ndarray, spec: ModelSpec, kind: str) -> None:
    label = "events" if kind == "survival" else "patients in the smaller outcome class"
    n_min = int(min(y.sum(), len(y) - y.sum())) if kind == "binary" else int(y.sum())
    K, J = spec.outer_folds, spec.inner_folds
    need = K
    if spec.penalty != "none":
        # every outer training fold must still hold at least J of them for the inner folds
        need = max(K, int(np.ceil(J * K / (K - 1))))
    if n_min < need:
        raise ValueError(
            f"too few {label} for the folds: {n_min}, but outer_folds={K}"
            + (f" with inner_folds={J}" if spec.penalty != "none" else "")
            + f" needs at least {need}, otherwise a fold would hold one outcome class only (or no events); "
            "reduce outer_folds/inner_folds (e.g. 3 and 3) or use an outcome with more events"
        )


def _check_dimension(X: np.ndarray, y: np.ndarray, spec: ModelSpec) -> None:
    if spec.penalty != "none":
        return
    n_train = int(np.floor(len(y) * (spec.outer_folds - 1) / spec.outer_folds))
    p = X.shape[1] + (1 if spec.outcome.kind == "binary" else 0)
    if p >= n_train:
        raise ValueError(
            f"{X.shape[1]} predictors but only {n_train} patients per training fold with penalty='none': "
            "an unpenalised model is not identifiable; use penalty='l1' or 'elasticnet', or fewer markers"
        )
