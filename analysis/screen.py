"""Marker screens: one row per marker against a survival or binary outcome, with BH q-values over the family.

``run`` fits every marker of a block at once with numpy (log-rank sums, Newton steps of all univariate Efron
Cox or logistic models together), so 1,000 markers take well under a second; with ``covariates`` it falls back
to one adjusted model per marker (``survival.cox`` / statsmodels ``Logit``). The numbers equal those of the
per-marker functions (``survival.cox``, ``survival.logrank``, ``binary.associate``).

Markers are processed in blocks of ``block_size`` columns, so memory is bounded by the block, not by the
number of markers (20,000 markers x 1,000 patients fit in well under 2 GB). Every marker's numbers depend
only on its own column, so ``run_block`` on any split of the markers followed by ``combine`` gives the same
table as one ``run`` (the unit a job queue can fan out over workers).

Cuts:

- ``"none"``: the (transformed) marker is continuous; effect per unit (per doubling after ``log2``), Wald p.
- ``"median"``: high = marker > median of the model's rows; effect high vs low. p is the log-rank p for a
  survival outcome and the Wald p of the logistic model for a binary one (adjusted models: Wald p).
- ``"optimal"``: the maximally selected cut (``cutpoints.maxstat``, as R ``maxstat``), ``p`` the
  Lausen-Schumacher adjusted p-value, never the naive minimum p. The effect at the chosen cut is optimistic.
  Not available with covariates.

What cannot be estimated says so in ``note`` (and ``converged`` is False): a marker without values, without
variation or without events among its rows has NaN effects; a log transform of a marker with zeros is skipped
unless a ``pseudocount`` is given; an infinite estimate (all events in one group, separation) has effect inf
or 0, NaN CI and the likelihood-ratio p (``firth=True`` gives Firth's penalised estimate instead).

Time zero (survival only): markers measured after time zero (``post_baseline=True``) need a ``landmark`` (rows
still at risk then, clock restarted; a participant whose ``draw_day`` is after the landmark is left out of the
marker's model) or ``allow_post_baseline=True``, whose caveat the result carries in ``attrs["caveat"]``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from analysis import _coxcore, _coxmany, binary, cutpoints, multiplicity, survival, transforms
from analysis._inputs import binary_frame, numeric_column, require_columns, survival_frame

__all__ = ["Binary", "ScreenSpec", "Survival", "combine", "run", "run_block"]

COLUMNS = [
    "n", "events", "effect", "lower", "upper", "coef", "se", "p", "q",
    "cutpoint", "n_high", "statistic", "converged", "note",
]
CUT_COLUMNS = ("cutpoint", "n_high", "statistic")
DEFAULT_BLOCK = 1000


@dataclass(frozen=True)
class Survival:
    """A time-to-event outcome: follow-up ``time`` column and 0/1 ``event`` column."""

    time: str
    event: str


@dataclass(frozen=True)
class Binary:
    """A 0/1 outcome column (pCR, cCR, MPR)."""

    outcome: str


@dataclass(frozen=True)
class ScreenSpec:
    """How markers are screened: every argument of ``run`` except the data, the markers and the outcome."""

    transform: str = "log2"
    covariates: tuple[str, ...] = ()
    landmark: float | None = None
    cut: str = "none"
    minprop: float = 0.1
    pseudocount: float | None = None
    conf_level: float = 0.95
    firth: bool = False
    post_baseline: bool = False
    draw_day: str | None = None
    allow_post_baseline: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "covariates", tuple(self.covariates))
        if self.cut not in ("none", "median", "optimal"):
            raise ValueError(f"cut must be 'none', 'median' or 'optimal', got {self.cut!r}")
        if self.transform not in transforms.TRANSFORMS:
            raise ValueError(f"transform must be one of {sorted(transforms.TRANSFORMS)}, got "
                             f"{self.transform!r}")
        if self.cut == "optimal" and self.covariates:
            raise ValueError("cut='optimal' has no adjusted p-value with covariates; use cut='median' or "
                             "'none'")
        if self.pseudocount is not None and not self.pseudocount >= 0:
            raise ValueError(f"pseudocount must be >= 0, got {self.pseudocount}")


@dataclass(frozen=True)
class _Prepared:
    data: pd.DataFrame  # the rows analysed (after a landmark)
    base: pd.DataFrame  # outcome (and covariate) columns of the complete rows
    timing: survival.Timing


def run(
    df: pd.DataFrame,
    markers: Sequence[str],
    outcome: Survival | Binary,
    transform: str = "log2",
    covariates: Sequence[str] = (),
    landmark: float | None = None,
    cut: str = "none",
    minprop: float = 0.1,
    pseudocount: float | None = None,
    conf_level: float = 0.95,
    *,
    firth: bool = False,
    post_baseline: bool = False,
    draw_day: str | None = None,
    allow_post_baseline: bool = False,
    block_size: int | None = DEFAULT_BLOCK,
) -> pd.DataFrame:
    """Screen ``markers`` against ``outcome``; return one row per marker (index ``marker``).

    Columns: n, events (rows/events used), effect (HR or OR, named in ``attrs["effect"]``), lower, upper
    (``conf_level`` CI), coef, se (log scale), p, q (Benjamini-Hochberg over these markers), cutpoint (on the
    transformed scale; low = marker <= cutpoint), n_high, statistic (log-rank chi2 for "median", max |z| for
    "optimal"), converged and note (why a marker has no or an infinite estimate). ``block_size=None`` fits
    all markers in one block.
    """
    markers = list(markers)
    if not markers:
        raise ValueError("markers is empty")
    spec = ScreenSpec(transform, tuple(covariates), landmark, cut, minprop, pseudocount, conf_level, firth,
                      post_baseline, draw_day, allow_post_baseline)
    prep = _prepare(df, markers, outcome, spec)
    block_spec = spec
    # a composition: its parts are transformed together, then screened as they are
    if spec.transform == "clr":
        values = transforms.clr(_numeric(prep.data.loc[prep.base.index, markers]), spec.pseudocount)
        prep = replace(prep, data=values)
        block_spec = replace(spec, transform="none", pseudocount=None)
    size = len(markers) if block_size is None else max(1, int(block_size))
    parts = [_block(prep, markers[i:i + size], outcome, block_spec) for i in range(0, len(markers), size)]
    return combine(parts, outcome, spec)


def run_block(df: pd.DataFrame, markers: Sequence[str], outcome: Survival | Binary,
              spec: ScreenSpec) -> pd.DataFrame:
    """Screen one block of markers without q-values; ``combine`` joins blocks into ``run``'s table."""
    markers = list(markers)
    if spec.transform == "clr":
        raise ValueError("clr transforms a composition as a whole: apply transforms.clr first, then screen "
                         "blocks")
    return _block(_prepare(df, markers, outcome, spec), markers, outcome, spec)


def combine(parts: Sequence[pd.DataFrame], outcome: Survival | Binary, spec: ScreenSpec) -> pd.DataFrame:
    """Join screened blocks (in marker order) and add the q-values over the whole family."""
    if not parts:
        raise ValueError("no blocks to combine")
    out = pd.concat(list(parts))
    out["q"] = multiplicity.bh(out["p"].to_numpy())
    if spec.cut == "none":
        out = out.drop(columns=list(CUT_COLUMNS))
    first = parts[0].attrs
    out.attrs.update(effect="HR" if isinstance(outcome, Survival) else "OR", transform=spec.transform,
                     cut=spec.cut, landmark=spec.landmark, covariates=list(spec.covariates),
                     caveat=first.get("caveat"),
                     late_draws=int(sum(p.attrs.get("late_draws", 0) for p in parts)),
                     firth=spec.firth)
    return out


def _prepare(df: pd.DataFrame, markers: list[str], outcome: Survival | Binary, spec: ScreenSpec) -> _Prepared:
    require_columns(df, markers)
    covariates = list(spec.covariates)
    if isinstance(outcome, Survival):
        post = markers if (spec.post_baseline or spec.landmark is not None) else []
        data, timing = survival.apply_timing(df, outcome.time, outcome.event, post, spec.landmark,
                                             spec.draw_day,
                                             spec.allow_post_baseline)
        base = survival_frame(data, outcome.time, outcome.event, covariates, numeric_others=False)
    elif isinstance(outcome, Binary):
        if spec.landmark is not None:
            raise ValueError("landmark applies to survival outcomes only")
        require_columns(df, covariates)
        data, timing = df, survival.Timing()
        base = binary_frame(df, outcome.outcome).join(df[covariates]).dropna()
    else:
        raise ValueError(
            f"outcome must be screen.Survival or screen.Binary, got {type(outcome).__name__}"
        )
    return _Prepared(data, base, timing)


def _numeric(raw: pd.DataFrame) -> pd.DataFrame:
    if not all(pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t) for t in raw.dtypes):
        # names the column
        raw = pd.DataFrame({m: numeric_column(raw, m) for m in raw.columns}, index=raw.index)
    return raw.astype(float)


def _block(prep: _Prepared, names: list[str], outcome: Survival | Binary, spec: ScreenSpec) -> pd.DataFrame:
    base = prep.base
    raw = _numeric(prep.data.loc[base.index, names])
    x, skipped = transforms.apply_or_skip(spec.transform, raw, spec.pseudocount)
    out = pd.DataFrame(np.nan, index=pd.Index(names, name="marker"), columns=COLUMNS)
    out["converged"] = True
    out["note"] = ""
    xv = x.to_numpy()
    if spec.cut == "none":
        design = xv
    else:
        design = _cut_design(out, xv, base, outcome, spec)
    if isinstance(outcome, Survival):
        _survival(out, base, design, names, outcome, spec)
    else:
        _binary(out, base, design, names, outcome, spec)
    if spec.cut == "optimal":
        out["p"] = cutpoints.lausen92_p(out["statistic"].to_numpy(), spec.minprop)
    z = stats.norm.ppf(0.5 + spec.conf_level / 2)
    with np.errstate(invalid="ignore", over="ignore"):
        out["effect"] = np.exp(out["coef"])
        out["lower"] = np.exp(out["coef"] - z * out["se"])
        out["upper"] = np.exp(out["coef"] + z * out["se"])
    present = raw.notna()
    column = outcome.event if isinstance(outcome, Survival) else outcome.outcome
    for m, note in skipped.items():
        out.loc[m, ["n", "events"]] = [int(present[m].sum()), float(base.loc[present[m], column].sum())]
        out.loc[m, ["converged", "note"]] = [False, note]
    out["n"] = out["n"].fillna(0).astype(int)
    out["events"] = out["events"].fillna(0).astype(int)
    out["converged"] = out["converged"].astype(bool)
    out.attrs.update(caveat=prep.timing.caveat, late_draws=prep.timing.late_draws)
    return out


def _cut_design(out: pd.DataFrame, xv: np.ndarray, base: pd.DataFrame, outcome: Survival | Binary,
                spec: ScreenSpec) -> np.ndarray:
    if spec.cut == "median":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column has no median
            cuts = np.nanmedian(xv, axis=0) if len(xv) else np.full(xv.shape[1], np.nan)
    else:
        scores = (
            _coxmany.logrank_scores_many(base[outcome.time].to_numpy(), base[outcome.event].to_numpy(),
                                         ~np.isnan(xv))
            if isinstance(outcome, Survival)
            else np.repeat(base[[outcome.outcome]].to_numpy(), xv.shape[1], axis=1)
        )
        best = cutpoints.maxstat(xv, scores, spec.minprop)
        cuts = best["cutpoint"]
        out["statistic"] = best["statistic"]
    with np.errstate(invalid="ignore"):
        design = np.where(np.isnan(xv), np.nan, (xv > cuts).astype(float))
    design[:, np.isnan(cuts)] = np.nan
    out["cutpoint"] = cuts
    out["n_high"] = np.nansum(design, axis=0)
    return design


def _survival(out: pd.DataFrame, base: pd.DataFrame, design: np.ndarray, names: list[str], outcome: Survival,
              spec: ScreenSpec) -> None:
    t, e = base[outcome.time].to_numpy(), base[outcome.event].to_numpy()
    if spec.covariates:
        _adjusted(out, base, design, names, lambda f, m: _cox_row(f, outcome, m, spec.covariates))
        return
    fit = _coxmany.fit_cox_many(t, e, design)
    _fill(out, fit, "events")
    with np.errstate(invalid="ignore", divide="ignore"):
        wald = 2 * stats.norm.sf(np.abs(fit["coef"] / fit["se"]))
        lr = stats.chi2.sf(2 * (fit["loglik"] - fit["loglik0"]), 1)
    out["p"] = np.where(fit["infinite"], lr, wald)
    if spec.cut == "median":
        res = _coxmany.logrank_many(t, e, design)
        out["statistic"] = res["chi2"]
        out["p"] = stats.chi2.sf(res["chi2"], 1)
    if spec.firth:
        _firth(out, fit["infinite"], names, lambda j: _coxcore.fit_cox(
            t[~np.isnan(design[:, j])], e[~np.isnan(design[:, j])],
            design[~np.isnan(design[:, j]), j][:, None], firth=True))


def _binary(out: pd.DataFrame, base: pd.DataFrame, design: np.ndarray, names: list[str], outcome: Binary,
            spec: ScreenSpec) -> None:
    y = base[outcome.outcome].to_numpy()
    if spec.covariates:
        _adjusted(out, base, design, names, lambda f, m: _logit_row(f, outcome, m, spec.covariates))
        return
    fit = binary.logistic_many(y, design)
    _fill(out, fit, "outcome")
    with np.errstate(invalid="ignore", divide="ignore"):
        out["p"] = 2 * stats.norm.sf(np.abs(fit["coef"] / fit["se"]))
    if spec.firth:
        def refit(j: int) -> object:
            used = ~np.isnan(design[:, j])
            pen = binary.firth_logistic(y[used], design[used, j])
            return _Firth(pen["coef"][1:], pen["se"][1:])
        _firth(out, fit["separated"], names, refit)


@dataclass(frozen=True)
class _Firth:
    beta: np.ndarray
    se: np.ndarray


def _firth(out: pd.DataFrame, flagged: np.ndarray, names: list[str], refit) -> None:
    """Replace infinite estimates by Firth's penalised ones (Wald p from the penalised information)."""
    for j in np.flatnonzero(flagged):
        res = refit(j)
        se = res.se if isinstance(res, _Firth) else np.sqrt(np.diag(res.cov))
        coef, s = float(res.beta[0]), float(se[0])
        out.loc[names[j], ["coef", "se", "p"]] = [coef, s, 2 * stats.norm.sf(abs(coef / s))]
        out.loc[names[j], "note"] += "; Firth-penalised estimate"


def _fill(out: pd.DataFrame, fit: dict[str, np.ndarray], kind: str) -> None:
    for key in ("coef", "se", "n", "events"):
        out[key] = fit[key]
    out["converged"] = fit["converged"]
    notes = np.full(len(out), "", dtype=object)
    none_left = "no events among its rows" if kind == "events" else "only one outcome among its rows"
    notes[~fit["estimable"]] = "no variation among its rows"
    notes[~fit["estimable"] & ((fit["events"] == 0)
                               | (kind == "outcome") & (fit["events"] == fit["n"]))] = none_left
    notes[fit["n"] == 0] = "no values among the analysed participants"
    infinite = fit["infinite"] if kind == "events" else fit["separated"]
    notes[infinite] = ("monotone likelihood: infinite estimate (every event in one group); likelihood-ratio p"
                       if kind == "events"
                       else "separation: infinite odds ratio (the outcome groups do not overlap)")
    out["note"] = notes


def _adjusted(out: pd.DataFrame, base: pd.DataFrame, design: np.ndarray, markers: list[str], fit_row) -> None:
    """One adjusted model per marker (covariates present): the general fitters, row by row."""
    for j, m in enumerate(markers):
        frame = base.assign(_marker=design[:, j]).dropna()
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                coef, se, events, reason = fit_row(frame, "_marker")
        except ValueError as exc:
            out.loc[m, ["n", "converged", "note"]] = [len(frame), False, str(exc)]
            continue
        out.loc[m, ["coef", "se", "n", "events"]] = [coef, se, len(frame), events]
        with np.errstate(invalid="ignore"):
            out.loc[m, "p"] = 2 * stats.norm.sf(abs(coef / se))
        if reason or caught:
            out.loc[m, ["converged", "note"]] = [False, reason or str(caught[0].message)]


def _cox_row(frame: pd.DataFrame, outcome: Survival, marker: str,
             covariates) -> tuple[float, float, int, str | None]:
    fit = survival.cox(frame, outcome.time, outcome.event, [marker, *covariates])
    return fit.table.loc[marker, "coef"], fit.table.loc[marker, "se"], fit.events, fit.reason


def _logit_row(frame: pd.DataFrame, outcome: Binary, marker: str,
               covariates) -> tuple[float, float, int, None]:
    exog = sm.add_constant(pd.get_dummies(frame[[marker, *covariates]], drop_first=True, dtype=float))
    res = sm.Logit(frame[outcome.outcome], exog).fit(disp=0, method="newton", maxiter=100)
    return float(res.params[marker]), float(res.bse[marker]), int(frame[outcome.outcome].sum()), None
