"""Service rules of the signatures domain that the page tests do not reach: regrowth by one year, stale
runs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
import pytest

from lims.core.db import utcnow
from lims.core.errors import DomainError
from lims.extensions import db
from lims.signatures import service
from lims.studies.service import get_study


def _tables() -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    rand = pd.Timestamp("2025-03-01")
    derived = pd.DataFrame({
        "participant_id": ["A", "B", "C", "D", "E", "F"],
        "actual_strategy": ["watch_and_wait"] * 4 + ["surgery", "watch_and_wait"],
        "rand_date": [rand, rand, rand, rand, rand, pd.NaT],
    })
    events = pd.DataFrame({
        "participant_id": ["A", "B", "E"],
        "date": [rand + pd.Timedelta(days=364), rand + pd.Timedelta(days=365), rand + pd.Timedelta(days=30)],
        "type": ["LOCAL_REGROWTH"] * 3, "proof": ["histology"] * 3,
    })
    contact = pd.DataFrame({
        "participant_id": ["A", "B", "C", "D", "E", "F"],
        "last_alive_date": [rand + pd.Timedelta(days=900)] * 6,
        "last_disease_assessment_date": [rand + pd.Timedelta(days=d) for d in (800, 800, 364, 363, 800, 800)],
    })
    return {"disease_events": events, "last_contact": contact}, derived


def test_regrowth_by_one_year_counts_from_randomisation_and_drops_short_follow_up() -> None:
    tables, derived = _tables()
    out = service.regrowth_by(tables, derived)
    # A: regrowth on day 365 (date - rand + 1) -> event; B: day 366 -> no event by one year;
    # C: followed to day 365 -> 0; D: last assessment on day 364 -> unknown; E: surgery; F: not randomised
    assert out.tolist()[:3] == [1.0, 0.0, 0.0]
    assert out.iloc[3:].isna().all()


def test_check_parameters_defaults_and_thresholds(session: Any, study: Any) -> None:
    params = service.check_parameters(session, study,
                                      {"sample_types": ["SERUM"], "thresholds": "0.3; 0.1 0.3"})
    assert params["outcome"] == "pcr" and params["mode"] == "quick" and params["thresholds"] == [0.1, 0.3]
    assert params["outer_folds"] == 5 and params["inner_folds"] == 4 and params["markers"] == []
    with pytest.raises(DomainError, match="threshold 'x' is not a number"):
        service.check_parameters(session, study, {"sample_types": ["SERUM"], "thresholds": "x"})
    with pytest.raises(DomainError, match=r"choose one or more sample types from .*; unknown: BLOOD"):
        service.check_parameters(session, study, {"sample_types": ["BLOOD?"]})


def test_a_run_left_unfinished_by_a_restart_says_so(sig_client: Any, signature_trial: Any) -> None:
    with signature_trial.app.app_context():
        run = service.create_run(db.session, get_study(db.session), {
            "outcome": "ccr", "timepoint": "BASELINE", "sample_types": ["SERUM"], "category": None,
            "transform": "log2", "penalty": "l1", "mode": "quick", "outer_folds": 3, "inner_folds": 2,
            "ccr_only": False, "thresholds": [0.2], "markers": [], "covariates": []}, by=None)
        run.status = "running"
        run.created_at = utcnow() - timedelta(hours=1)
        db.session.commit()
        run_id = run.id
    html = sig_client("pi").get(f"/signatures/runs/{run_id}").get_data(as_text=True)
    assert "This run was cut off before it finished" in html and "refreshes every two seconds" not in html
    assert f'action="/signatures/runs/{run_id}/rerun"' in html


def test_a_panel_joins_markers_of_several_sample_types(signature_trial: Any) -> None:
    with signature_trial.app.app_context():
        study = get_study(db.session)
        serum = service.check_parameters(db.session, study, {"outcome": "ccr", "timepoint": "BASELINE",
                                                             "sample_types": ["SERUM"]})
        both = service.check_parameters(db.session, study,
                                        {**serum, "sample_types": ["SERUM", "CTDNA_PLASMA"]})
        assert both["sample_types"] == ["CTDNA_PLASMA", "SERUM"]  # study order, not click order
        one = service.frame_for(db.session, study, serum)
        panel = service.frame_for(db.session, study, both)
        plasma_markers = set(service.marker_columns(panel, both)) - set(service.marker_columns(one, serum))
    assert plasma_markers, "the plasma markers join the serum ones"
    assert set(one.index) <= set(panel.index), "a participant with serum values only stays in the panel"
    assert panel.index.is_monotonic_increasing and panel["ccr"].notna().all() and panel["age"].notna().all()
    assert panel.loc[one.index, one.columns].equals(one)
