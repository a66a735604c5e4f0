"""Competing risks: cumulative incidence with Gray's test, and Fine-Gray regression (as R ``cmprsk``).

In a watch-and-wait trial a participant fails by local regrowth, by distant disease or dies first, and each
cause removes the others: 1 - Kaplan-Meier of one cause (censoring the others) overstates its incidence.
``event`` codes the cause of the first failure (``cencode``, default 0, for censored).
"""

from analysis.competing.cuminc import CumInc, cuminc
from analysis.competing.finegray import FineGray, fine_gray

__all__ = ["CumInc", "FineGray", "cuminc", "fine_gray"]
