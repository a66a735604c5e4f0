"""Survival statistics on a pandas DataFrame: Cox (Efron ties), log-rank, Kaplan-Meier, landmarks, PH test.

Conventions follow R's ``survival`` package, which PIs and reviewers check against:

- ``cox`` uses Efron's tie handling (R ``coxph`` default; statsmodels/sksurv default to Breslow), flags a
  coefficient that diverges (monotone likelihood) and can fit Firth's penalised likelihood instead.
- ``km`` uses Greenwood's variance and ``conf_type="log"`` (R ``survfit`` default); ``"log-log"`` is what
  lifelines reports.
- ``ph_test`` is R ``cox.zph`` (survival >= 3); ``followup`` is the median follow-up by reverse Kaplan-Meier.
- Rows with a missing value in any column a model uses are dropped for that model only; ``n`` and ``events``
  on every result say how many rows were used.
- ``event`` is 1 for the event and 0 for censoring (R's lung data codes 1/2: recode first).
- A column known only after time zero must be named in ``post_baseline`` and then needs a landmark (or an
  explicit, reported override): see ``analysis.survival.timing``.
"""

from analysis.survival.cox import CoxFit, concordance, cox
from analysis.survival.followup import FollowUp, followup
from analysis.survival.km import KaplanMeier, km, km_at, quantile_time
from analysis.survival.logrank import LogRank, logrank
from analysis.survival.phtest import ph_test
from analysis.survival.timing import Timing, apply_timing, landmark

__all__ = [
    "CoxFit", "FollowUp", "KaplanMeier", "LogRank", "Timing", "apply_timing", "concordance", "cox",
    "followup",
    "km", "km_at", "landmark", "logrank", "ph_test", "quantile_time",
]
