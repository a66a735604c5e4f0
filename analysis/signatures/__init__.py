"""Multi-marker signatures: penalised logistic / Cox models with honest (nested, permutation-tested)
validation.

Public API::

    spec = ModelSpec(outcome=BinaryOutcome("pcr", event=0) | SurvivalOutcome("dfs_days", "dfs_event"),
                     markers=[...], forced=[...], transform="log2", penalty="l1")
    run = validate(df, spec)          # ValidationResult: .auc/.auc_ci or .cindex, .calibration,
    .permutation_p,
                                      # .selection, .fold_table, .decision_curve, .provenance, .methods_text()
    model = fit_final(df, spec)       # FinalModel: .predict(new_df), .save(path); load(path) (plain JSON)
    decision_curve(y, prob, thresholds); watch_and_wait_table(y_residual, prob, thresholds, per=100)
"""

from analysis.decision import decision_curve, watch_and_wait_table

from .export import NotASignatureFile, dumps, load, loads
from .model import FinalModel, PenalisedCox, PenalisedLogistic, fit_final
from .preprocess import MarkerPreprocessor
from .spec import BinaryOutcome, ModelSpec, SurvivalOutcome
from .validate import ValidationResult, validate

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
