"""Cox proportional hazards (Efron ties, as R ``coxph``) and Harrell's concordance (within strata, as R)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from analysis import _coxcore
from analysis._inputs import require_columns, survival_frame
from analysis.survival.timing import Timing, apply_timing

__all__ = ["CoxFit", "concordance", "cox"]


@dataclass(frozen=True)
class CoxDesign:
    """The rows a Cox model was fitted on (for residual-based checks such as ``ph_test``)."""

    time: np.ndarray
    event: np.ndarray
    x: np.ndarray
    strata: np.ndarray | None


@dataclass(frozen=True)
class CoxFit:
    """A fitted Cox proportional hazards model.

    ``table`` is indexed by covariate (a categorical covariate ``c`` becomes ``c[level]`` rows against its
    first level, named in ``reference``; ``terms`` maps each covariate to its rows) with columns coef, se,
    hr, hr_low, hr_high (``conf_level`` CI, exp(coef -/+ z se)), z and p (Wald). ``lr_*`` is the global
    likelihood-ratio test against the null model. ``concordance`` is Harrell's C of the linear predictor,
    comparing pairs within strata only (as R). ``converged`` is False with a ``reason`` when the fit did not
    converge or a coefficient is infinite (monotone likelihood: its coef is +-inf, se, CI and Wald p NaN; the
    likelihood-ratio test still holds). ``firth`` marks Firth-penalised estimates. ``timing`` says how time
    zero was handled for post-baseline covariates (``timing.caveat`` must be shown with the results).
    """

    table: pd.DataFrame
    n: int
    events: int
    loglik: float
    loglik_null: float
    lr_stat: float
    lr_df: int
    lr_p: float
    concordance: float
    converged: bool
    reference: dict[str, object]
    cov: pd.DataFrame
    conf_level: float = 0.95
    reason: str | None = None
    firth: bool = False
    terms: dict[str, list[str]] = field(default_factory=dict)
    timing: Timing = field(default_factory=Timing)
    strata: str | None = None
    design: CoxDesign | None = field(default=None, repr=False, compare=False)


def _design(frame: pd.DataFrame, covariates: Sequence[str]) -> tuple[pd.DataFrame, dict[str, object],
                                                                     dict[str, list[str]]]:
    """Numeric covariates as they are; text/categorical ones as indicators against their first level."""
    cols: dict[str, pd.Series] = {}
    reference: dict[str, object] = {}
    terms: dict[str, list[str]] = {}
    for c in covariates:
        s = frame[c]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            cols[c] = s.astype(float)
            terms[c] = [c]
            continue
        levels = list(s.cat.categories) if isinstance(s.dtype, pd.CategoricalDtype) else sorted(s.unique())
        levels = [lv for lv in levels if (s == lv).any()]
        if len(levels) < 2:
            raise ValueError(f"covariate column {c!r} has a single level ({levels[0]!r}) among complete rows")
        reference[c] = levels[0]
        terms[c] = []
        for lv in levels[1:]:
            cols[f"{c}[{lv}]"] = (s == lv).astype(float)
            terms[c].append(f"{c}[{lv}]")
    x = pd.DataFrame(cols, index=frame.index)
    for c in x.columns:
        if x[c].nunique() < 2:
            raise ValueError(f"covariate column {c!r} is constant among the complete rows")
    return x, reference, terms


def cox(
    df: pd.DataFrame,
    time: str,
    event: str,
    covariates: Sequence[str],
    strata: str | None = None,
    conf_level: float = 0.95,
    *,
    firth: bool = False,
    post_baseline: Sequence[str] = (),
    landmark: float | None = None,
    draw_day: str | None = None,
    allow_post_baseline: bool = False,
) -> CoxFit:
    """Fit a Cox model with Efron ties (as R ``coxph``) on the complete rows of the named columns.

    Numeric (and boolean) covariates enter per unit; text or categorical ones as indicators against their
    first (sorted) level. ``strata`` names a column whose levels get separate baseline hazards. ``firth``
    fits Firth's penalised likelihood (finite under separation; Wald CI from the penalised information).
    ``post_baseline``/``landmark``/``draw_day``/``allow_post_baseline``: see ``analysis.survival.timing``.
    """
    covariates = list(covariates)
    if not covariates:
        raise ValueError("cox needs at least one covariate")
    others = covariates + ([strata] if strata else [])
    require_columns(df, [time, event, *others])
    data, timing = apply_timing(df, time, event, post_baseline, landmark, draw_day, allow_post_baseline)
    frame = survival_frame(data, time, event)
    frame = frame.join(data.loc[frame.index, others]).dropna()
    if frame.empty:
        raise ValueError(f"no complete rows for columns {[time, event, *others]}")
    if int(frame[event].sum()) == 0:
        raise ValueError(f"event column {event!r} has zero events among the complete rows")
    x, reference, terms = _design(frame, covariates)
    t = frame[time].to_numpy()
    e = frame[event].to_numpy()
    groups = None if strata is None else frame[strata].to_numpy()
    core = _coxcore.fit_cox(t, e, x.to_numpy(), groups, firth=firth)
    table = _table(core, list(x.columns), conf_level)
    lr = 2 * (core.loglik - core.loglik0)
    risk = x.to_numpy() @ core.beta
    return CoxFit(
        table=table,
        n=len(frame),
        events=int(e.sum()),
        loglik=core.loglik,
        loglik_null=core.loglik0,
        lr_stat=lr,
        lr_df=x.shape[1],
        lr_p=float(stats.chi2.sf(lr, x.shape[1])),
        concordance=concordance(t, e, risk, groups),
        converged=core.converged,
        reference=reference,
        cov=pd.DataFrame(core.cov, index=x.columns, columns=x.columns),
        conf_level=conf_level,
        reason=core.reason,
        firth=firth,
        terms=terms,
        timing=timing,
        strata=strata,
        design=CoxDesign(t, e, x.to_numpy(), groups),
    )


def _table(core: _coxcore.CoxCore, names: list[str], conf_level: float) -> pd.DataFrame:
    """Coefficients with Wald CIs and p; an infinite coefficient gets NaN se, CI and p."""
    z_crit = stats.norm.ppf(0.5 + conf_level / 2)
    with np.errstate(invalid="ignore"):
        se = np.where(core.infinite, np.nan, np.sqrt(np.diag(core.cov)))
    coef = np.where(core.infinite, np.where(core.beta > 0, np.inf, -np.inf), core.beta)
    with np.errstate(invalid="ignore", over="ignore"):
        z = coef / se
        return pd.DataFrame(
            {"coef": coef, "se": se, "hr": np.exp(coef), "hr_low": np.exp(coef - z_crit * se),
             "hr_high": np.exp(coef + z_crit * se), "z": z, "p": 2 * stats.norm.sf(np.abs(z))},
            index=pd.Index(names, name="covariate"),
        )


def concordance(time: np.ndarray, event: np.ndarray, risk: np.ndarray,
                strata: np.ndarray | None = None) -> float:
    """Harrell's C: among usable pairs, the share where the higher risk fails first (risk ties count 1/2).

    A pair is usable when the shorter time is an event; at equal times an event paired with a censored
    subject is usable (the censored one is taken to outlive it), two events are not. With ``strata`` only
    pairs within a stratum count (as R's ``coxph`` concordance for a stratified model).
    """
    t, e, r = (np.asarray(a, float) for a in (time, event, risk))
    labels = np.zeros(len(t)) if strata is None else np.asarray(strata)
    good = ties = total = 0.0
    for lab in np.unique(labels):
        inside = labels == lab
        ts, es, rs = t[inside], e[inside], r[inside]
        idx = np.flatnonzero(es == 1)
        for chunk in np.array_split(idx, max(1, len(idx) * len(ts) // 2_000_000 + 1)):
            ti, ri = ts[chunk, None], rs[chunk, None]
            usable = (ts[None, :] > ti) | ((ts[None, :] == ti) & (es[None, :] == 0))
            good += np.sum(usable & (ri > rs[None, :]))
            ties += np.sum(usable & (ri == rs[None, :]))
            total += np.sum(usable)
    return float((good + ties / 2) / total) if total else float("nan")
