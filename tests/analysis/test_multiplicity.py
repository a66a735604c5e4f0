"""BH/BY q-values against statsmodels multipletests and scipy false_discovery_control."""

from __future__ import annotations

import numpy as np
from scipy.stats import false_discovery_control
from statsmodels.stats.multitest import multipletests

from analysis import multiplicity


def test_bh_and_by_match_statsmodels_and_scipy():
    p = np.random.default_rng(1).uniform(size=200) ** 3
    np.testing.assert_allclose(multiplicity.bh(p), multipletests(p, method="fdr_bh")[1], atol=1e-12)
    np.testing.assert_allclose(multiplicity.by(p), multipletests(p, method="fdr_by")[1], atol=1e-12)
    np.testing.assert_allclose(multiplicity.bh(p), false_discovery_control(p, method="bh"), atol=1e-12)
    np.testing.assert_allclose(multiplicity.by(p), false_discovery_control(p, method="by"), atol=1e-12)


def test_nan_p_values_are_left_out_of_the_family():
    p = np.array([0.01, np.nan, 0.04, 0.03])
    q = multiplicity.bh(p)
    assert np.isnan(q[1])
    np.testing.assert_allclose(q[[0, 2, 3]], multipletests([0.01, 0.04, 0.03], method="fdr_bh")[1])
