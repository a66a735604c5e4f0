"""What a multi-marker model run is: outcome, markers, forced covariates, penalty and validation design."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Literal

TRANSFORMS = ("none", "log2", "log1p", "asinh")  # per-column transforms of MarkerPreprocessor
PENALTIES = ("l1", "elasticnet", "ridge", "none")


@dataclass(frozen=True)
class BinaryOutcome:
    """A 0/1 outcome column; ``event`` is the value whose probability the model predicts.

    For the watch-and-wait question the event should be residual disease, e.g. ``BinaryOutcome("pcr",
    event=0)`` (the model then predicts P(no pCR) and surgery is recommended above a threshold).
    """

    column: str
    event: int | float | str = 1

    @property
    def kind(self) -> Literal["binary"]:
        return "binary"

    @property
    def columns(self) -> list[str]:
        return [self.column]


@dataclass(frozen=True)
class SurvivalOutcome:
    """Time-to-event outcome: ``time`` in days (> 0) and ``event`` 1 = event, 0 = censored."""

    time: str
    event: str

    @property
    def kind(self) -> Literal["survival"]:
        return "survival"

    @property
    def columns(self) -> list[str]:
        return [self.time, self.event]


@dataclass(frozen=True)
class ModelSpec:
    """Everything that defines a model run; stored verbatim in the run's provenance.

    - ``markers``: penalised candidate predictors. ``forced``: baseline clinical covariates that are always in
      the model and never penalised (numeric; dummy-code categories yourself).
    - ``transform``: one of ``none``, ``log2`` (pseudocount = half the smallest positive training value),
      ``log1p``, ``asinh``; a string for all markers or a mapping marker → transform (others ``none``). Forced
      covariates are never transformed. All columns are median-imputed and standardised inside each fold.
    - ``penalty``: ``l1`` (lasso), ``elasticnet`` (mixing ``l1_ratio``), ``ridge`` or ``none`` (no inner
      loop).
    - Validation: ``repeats`` × ``outer_folds`` stratified folds, each tuning the penalty over ``n_lambda``
      values (from the training fold's lambda_max down to ``lambda_min_ratio`` × it) by ``inner_folds``-fold
      CV;
      ``seeds`` (one per repeat; default 1..repeats); ``permutations`` re-runs of the whole nested CV on
      permuted outcomes for the p-value (0 skips). ``horizon_days`` adds time-dependent AUC for survival
      outcomes.
    - ``forced_ridge``: a small fixed L2 penalty (in mean-loss units) on forced covariates only, so that their
      coefficients stay finite when one separates the outcome in a fold; 0 leaves them fully unpenalised.
    - ``tol`` / ``max_iter``: solver stopping rule per penalty value (coefficient change relative to their
      size).
    """

    outcome: BinaryOutcome | SurvivalOutcome
    markers: tuple[str, ...]
    forced: tuple[str, ...] = ()
    transform: str | Mapping[str, str] = "none"
    penalty: str = "l1"
    l1_ratio: float = 0.5
    outer_folds: int = 5
    inner_folds: int = 4
    repeats: int = 5
    seeds: tuple[int, ...] | None = None
    permutations: int = 200
    n_lambda: int = 12
    lambda_min_ratio: float = 0.02
    horizon_days: float | None = None
    forced_ridge: float = 0.01
    tol: float = 1e-5
    max_iter: int = 2000
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "markers", tuple(self.markers))
        object.__setattr__(self, "forced", tuple(self.forced))
        if self.seeds is None:
            object.__setattr__(self, "seeds", tuple(range(1, self.repeats + 1)))
        else:
            object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        if len(self.repeat_seeds) != self.repeats:
            raise ValueError(f"seeds has {len(self.repeat_seeds)} values but repeats={self.repeats}; give "
                             "one seed per repeat")
        if self.penalty not in PENALTIES:
            raise ValueError(f"penalty={self.penalty!r}; choose one of {', '.join(PENALTIES)}")
        if not 0.0 <= self.l1_ratio <= 1.0:
            raise ValueError(f"l1_ratio={self.l1_ratio} must lie in [0, 1]")
        if self.outer_folds < 2 or (self.penalty != "none" and self.inner_folds < 2):
            raise ValueError("outer_folds and inner_folds must be at least 2")
        if self.repeats < 1 or self.permutations < 0 or self.n_lambda < 1:
            raise ValueError("repeats and n_lambda must be >= 1 and permutations >= 0")
        if not self.markers:
            raise ValueError("markers is empty; name at least one marker column")
        dup = sorted({c for c in self.columns if self.columns.count(c) > 1})
        if dup:
            raise ValueError(f"columns listed twice (markers/forced/outcome): {', '.join(dup)}")
        for c, t in self.transforms.items():
            if t not in TRANSFORMS:
                raise ValueError(f"transform {t!r} for {c}; choose one of {', '.join(TRANSFORMS)}")

    @property
    def alpha(self) -> float:
        """Share of the penalty that is L1."""
        return {"l1": 1.0, "elasticnet": self.l1_ratio, "ridge": 0.0, "none": 1.0}[self.penalty]

    @property
    def predictors(self) -> list[str]:
        """Model columns in design order: forced covariates first, then markers."""
        return list(self.forced) + list(self.markers)

    @property
    def columns(self) -> list[str]:
        return self.outcome.columns + self.predictors

    @property
    def transforms(self) -> dict[str, str]:
        """Transform per predictor (forced covariates always ``none``)."""
        if isinstance(self.transform, str):
            out = dict.fromkeys(self.markers, self.transform)
        else:
            unknown = sorted(set(self.transform) - set(self.markers))
            if unknown:
                raise ValueError(f"transform names columns that are not markers: {', '.join(unknown)}")
            out = {m: self.transform.get(m, "none") for m in self.markers}
        out.update(dict.fromkeys(self.forced, "none"))
        return out

    @property
    def repeat_seeds(self) -> tuple[int, ...]:
        """One seed per repeat: ``seeds`` as given, or 1..repeats (filled in by __post_init__)."""
        if self.seeds is None:
            raise ValueError("seeds are filled in when the spec is made")
        return self.seeds

    def to_dict(self) -> dict:
        """JSON-serialisable description."""
        d = asdict(self)
        d["outcome"] = {"kind": self.outcome.kind, **asdict(self.outcome)}
        d["markers"] = list(self.markers)
        d["forced"] = list(self.forced)
        d["seeds"] = list(self.repeat_seeds)
        d["transform"] = self.transform if isinstance(self.transform, str) else dict(self.transform)
        return d
