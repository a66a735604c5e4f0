"""The trial readout's numbers against independent implementations (lifelines, scipy) on the demo trial."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from lifelines import KaplanMeierFitter
from scipy.stats import beta

from lims.clinical.service import clinical_tables, derived_endpoints
from lims.extensions import db
from lims.results import readout
from lims.studies.service import get_study


@pytest.fixture()
def trial(demo_trial: Any) -> Any:
    with demo_trial.app.app_context():
        study = get_study(db.session)
        yield study, readout.trial_readout(db.session, study)
        db.session.rollback()


def _exact(k: int, n: int) -> tuple[float, float]:
    low = beta.ppf(0.025, k, n - k + 1) if k > 0 else 0.0
    high = beta.ppf(0.975, k + 1, n - k) if k < n else 1.0
    return low, high


def test_primary_endpoint_matches_lifelines(trial: Any) -> None:
    study, result = trial
    for variant in ("A", "B"):
        derived = derived_endpoints(db.session, study, variant)
        arm = derived[(derived["stratum"] == "CCR_WW") & derived["dfs_time"].notna()]
        row = result.primary.set_index("variant").loc[variant]
        assert row["n"] == len(arm) and row["events"] == int(arm["dfs_event"].astype(bool).sum())
        kmf = KaplanMeierFitter().fit(arm["dfs_time"].astype(float), arm["dfs_event"].astype(bool))
        expected = float(kmf.survival_function_at_times(365).iloc[0])
        assert row["surv"] == pytest.approx(expected, abs=1e-12)
        assert row["lower"] <= row["surv"] <= row["upper"]


def test_rates_have_exact_intervals_and_their_denominators(trial: Any) -> None:
    study, result = trial
    derived = derived_endpoints(db.session, study)
    itt = result.ccr.iloc[0]
    assert itt["n"] == len(derived) == result.participants
    assert itt["events"] == int(derived["ccr_cre1"].astype("boolean").fillna(False).sum())
    assert (itt["lower"], itt["upper"]) == pytest.approx(_exact(int(itt["events"]), int(itt["n"])), abs=1e-9)
    resected = derived[derived["resected"].astype(bool)]
    pcr = result.pathology.set_index(["measure", "group"])
    assert pcr.loc[("PCR", "All resected"), "n"] == len(resected)
    by_stratum = resected.groupby(resected["stratum"].fillna("UNALLOCATED"))["pcr"]
    for stratum, values in by_stratum:
        assert pcr.loc[("PCR", stratum), "n"] == len(values)
        assert pcr.loc[("PCR", stratum), "events"] == int(values.astype("boolean").fillna(False).sum())


def test_survival_failures_and_toxicity_tables_add_up(trial: Any) -> None:
    study, result = trial
    os_table = result.survival["os"].table
    # strata are compared from the landmark: everyone still followed then, in the stratum they were assigned
    derived = derived_endpoints(db.session, study)
    at_risk = derived["os_time"].astype("Float64") > result.landmark
    assert os_table["n"].sum() == int(at_risk.sum()) < result.participants
    assert set(os_table["stratum"]) <= {*derived.loc[at_risk.to_numpy(), "stratum"].fillna("UNALLOCATED")}
    failures = result.failures.set_index("stratum")
    kinds = ["local", "regional", "distant", "combined", "unknown", "none"]
    assert (failures[kinds].sum(axis=1) == failures["n"]).all()
    assert failures.loc["All", "n"] == result.participants
    tox = result.toxicity
    assert not tox.empty and (tox["grade3"] <= tox["any"]).all()
    assert ((tox["acute_any"] <= tox["any"]) & (tox["chronic_any"] <= tox["any"])).all()
    assert (tox["any"] <= result.treated).all()
    for label, frame in result.qol.items():
        assert (frame["count"] > 0).all(), label
        assert np.isfinite(frame["mean"]).all()
    after = result.after_failure.set_index("stratum")
    assert after.loc["All", "n"] == (failures.loc["All", "n"] - failures.loc["All", "none"])


def test_qol_follows_the_schedule_and_the_stratum_landmark_is_a_setting(trial: Any) -> None:
    study, result = trial
    tables = clinical_tables(db.session, study)
    order = readout.qol_schedule(tables, study)
    shown = [tp for tp in order if any(tp in set(frame["timepoint"]) for frame in result.qol.values())]
    assert shown.index("EOT") < shown.index("CRE1") < shown.index("FU3M") < shown.index("FU12M")
    if "CRE2" in shown:  # CRE2 (EOT + 14 weeks) comes long before the 12-month follow-up
        assert shown.index("CRE2") < shown.index("FU12M")
    for frame in result.qol.values():
        ranks = frame["timepoint"].map({tp: i for i, tp in enumerate(order)})
        assert ranks.is_monotonic_increasing
    assert result.landmark == float(study.settings.get("stratum_landmark_days", 120)) == 120.0
