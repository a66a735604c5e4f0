"""The published signature file: one plain JSON document that :func:`loads` rebuilds without executing
anything.

Why not a pickle (joblib) or skops: loading a pickle runs whatever code the file names, and a skops file still
names Python types that the loader must be told to trust. A final model is only a spec, six short float arrays
and a few numbers, so it is written out as data: anyone can read it (a text editor, R, another language) and
apply the model without Python or scikit-learn, and a file that holds anything else is refused, not run.
Floats are written with Python's shortest round-trip repr, so a loaded model predicts bit-for-bit the same.

Format ``trialbank-signature/2`` (UTF-8 JSON object; every key below is required and no other key is
allowed)::

    format            "trialbank-signature/2"
    kind              "binary" | "survival"
    spec              ModelSpec.to_dict(): outcome {kind, column, event | time, event}, markers, forced,
                      transform, penalty, l1_ratio, folds, repeats, seeds, ... (see analysis.signatures.spec)
    required_columns  predictor names in design order (forced covariates first, then markers)
    lambda            the chosen penalty; cv_loss: the CV loss curve it was chosen from (null = not finite)
    dataset_sha256, versions, created_utc   provenance
    preprocessing     {median, pseudocount, mean, scale}: one number per required column. A value x of column
                      j becomes z = (T_j(x if observed else median_j) - mean_j) / scale_j, where T_j is the
                      column's transform in spec (log2: log2(max(x, 0) + pseudocount_j); log1p: log1p(max(x,
                      0)); asinh; none).
    model             {alpha, penalty_factor, l2_fixed (null or list), tol, max_iter, converged, coef, and
                      binary: intercept -> P(event) = 1 / (1 + exp(-(intercept + z . coef)));
                      survival: baseline_times, baseline_cumhaz (Breslow) -> linear predictor z . coef and
                      risk by t = 1 - exp(-H0(t) exp(z . coef)), H0(t) the last cumhaz at a time <= t}
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import IO, Any

import numpy as np
from sklearn.pipeline import Pipeline

from .model import FinalModel, PenalisedCox, PenalisedLogistic
from .preprocess import MarkerPreprocessor, PrepParams
from .provenance import package_versions
from .spec import BinaryOutcome, ModelSpec, SurvivalOutcome

FORMAT = "trialbank-signature/2"
SUFFIX = ".json"

_TOP = {"format", "kind", "spec", "required_columns", "lambda", "cv_loss", "dataset_sha256", "versions",
        "created_utc", "preprocessing", "model"}
_PREP = ("median", "pseudocount", "mean", "scale")
_MODEL = {"alpha", "penalty_factor", "l2_fixed", "tol", "max_iter", "converged", "coef"}
_MODEL_KIND = {"binary": {"intercept"}, "survival": {"baseline_times", "baseline_cumhaz"}}


class NotASignatureFile(ValueError):
    """The bytes are not a Trialbank signature file (a pickle, another format, a tampered or foreign file)."""


def _floats(a: Any) -> list[float | None]:
    return [None if math.isnan(v) else float(v) for v in np.asarray(a, dtype=float).ravel()]


def to_dict(model: FinalModel) -> dict[str, Any]:
    """The model as the JSON-ready document described in the module docstring."""
    prep: PrepParams = model.pipeline.named_steps["prep"].params_
    est = model.pipeline.named_steps["model"]
    fitted: dict[str, Any] = {"alpha": float(est.alpha), "penalty_factor": _floats(est.penalty_factor),
                              "l2_fixed": None if est.l2_fixed is None else _floats(est.l2_fixed),
                              "tol": float(est.tol), "max_iter": int(est.max_iter),
                              "converged": bool(est.converged_), "coef": _floats(est.coef_)}
    if model.kind == "binary":
        fitted["intercept"] = float(est.intercept_)
    else:
        fitted["baseline_times"] = _floats(est.baseline_times_)
        fitted["baseline_cumhaz"] = _floats(est.baseline_cumhaz_)
    return {"format": FORMAT, "kind": model.kind, "spec": model.spec.to_dict(),
            "required_columns": list(model.required_columns), "lambda": float(model.lam),
            "cv_loss": _floats(model.cv_loss), "dataset_sha256": model.dataset_sha256,
            "versions": dict(model.versions), "created_utc": model.created_utc,
            "preprocessing": {k: _floats(getattr(prep, k)) for k in _PREP}, "model": fitted}


def dumps(model: FinalModel) -> bytes:
    """The model as UTF-8 JSON bytes (non-finite numbers other than NaN are an error, not silently
    written)."""
    return json.dumps(to_dict(model), allow_nan=False, ensure_ascii=False, indent=1).encode("utf-8")


def save(model: FinalModel, path: str | Path) -> None:
    Path(path).write_bytes(dumps(model))


def load(source: str | Path | bytes | IO[bytes]) -> FinalModel:
    """Load a saved model from a path, bytes or a binary file; warns if numpy/scikit-learn versions differ."""
    if isinstance(source, bytes):
        data = source
    elif isinstance(source, (str, Path)):
        data = Path(source).read_bytes()
    else:
        data = source.read()
    return loads(data)


def loads(data: bytes) -> FinalModel:
    """Rebuild a model from :func:`dumps` bytes; anything that is not exactly that format is refused."""
    try:
        doc = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except ValueError as exc:  # UnicodeDecodeError, JSONDecodeError, NaN/Infinity
        raise NotASignatureFile(f"not a Trialbank signature file ({FORMAT}): not plain JSON ({exc}); "
                                "pickle/joblib files are not loaded, since loading them would run "
                                "code") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise NotASignatureFile(f"not a Trialbank signature file ({FORMAT}); format is {found!r}")
    try:
        model = _rebuild(doc)
    except (KeyError, TypeError, ValueError) as exc:
        raise NotASignatureFile(f"not a valid Trialbank signature file ({FORMAT}): {exc}") from None
    _warn_versions(model.versions)
    return model


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed in a signature file")


def _keys(where: str, obj: Any, expected: set[str]) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise TypeError(f"{where} must be an object")
    missing, extra = sorted(expected - set(obj)), sorted(set(obj) - expected)
    if missing or extra:
        raise ValueError(f"{where}: " + "; ".join(([f"missing {', '.join(missing)}"] if missing else [])
                                                  + ([f"unexpected {', '.join(extra)}"] if extra else [])))
    return obj


def _array(where: str, value: Any, n: int | None = None) -> np.ndarray:
    if not isinstance(value,
                      list) or not all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
                                              for v in value):
        raise TypeError(f"{where} must be a list of numbers")
    if n is not None and len(value) != n:
        raise ValueError(f"{where} has {len(value)} values, expected {n}")
    return np.array([np.nan if v is None else v for v in value], dtype=float)


def _strings(where: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{where} must be a list of strings")
    return list(value)


def _spec(d: Any) -> ModelSpec:
    fields = set(ModelSpec.__dataclass_fields__)
    d = _keys("spec", d, fields)
    out = _keys("spec.outcome", d["outcome"], {"kind", "column", "event"} if isinstance(d["outcome"], dict)
                and d["outcome"].get("kind") == "binary" else {"kind", "time", "event"})
    outcome: BinaryOutcome | SurvivalOutcome
    if out["kind"] == "binary":
        outcome = BinaryOutcome(column=str(out["column"]), event=out["event"])
    elif out["kind"] == "survival":
        outcome = SurvivalOutcome(time=str(out["time"]), event=str(out["event"]))
    else:
        raise ValueError(f"spec.outcome.kind {out['kind']!r}")
    transform = d["transform"]
    if not isinstance(transform, (str, dict)):
        raise TypeError("spec.transform must be a string or an object")
    return ModelSpec(**{**d, "outcome": outcome, "markers": tuple(_strings("spec.markers", d["markers"])),
                        "forced": tuple(_strings("spec.forced", d["forced"])),
                        "seeds": tuple(int(s) for s in d["seeds"])})


def _rebuild(doc: dict[str, Any]) -> FinalModel:
    doc = _keys("file", doc, _TOP)
    kind = doc["kind"]
    if kind not in _MODEL_KIND:
        raise ValueError(f"kind {kind!r}")
    spec = _spec(doc["spec"])
    columns = _strings("required_columns", doc["required_columns"])
    if spec.outcome.kind != kind or columns != spec.predictors:
        raise ValueError("kind and required_columns do not match the spec")
    n = len(columns)
    p = _keys("preprocessing", doc["preprocessing"], set(_PREP))
    prep = MarkerPreprocessor(columns=columns, transforms=spec.transforms)
    prep.params_ = PrepParams(**{k: _array(f"preprocessing.{k}", p[k], n) for k in _PREP})
    m = _keys("model", doc["model"], _MODEL | _MODEL_KIND[kind])
    l2 = None if m["l2_fixed"] is None else _array("model.l2_fixed", m["l2_fixed"], n)
    hyper: dict[str, Any] = {"lam": float(doc["lambda"]), "alpha": float(m["alpha"]), "tol": float(m["tol"]),
             "max_iter": int(m["max_iter"]),
                             "penalty_factor": _array("model.penalty_factor", m["penalty_factor"], n),
             "l2_fixed": l2}
    est: PenalisedLogistic | PenalisedCox
    if kind == "binary":
        est = PenalisedLogistic(**hyper)
        est.intercept_, est.classes_ = float(m["intercept"]), np.array([0, 1])
    else:
        est = PenalisedCox(**hyper)
        est.baseline_times_ = _array("model.baseline_times", m["baseline_times"])
        est.baseline_cumhaz_ = _array("model.baseline_cumhaz", m["baseline_cumhaz"], len(est.baseline_times_))
    est.coef_, est.converged_ = _array("model.coef", m["coef"], n), bool(m["converged"])
    versions = doc["versions"]
    if not isinstance(versions, dict) or not all(isinstance(v, str) for v in versions.values()):
        raise TypeError("versions must map names to strings")
    return FinalModel(spec=spec, pipeline=Pipeline([("prep", prep), ("model", est)]),
                      lam=float(doc["lambda"]),
                      required_columns=columns, dataset_sha256=str(doc["dataset_sha256"]), versions=versions,
                      created_utc=str(doc["created_utc"]), cv_loss=_array("cv_loss", doc["cv_loss"]).tolist())


def _warn_versions(saved: dict[str, str]) -> None:
    now = package_versions()
    changed = [f"{k} {saved.get(k)} → {now.get(k)}" for k in ("numpy", "scikit-learn", "scipy")
               if saved.get(k) != now.get(k)]
    if changed:
        warnings.warn("model saved with other package versions: " + "; ".join(changed), UserWarning,
                      stacklevel=3)
