"""Multi-marker signatures: penalised logistic / Cox models with honest (nested, permutation-tested)
validation.

Public API::

    spec = ModelSpec(outcome=BinaryOutcome("pcr", event=0) | SurvivalOutcome("dfs_days", "dfs_event"),
                     markers=[...], forced=[...], transform="log2", penalty="l1")
    run = validate(df, spec)          # ValidationResult: .auc/.auc_ci or .cindex, .calibration,
    .permutation_p
                                      # and .selection, .fold_table, .decision_curve, .provenance,
                                      .methods_text()
    model = fit_final(df, spec)       # FinalModel: .predict(new_df), .save(path); load(path) (plain JSON)
    decision_curve(y, prob, thresholds); watch_and_wait_table(y_residual, prob, thresholds, per=100)

The names below are imported on first use (PEP 562), so that ``analysis.signatures.spec`` (the options a form
or schema offers) can be read without importing scikit-learn, lifelines and scipy.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from analysis.decision import decision_curve, watch_and_wait_table

    from .export import NotASignatureFile, dumps, load, loads
    from .model import FinalModel, PenalisedCox, PenalisedLogistic, fit_final
    from .preprocess import MarkerPreprocessor
    from .spec import BinaryOutcome, ModelSpec, SurvivalOutcome
    from .validate import ValidationResult, validate

_HOMES = {
    "decision_curve": "analysis.decision", "watch_and_wait_table": "analysis.decision",
    "FinalModel": ".model", "PenalisedCox": ".model", "PenalisedLogistic": ".model", "fit_final": ".model",
    "load": ".export", "loads": ".export", "dumps": ".export", "NotASignatureFile": ".export",
    "MarkerPreprocessor": ".preprocess", "BinaryOutcome": ".spec", "ModelSpec": ".spec",
    "SurvivalOutcome": ".spec", "ValidationResult": ".validate", "validate": ".validate",
}

__all__ = [
    "BinaryOutcome",
    "FinalModel",
    "MarkerPreprocessor",
    "ModelSpec",
    "NotASignatureFile",
    "PenalisedCox",
    "PenalisedLogistic",
    "SurvivalOutcome",
    "ValidationResult",
    "decision_curve",
    "dumps",
    "fit_final",
    "load",
    "loads",
    "validate",
    "watch_and_wait_table",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value


class _Package(types.ModuleType):
    """``validate`` is both a submodule and the function it holds: the package name stays the function.

    (Importing a submodule binds it on its package; without this, importing ``analysis.signatures.validate``
    before ``analysis.signatures.validate`` was first read would leave the module where the function belongs.)
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "validate" and isinstance(value, types.ModuleType):
            value = value.validate
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
