"""Database -> contract tables -> derived endpoints, QoL scores and toxicity through the app's service."""

from __future__ import annotations

import pandas as pd
import pytest

from lims.clinical import service
from lims.clinical.models import (
    CRE,
    AdverseEvent,
    Allocation,
    Death,
    DiseaseEvent,
    LastContact,
    Pathology,
    QoLResponse,
    Surgery,
    Treatment,
)
from tests.clinical.conftest import D0
from tests.clinical.conftest import day as _day


@pytest.fixture()
def ww_regrowth(session, make_participant):
    """A watch-and-wait patient whose regrowth on day 200 is salvaged R0 on day 230."""
    p = make_participant(enrolled_on=D0)
    rand = _day(100)
    session.add_all([
        Treatment(participant_id=p.id, rt_start=_day(8), rt_end=_day(40), rt_dose_gy=41.4, rt_fractions=23),
        CRE(participant_id=p.id, seq=1, date=_day(80), overall="cCR"),
        Allocation(participant_id=p.id, stratum="CCR_WW", rand_date=rand),
        DiseaseEvent(participant_id=p.id, date=_day(200), type="LOCAL_REGROWTH", proof="histology"),
        Surgery(participant_id=p.id, date=_day(230), intent="salvage", r_status="R0"),
        Pathology(participant_id=p.id, surgery_date=_day(230), ypt="ypT2", ypn="ypN0", viable_pct=30.0),
        LastContact(participant_id=p.id, last_alive_date=_day(500), last_disease_assessment_date=_day(480)),
    ])
    session.flush()
    return p


def test_tables_follow_the_contract(session, study, ww_regrowth):
    tables = service.clinical_tables(session, study, [ww_regrowth])
    assert tables["participants"]["participant_id"].tolist() == [ww_regrowth.code]
    assert tables["cre"].loc[0, "overall"] == "cCR"
    assert tables["allocation"].loc[0, "participant_id"] == ww_regrowth.code
    assert set(tables) >= {"treatment", "surgery", "pathology", "disease_events", "deaths", "last_contact",
                           "adverse_events", "qol_responses", "drug_doses", "subsequent_treatments"}


def test_regrowth_salvaged_r0_counts_under_a_not_b(session, study, ww_regrowth):
    a = service.derived_endpoints(session, study, "A", [ww_regrowth]).iloc[0]
    b = service.derived_endpoints(session, study, "B", [ww_regrowth]).iloc[0]
    assert bool(a["dfs_event"]) and a["dfs_time"] == 200 - 100 + 1
    assert not bool(b["dfs_event"]) and b["dfs_time"] == 480 - 100 + 1
    assert a["variant"] == "A" and b["variant"] == "B"
    assert bool(a["ccr_cre1"]) and not bool(a["pcr"])


def test_study_settings_choose_the_default_variant(session, study, ww_regrowth):
    study.settings = {**study.settings, "dfs_variant": "B"}
    row = service.derived_endpoints(session, study, participants=[ww_regrowth]).iloc[0]
    assert row["variant"] == "B" and not bool(row["dfs_event"])


def test_death_without_progression_ends_os_and_dfs(session, study, make_participant):
    p = make_participant(enrolled_on=D0)
    session.add_all([
        Allocation(participant_id=p.id, stratum="CCR_SURGERY", rand_date=_day(90)),
        CRE(participant_id=p.id, seq=1, date=_day(80), overall="cCR"),
        Death(participant_id=p.id, date=_day(300), cause="other"),
        LastContact(participant_id=p.id, last_alive_date=_day(300), last_disease_assessment_date=_day(250)),
    ])
    session.flush()
    row = service.derived_endpoints(session, study, participants=[p]).iloc[0]
    assert (row["os_time"], bool(row["os_event"])) == (300, True)
    assert (row["dfs_time"], row["dfs_event_type"]) == (300 - 90 + 1, "DEATH")


def test_qol_scores_through_the_app(session, study, make_participant):
    p = make_participant(enrolled_on=D0)
    # QLQ-C30 physical functioning: items 1-5 answered 1,2,2,missing,3 -> RS 2.0 -> 66.67.
    answers = {1: 1, 2: 2, 3: 2, 4: None, 5: 3, 29: 5, 30: None}
    session.add_all([QoLResponse(participant_id=p.id, instrument="QLQ-C30", timepoint="BASELINE", item=str(i),
                                 value=v, date=D0) for i, v in answers.items()])
    session.flush()
    c30 = service.qol_scores(session, study, p)["QLQ-C30"].iloc[0]
    assert c30["PF2"] == pytest.approx((1 - (2.0 - 1) / 3) * 100)
    assert c30["QL2"] == pytest.approx((5 - 1) / 6 * 100)  # one of two items answered: half is enough
    assert pd.isna(c30["EF"])


def test_worst_toxicity_splits_acute_and_chronic(session, study, ww_regrowth):
    session.add_all([
        AdverseEvent(participant_id=ww_regrowth.id, term="Oesophageal stenosis", grade=2,
                     onset_date=_day(50)),
        AdverseEvent(participant_id=ww_regrowth.id, term="Oesophageal stenosis", grade=3,
                     onset_date=_day(200)),
    ])
    session.flush()
    row = service.toxicity(session, study, ww_regrowth).iloc[0]
    assert (row["worst_grade"], row["worst_grade_acute"], row["worst_grade_chronic"]) == (3, 2, 3)


def test_sync_anchors_moves_the_schedule(session, study, make_participant):
    p = make_participant(enrolled_on=D0)
    session.add_all([
        Treatment(participant_id=p.id, rt_start=_day(8), rt_end=_day(40)),
        CRE(participant_id=p.id, seq=1, date=_day(80), overall="local"),
        Allocation(participant_id=p.id, stratum="NON_CCR_SURGERY"),
        Surgery(participant_id=p.id, date=_day(100), intent="planned", r_status="R0"),
    ])
    session.flush()
    service.sync_anchors(session, p)
    assert (p.rt_start_on, p.eot_on, p.cre1_on, p.surgery_on, p.stratum) == (
        _day(8), _day(40), _day(80), _day(100), "NON_CCR_SURGERY")
    planned = {v.timepoint.code: v.planned_on for v in p.visits}
    assert planned["SURGERY"] == _day(100) and planned["EOT"] == _day(40)


def test_progression_precluding_surgery_and_r2_are_efs_events(session, study, make_participant):
    pps = make_participant(enrolled_on=D0)
    r2 = make_participant(enrolled_on=D0)
    session.add_all([
        CRE(participant_id=pps.id, seq=1, date=_day(80), overall="distant"),
        DiseaseEvent(participant_id=pps.id, date=_day(80), type="PROGRESSION_PRECLUDING_SURGERY",
                     site="distant"),
        LastContact(participant_id=pps.id, last_alive_date=_day(200), last_disease_assessment_date=_day(150)),
        CRE(participant_id=r2.id, seq=1, date=_day(80), overall="local"),
        Allocation(participant_id=r2.id, stratum="NON_CCR_SURGERY"),
        Surgery(participant_id=r2.id, date=_day(110), intent="planned", r_status="R2"),
        LastContact(participant_id=r2.id, last_alive_date=_day(400), last_disease_assessment_date=_day(390)),
    ])
    session.flush()
    rows = service.derived_endpoints(session, study, participants=[pps, r2]).set_index("participant_id")
    assert (rows.loc[pps.code, "efs_time"],
            rows.loc[pps.code, "efs_event_type"]) == (80, "PROGRESSION_PRECLUDING_SURGERY")
    assert rows.loc[pps.code, "first_failure"] == "distant"
    assert bool(rows.loc[pps.code, "evaluable"]) and not bool(rows.loc[pps.code, "ccr_cre1"])
    assert (rows.loc[r2.code, "efs_time"], rows.loc[r2.code, "efs_event_type"]) == (110, "SURGERY_R2")
    assert pd.isna(rows.loc[r2.code, "dfs_time"])  # DFS only for the randomised
    assert not bool(rows.loc[r2.code, "os_event"]) and rows.loc[r2.code, "os_time"] == 400


def test_events_on_the_same_day_and_censoring_at_last_assessment(session, study, make_participant):
    p = make_participant(enrolled_on=D0)
    q = make_participant(enrolled_on=D0)
    session.add_all([
        Allocation(participant_id=p.id, stratum="CCR_WW", rand_date=_day(90)),
        DiseaseEvent(participant_id=p.id, date=_day(250), type="REGIONAL"),
        DiseaseEvent(participant_id=p.id, date=_day(250), type="DISTANT"),
        LastContact(participant_id=p.id, last_alive_date=_day(400), last_disease_assessment_date=_day(300)),
        Allocation(participant_id=q.id, stratum="CCR_WW", rand_date=_day(90)),
        LastContact(participant_id=q.id, last_alive_date=_day(400), last_disease_assessment_date=_day(300)),
    ])
    session.flush()
    rows = service.derived_endpoints(session, study, participants=[p, q]).set_index("participant_id")
    assert (rows.loc[p.code, "dfs_time"], rows.loc[p.code, "dfs_event_type"]) == (161, "DISTANT+REGIONAL")
    assert rows.loc[p.code, "first_failure"] == "combined"
    assert (rows.loc[q.code, "dfs_time"], bool(rows.loc[q.code, "dfs_event"])) == (300 - 90 + 1, False)
    assert (rows.loc[q.code, "os_time"], bool(rows.loc[q.code, "os_event"])) == (400, False)


def test_fact_e_scores_through_the_app_with_missing_items(session, study, make_participant):
    p = make_participant(enrolled_on=D0)
    # PWB: GP1-GP7 all reversed; answers 1 to six items, GP7 missing -> item scores 3 x 6 = 18, prorated
    # 18*7/6 = 21.
    session.add_all([QoLResponse(participant_id=p.id, instrument="FACT-E", timepoint="EOT", item=f"GP{i}",
                                 value=1.0 if i < 7 else None, date=_day(40)) for i in range(1, 8)])
    session.flush()
    row = service.qol_scores(session, study, p)["FACT-E"].iloc[0]
    assert row["PWB"] == pytest.approx(21.0)
    assert pd.isna(row["FACT_G"])  # other subscales unanswered
