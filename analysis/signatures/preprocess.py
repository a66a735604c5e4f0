"""Fold-safe preprocessing: median imputation, per-marker transform, standardisation.

Every parameter (medians, log pseudocounts, means, standard deviations) is learnt from the training rows only
and then applied unchanged to held-out rows, so nothing about a test fold leaks into the model. The same numpy
core is used inside the cross-validation (fast, many folds at once) and by the exported scikit-learn step
:class:`MarkerPreprocessor`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin


@dataclass
class PrepParams:
    """Learnt preprocessing parameters for columns ``forced + markers``."""

    median: np.ndarray
    pseudocount: np.ndarray  # used by log2 columns only
    mean: np.ndarray
    scale: np.ndarray


def _apply_transform(X: np.ndarray, codes: list[str], pseudocount: np.ndarray) -> np.ndarray:
    out = X.copy()
    for j, code in enumerate(codes):
        if code == "log2":
            out[:, j] = np.log2(np.maximum(out[:, j], 0.0) + pseudocount[j])
        elif code == "log1p":
            out[:, j] = np.log1p(np.maximum(out[:, j], 0.0))
        elif code == "asinh":
            out[:, j] = np.arcsinh(out[:, j])
    return out


def fit_params(X: np.ndarray, codes: list[str]) -> PrepParams:
    """Learn imputation, transform and scaling parameters from training rows ``X``."""
    with np.errstate(all="ignore"):
        observed = ~np.isnan(X)
        any_obs = observed.any(axis=0)
        median = np.zeros(X.shape[1])
        if any_obs.any():
            median[any_obs] = np.nanmedian(X[:, any_obs], axis=0)
        filled = np.where(observed, X, median)
        pseudocount = np.ones(X.shape[1])
        for j, code in enumerate(codes):
            if code == "log2":
                pos = filled[:, j][filled[:, j] > 0]
                pseudocount[j] = pos.min() / 2 if len(pos) else 1.0
        Z = _apply_transform(filled, codes, pseudocount)
        mean = Z.mean(axis=0)
        scale = Z.std(axis=0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    return PrepParams(median=median, pseudocount=pseudocount, mean=mean, scale=scale)


def transform(X: np.ndarray, codes: list[str], params: PrepParams) -> np.ndarray:
    """Apply learnt parameters to any rows."""
    filled = np.where(np.isnan(X), params.median, X)
    Z = _apply_transform(filled, codes, params.pseudocount)
    return (Z - params.mean) / params.scale


class MarkerPreprocessor(TransformerMixin, BaseEstimator):
    """scikit-learn step: impute (training median) → transform (per column) → standardise (training mean/sd).

    ``columns`` fixes the column order; ``transforms`` maps column → one of :data:`TRANSFORMS`.
    Negative values are an error for ``log2`` and ``log1p`` columns (they would be silently clipped
    otherwise).
    """

    def __init__(self, columns: list[str], transforms: dict[str, str]) -> None:
        self.columns = columns
        self.transforms = transforms

    def _codes(self) -> list[str]:
        return [self.transforms.get(c, "none") for c in self.columns]

    def _array(self, X: pd.DataFrame) -> np.ndarray:
        arr = X[self.columns].to_numpy(dtype=float)
        check_nonnegative(arr, self.columns, self._codes())
        return arr

    def fit(self, X: pd.DataFrame, y: object = None) -> MarkerPreprocessor:
        self.params_ = fit_params(self._array(X), self._codes())
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        return transform(self._array(X), self._codes(), self.params_)


def check_nonnegative(arr: np.ndarray, columns: list[str], codes: list[str]) -> None:
    """Raise if a log-transformed column holds negative values."""
    bad = [
        c
        for j, (c, code) in enumerate(zip(columns, codes, strict=True))
        if code in ("log2", "log1p") and np.nanmin(arr[:, j], initial=0.0) < 0
    ]
    if bad:
        raise ValueError(
            f"negative values in log-transformed markers: {', '.join(bad)}; "
            "use transform='none' or 'asinh' for these columns, or fix the data"
        )
