"""Saved runs re-run to identical numbers; the input hash follows the data; the screen equals per-marker
fits."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from analysis import binary, survival, transforms
from lims import __version__
from lims.accounts.models import User
from lims.extensions import db
from lims.markers.models import Marker, MarkerResult
from lims.participants.models import Participant
from lims.results import data, parameters, report, service
from lims.studies.service import get_study
from tests.results.factories import SIGNAL


@pytest.fixture()
def ctx(demo_trial: Any) -> Any:
    """An app context on the demo database whose changes are rolled back."""
    with demo_trial.app.app_context():
        yield db.session
        db.session.rollback()


def _researcher(session: Any) -> User:
    return session.scalar(select(User).where(User.username == "researcher"))


@pytest.mark.parametrize("params", [
    {"outcome": "dfs_a", "sample_type": "SERUM", "cut": "median"},
    {"outcome": "dfs_b", "sample_type": "SERUM", "covariates": ["age", "ecog"]},
    {"outcome": "efs", "timepoint": "CRE1", "sample_type": "SERUM", "landmark": 100},
    {"outcome": "os", "sample_type": "CTDNA_PLASMA", "cut": "optimal", "transform": "log10"},
    {"outcome": "ccr", "sample_type": "SERUM", "covariates": ["male"]},
    {"outcome": "mpr", "sample_type": "SERUM", "transform": "none", "markers": "RX_IL6, RX_TNF"},
    {"outcome": "pcr", "sample_type": "FFPE", "transform": "catalogue", "cut": "median"},
])
def test_saved_run_reruns_to_identical_numbers(ctx: Any, params: dict[str, Any]) -> None:
    study = get_study(ctx)
    clean = parameters.check_parameters(ctx, study, params)
    run = service.run_screen(ctx, study, clean, by=_researcher(ctx))
    ctx.commit()
    ctx.expire_all()  # read everything back from the database
    saved = service.get_run(ctx, study, run.id)
    assert saved.software_version == __version__ and len(saved.dataset_sha256) == 64
    assert saved.by_username == "researcher"
    assert {k: v for k, v in saved.parameters.items() if k != "marker_transforms"} == clean
    check = service.rerun(ctx, study, saved)
    assert check.same_input and check.identical and check.max_abs_difference == 0.0
    stored = service.result_frame(saved)
    assert np.array_equal(stored[["effect", "p", "q"]].to_numpy(),
                          check.result[["effect", "p", "q"]].to_numpy(),
                          equal_nan=True)


def test_changed_data_changes_the_hash_and_the_rerun_says_so(ctx: Any) -> None:
    study = get_study(ctx)
    params = parameters.check_parameters(ctx, study, {"outcome": "efs", "sample_type": "SERUM"})
    run = service.run_screen(ctx, study, params, by=None)
    result = ctx.scalar(select(MarkerResult).join(Marker).where(Marker.code == SIGNAL)
                        .order_by(MarkerResult.id).limit(1))
    result.value = result.value * 10
    ctx.flush()
    check = service.rerun(ctx, study, run)
    assert not check.same_input and check.dataset_sha256 != run.dataset_sha256
    assert not check.identical


def test_screen_numbers_equal_the_per_marker_fits(ctx: Any) -> None:
    study = get_study(ctx)
    params = parameters.check_parameters(ctx, study, {"outcome": "efs", "sample_type": "SERUM"})
    frame = service.frame_for(ctx, study, params)
    result = service.compute(frame, params)
    x = transforms.apply("log2", frame[[SIGNAL]].astype(float))[SIGNAL]
    fit = survival.cox(frame.assign(x=x), "time", "event", ["x"])
    assert result.loc[SIGNAL, "n"] == fit.n and result.loc[SIGNAL, "events"] == fit.events
    assert result.loc[SIGNAL, "effect"] == pytest.approx(fit.table.loc["x", "hr"], rel=1e-6)

    params = parameters.check_parameters(ctx, study, {"outcome": "ccr", "sample_type": "SERUM"})
    frame = service.frame_for(ctx, study, params)
    result = service.compute(frame, params)
    x = transforms.apply("log2", frame[[SIGNAL]].astype(float))[SIGNAL]
    assoc = binary.associate(frame.assign(x=x), "outcome", "x")
    assert result.loc[SIGNAL, "effect"] == pytest.approx(assoc.or_unit, rel=1e-6)
    assert result.loc[SIGNAL, "p"] < 0.05  # the planted marker is found


def test_marker_values_use_the_latest_replicate_and_skip_qualifiers(ctx: Any) -> None:
    study = get_study(ctx)
    first = ctx.scalar(select(MarkerResult).join(Marker).where(Marker.code == "RX_TNF")
                       .order_by(MarkerResult.id).limit(1))
    ctx.add(MarkerResult(sample_id=first.sample_id, marker_id=first.marker_id, replicate=2, value=123.0))
    other = ctx.scalar(select(MarkerResult).join(Marker).where(Marker.code == "RX_IL8")
                       .order_by(MarkerResult.id).limit(1))
    ctx.add(MarkerResult(sample_id=other.sample_id, marker_id=other.marker_id, replicate=2, value=None,
                         qualifier="<LOD"))
    ctx.flush()
    values = data.marker_values(ctx, study)
    assert 123.0 in set(values.loc[values["marker"] == "RX_TNF", "value"])
    assert first.value not in set(values.loc[values["marker"] == "RX_TNF", "value"])
    # the re-measurement read <LOD: it replaces the earlier value and, having no value, leaves none
    assert other.value not in set(values.loc[values["marker"] == "RX_IL8", "value"])
    assert not any(str(t).startswith("datetime") for t in values.dtypes)
    assert values["day"].notna().all()  # study day of the visit (baseline may precede enrolment)


def test_a_population_without_events_gives_counts_and_no_effects() -> None:
    frame = pd.DataFrame({"participant_id": ["A", "B", "C", "D"], "time": [10.0, 20.0, 30.0, 40.0],
                          "event": [0.0, 0.0, 0.0, 0.0], "age": [60.0, 61, 62, 63], "male": [1.0, 0, 1, 0],
                          "ecog": [0.0, 1, 0, 1], "M1": [1.0, 2.0, np.nan, 4.0], "M2": [np.nan] * 4})
    params = {"outcome": "dfs_a", "timepoint": "BASELINE", "sample_type": "SERUM", "transform": "log2",
              "cut": "none", "covariates": [], "landmark": None}
    result = service.compute(frame, params)
    assert list(result.index) == ["M1", "M2"] and result.loc["M1", "n"] == 3 and result.loc["M2", "n"] == 0
    assert (result["events"] == 0).all() and result["effect"].isna().all() and result.attrs["not_estimable"]


def test_withdrawn_consent_takes_a_participant_out_of_the_analysis(ctx: Any) -> None:
    study = get_study(ctx)
    values = data.marker_values(ctx, study)
    code = min(set(values.loc[values["marker"] == SIGNAL, "participant_id"]))
    participant = ctx.scalar(select(Participant).where(Participant.code == code))
    before = values.attrs["excluded"]["withdrawn consent"]
    participant.consents[0].withdrawn_on = participant.enrolled_on
    ctx.flush()
    after = data.marker_values(ctx, study)
    assert code not in set(after["participant_id"])
    assert after.attrs["excluded"]["withdrawn consent"] == before + 1
    params = parameters.check_parameters(ctx, study, {"outcome": "efs", "sample_type": "SERUM"})
    run = service.run_screen(ctx, study, params, by=None)
    assert code not in set(service.frame_for(ctx, study, params)["participant_id"])
    assert run.result["excluded"]["withdrawn consent"] == before + 1


def test_marker_report_median_split_matches_the_screen(ctx: Any) -> None:
    study = get_study(ctx)
    params = parameters.check_parameters(ctx, study,
                                         {"outcome": "efs", "sample_type": "SERUM", "cut": "median"})
    run = service.run_screen(ctx, study, params, by=None)
    marker = report.marker_report(ctx, study, run, SIGNAL)
    frame = marker["frame"]
    assert set(frame["group"]) == {f"{SIGNAL} lower half", f"{SIGNAL} upper half"}
    high = frame.assign(high=(frame["group"] == f"{SIGNAL} upper half").astype(float))
    fit = survival.cox(high, "time", "event", ["high"])
    row = service.result_frame(run).loc[SIGNAL]
    assert fit.table.loc["high", "hr"] == pytest.approx(row["effect"], rel=1e-6)
    assert marker["logrank"].p == pytest.approx(row["p"], rel=1e-9)
    assert marker["figures"] == ["km", "response", "trajectory"]


def test_catalogue_transforms_are_saved_with_the_run(ctx: Any) -> None:
    study = get_study(ctx)
    params = parameters.check_parameters(ctx, study, {"outcome": "pcr", "sample_type": "FFPE",
                                                   "transform": "catalogue"})
    run = service.run_screen(ctx, study, params, by=None)
    chosen = run.parameters["marker_transforms"]
    catalogue = dict(ctx.execute(select(Marker.code, Marker.transform).where(Marker.code.in_(list(chosen))))
                     .all())
    assert chosen == catalogue and set(chosen) == set(run.result["index"])
    frame = service.frame_for(ctx, study, run.parameters)
    for code, name in chosen.items():
        x = transforms.apply(name, frame[[code]].astype(float))[code]
        assoc = binary.associate(frame.assign(x=x), "outcome", "x")
        assert service.result_frame(run).loc[code, "effect"] == pytest.approx(assoc.or_unit, rel=1e-6)
    assert any("from the catalogue" in c for c in report.conditions(run.parameters))
