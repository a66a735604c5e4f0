"""Processing refuses the impossible: volumes, physical ranges, protocol requirements, empty forms, tissue."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from lims.custody.models import CustodyEvent
from lims.samples.accessioning import ValidationErrors, YieldEntry, process_primary, record_tissue
from lims.samples.models import Sample
from lims.samples.presenters import sprec_for
from lims.samples.service import register_primary
from lims.studies.service import timepoint_by_code

COLLECTED = datetime(2025, 1, 8, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai


@pytest.fixture()
def participant(make_participant):
    return make_participant(code="ZJ-611", rt_start_on=date(2025, 1, 20), eot_on=date(2025, 2, 24),
                            surgery_on=date(2025, 5, 2), stratum="NON_CCR_SURGERY")


def _primary(session, study, participant, container: str, *, quantity: float = 10,
             timepoint: str = "BASELINE"):
    visit = next(v for v in participant.visits if v.timepoint.code == timepoint)
    kit = next(k for k in timepoint_by_code(study, timepoint).kit
               if k.container_type and k.container_type.code == container)
    return register_primary(session, visit, kit, sample_type=kit.sample_type, quantity=quantity,
                            unit=kit.unit,
                            by=None, collected_at=COLLECTED)


def _plasma_values(**changes):
    values = {
        "processing_started_at": COLLECTED + timedelta(hours=1), "precentrifugation_temp_c": 21.0,
        "spin1_g": 1600.0, "spin1_min": 10.0, "spin1_temp_c": 20.0, "spin1_brake": True,
        "spin2_done": True, "spin2_g": 16000.0, "spin2_min": 10.0, "spin2_temp_c": 20.0, "spin2_brake": True,
        "last_spin_ended_at": COLLECTED + timedelta(hours=1, minutes=30), "postspin_temp_c": 4.0,
        "frozen_at": COLLECTED + timedelta(hours=2), "storage_temp_c": -80.0, "storage_container": "PP",
    }
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


PLASMA = [YieldEntry("CTDNA_PLASMA", 4, 1.0, "ml")]


def _refused(session, sample, yields, **values) -> dict[str, str]:
    with pytest.raises(ValidationErrors) as info:
        process_primary(session, sample, yields, by=None, consume=False, **values)
    return info.value.problems


def test_a_good_streck_tube_makes_plasma_with_the_sprec_30_container_code(session, study,
                                                                          participant) -> None:
    streck = _primary(session, study, participant, "STRECK")
    made = process_primary(session, streck, PLASMA, by=None, consume=True, **_plasma_values())
    assert len(made) == 4 and streck.status == "consumed"
    assert sprec_for(made[0])["code"] == "PL2-SCK-A-B-I-A-A"


@pytest.mark.parametrize(("yields", "message"), [
    ([YieldEntry("CTDNA_PLASMA", 200, 1.0, "ml")], "200 × 1 ml = 200 ml is more than the 10 ml left"),
    ([YieldEntry("CTDNA_PLASMA", 1000, 1.0, "ml")], "make 1 to 200 samples"),
    ([YieldEntry("CTDNA_PLASMA", 10, 1.0, "ml")], "more than the 9.5 ml that can be taken out"),
    ([YieldEntry("CTDNA_PLASMA", 6, 1.0, "ml"), YieldEntry("BUFFY_COAT", 8, 0.5, "ml")],
     "6 × 1 ml + 8 × 0.5 ml = 10 ml is more than the 9.5 ml"),
    ([YieldEntry("CTDNA_PLASMA", 4, 0.0, "ml")], "give the amount"),
    ([YieldEntry("NOT_A_TYPE", 4, 1.0, "ml")], "unknown sample type"),
    ([], "choose at least one product"),
])
def test_products_must_fit_in_the_tube_with_its_dead_volume(session, study, participant, yields,
                                                            message) -> None:
    edta = _primary(session, study, participant, "K2EDTA")
    problems = _refused(session, edta, yields, **_plasma_values())
    assert any(message in text for text in problems.values()), problems
    assert session.scalars(select(Sample).where(Sample.parent_id == edta.id)).all() == []


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"spin1_g": -1600.0}, "spin1_g", "-1600 g is impossible here"),
    ({"spin2_g": 2_000_000.0}, "spin2_g", "impossible"),
    ({"spin1_min": 0.0}, "spin1_min", "impossible"),
    ({"spin1_temp_c": 95.0}, "spin1_temp_c", "impossible"),
    ({"precentrifugation_temp_c": -40.0}, "precentrifugation_temp_c", "impossible"),
    ({"storage_temp_c": 25.0}, "storage_temp_c", "kept at -196 to -60 °C under the protocol, not at 25 °C"),
    ({"storage_temp_c": -20.0}, "storage_temp_c", "not at -20 °C"),
    ({"storage_temp_c": -400.0}, "storage_temp_c", "impossible"),
    ({"storage_container": "TEACUP"}, "storage_container", "unknown storage container"),
    ({"spin2_g": None, "spin2_min": None, "spin2_temp_c": None, "spin2_done": None}, "spin2_g",
     "required by the protocol"),
    ({"frozen_at": None}, "frozen_at", "required by the protocol"),
    ({"frozen_at": COLLECTED + timedelta(minutes=50)}, "frozen_at", "is before the end of the last spin"),
    ({"processing_started_at": COLLECTED - timedelta(hours=2)}, "processing_started_at",
     "before the collection"),
    ({"frozen_at": datetime.now(UTC) + timedelta(days=2)}, "frozen_at", "in the future"),
    ({"frozen_at": COLLECTED + timedelta(days=120)}, "frozen_at", "more than 90 days after collection"),
])
def test_impossible_or_missing_values_are_refused(session, study, participant, changes, field,
                                                  message) -> None:
    streck = _primary(session, study, participant, "STRECK")
    problems = _refused(session, streck, PLASMA, **_plasma_values(**changes))
    assert field in problems and message in problems[field], problems
    assert streck.status == "collected"


def test_an_empty_pre_analytical_form_is_refused(session, study, participant) -> None:
    edta = _primary(session, study, participant, "K2EDTA")
    problems = _refused(session, edta, PLASMA)
    assert "nothing" in problems["form"] or "no pre-analytical value" in problems["form"]


def test_stool_aliquots_need_less_than_blood(session, study, participant) -> None:
    stool = _primary(session, study, participant, "STOOL_KIT", quantity=2000)
    values = {"processing_started_at": COLLECTED + timedelta(hours=20), "precentrifugation_temp_c": 21.0,
              "frozen_at": COLLECTED + timedelta(hours=21), "storage_temp_c": -80.0,
              "storage_container": "CRYO"}
    made = process_primary(session, stool, [YieldEntry("STOOL", 4, 200, "mg")], by=None, consume=False,
                           **values)
    assert sprec_for(made[0])["code"] == "STL-OMN-I-N-N-N-D"
    assert stool.quantity == pytest.approx(1200)


def test_process_api_answers_422_with_every_problem_and_201_with_label_hook(login, session, study,
                                                                            participant) -> None:
    streck = _primary(session, study, participant, "STRECK")
    client = login("technician")
    body = {"yields": [{"sample_type": "CTDNA_PLASMA", "count": 1000, "volume": 1, "unit": "ml"}],
            "spin1_g": -1600, "storage_temp_c": 25}
    r = client.post(f"/api/v1/samples/{streck.accession}/process", json=body)
    assert r.status_code == 422
    errors = r.get_json()["errors"]["json"]
    assert "spin1_g" in errors and "count" in str(errors["yields"])
    empty = client.post(f"/api/v1/samples/{streck.accession}/process",
                        json={"yields": [{"sample_type": "CTDNA_PLASMA", "count": 4, "volume": 1,
                                          "unit": "ml"}]})
    assert empty.status_code == 422 and "no pre-analytical value" in empty.get_json()["message"]
    warm = client.post(f"/api/v1/samples/{streck.accession}/process", json={
        "yields": [{"sample_type": "CTDNA_PLASMA", "count": 4, "volume": 1, "unit": "ml"}],
        "processing_started_at": "2025-01-08T10:30", "precentrifugation_temp_c": 21, "spin1_g": 1600,
        "spin1_min": 10, "spin1_temp_c": 20, "spin1_brake": True, "spin2_g": 16000, "spin2_min": 10,
        "spin2_temp_c": 20, "spin2_brake": True, "last_spin_ended_at": "2025-01-08T11:00",
        "postspin_temp_c": 4, "frozen_at": "2025-01-08T11:20", "storage_temp_c": 25,
        "storage_container": "PP"})
    assert warm.status_code == 422 and "storage_temp_c" in warm.get_json()["errors"]
    good = client.post(f"/api/v1/samples/{streck.accession}/process", json={
        "yields": [{"sample_type": "CTDNA_PLASMA", "count": 4, "volume": 1, "unit": "ml"}],
        "processing_started_at": "2025-01-08T10:30", "precentrifugation_temp_c": 21, "spin1_g": 1600,
        "spin1_min": 10, "spin1_temp_c": 20, "spin1_brake": True, "spin2_g": 16000, "spin2_min": 10,
        "spin2_temp_c": 20, "spin2_brake": True, "last_spin_ended_at": "2025-01-08T11:00",
        "postspin_temp_c": 4, "frozen_at": "2025-01-08T11:20", "storage_temp_c": -80,
        "storage_container": "PP",
        "consume": True})
    assert good.status_code == 201, good.get_json()
    data = good.get_json()
    assert len(data["made"]) == 4 and data["labels"] == "/samples/labels"
    child = session.scalar(select(Sample).where(Sample.accession == data["made"][0]["accession"]))
    # Times without an offset are the study's local time: 10:30 in Shanghai is 02:30 UTC.
    assert child.processing_started_at == datetime(2025, 1, 8, 2, 30, tzinfo=UTC)
    assert sprec_for(child)["code"] == "PL2-SCK-A-B-I-A-A"


def test_process_page_names_fields_readably_and_links_to_labels(login, session, study, participant) -> None:
    edta = _primary(session, study, participant, "K2EDTA")
    client = login("technician")
    page = client.get(f"/samples/{edta.accession}/process").get_data(as_text=True)
    assert "Temperature before centrifugation (°C) *" in page
    r = client.post(f"/samples/{edta.accession}/process", data={
        "yield-0-count": "4", "yield-0-volume": "1", "yield-1-count": "1", "yield-1-volume": "0.5",
        "spin1_g": "-1600", "storage_temp_c": "25"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "Nothing was saved" in html
    assert "first spin force (g)" in html and "precentrifugation temp c" not in html and "form:" not in html
    empty = client.post(f"/samples/{edta.accession}/process",
                        data={"yield-0-count": "4", "yield-0-volume": "1"})
    assert empty.status_code == 422 and "no pre-analytical value was filled in" in empty.get_data(
        as_text=True)
    form = {"yield-0-count": "4", "yield-0-volume": "1", "yield-1-count": "1", "yield-1-volume": "0.5",
            "processing_started_at": "2025-01-08T10:30", "precentrifugation_temp_c": "21", "spin1_g": "1600",
            "spin1_min": "10", "spin1_temp_c": "4", "spin1_brake": "on", "spin2_g": "16000",
            "spin2_min": "10",
            "spin2_temp_c": "4", "spin2_brake": "on", "last_spin_ended_at": "2025-01-08T11:00",
            "postspin_temp_c": "4", "frozen_at": "2025-01-08T11:20", "storage_temp_c": "-80",
            "storage_container": "PP", "consume": "on"}
    r = client.post(f"/samples/{edta.accession}/process", data=form)
    assert r.status_code == 302 and "/made?" in r.headers["Location"]
    made = client.get(r.headers["Location"]).get_data(as_text=True)
    children = session.scalars(select(Sample).where(Sample.parent_id == edta.id)).all()
    assert len(children) == 5 and all(c.accession in made for c in children)
    assert 'action="/samples/labels"' in made and "Labels for the 5 new tubes" in made


# --- tissue -----------------------------------------------------------------------------------------------


def _tissue(session, study, participant, code: str = "FFPE", timepoint: str = "SURGERY"):
    visit = next(v for v in participant.visits if v.timepoint.code == timepoint)
    kit = next(k for k in timepoint_by_code(study, timepoint).kit if k.sample_type.code == code)
    return register_primary(session, visit, kit, sample_type=kit.sample_type, quantity=kit.volume,
                            unit=kit.unit,
                            by=None, collected_at=COLLECTED)


T = datetime(2025, 5, 2, 2, 0, tzinfo=UTC)


def _ffpe(**changes):
    values = {"collection_type": "SRG", "clamped_at": T, "excised_at": T + timedelta(minutes=45),
              "fixation_type": "NBF", "fixation_started_at": T + timedelta(minutes=60),
              "fixation_ended_at": T + timedelta(minutes=60, hours=30), "storage_temp_c": 20.0,
              "storage_container": "PARAFFIN"}
    values.update(changes)
    return values


def test_tissue_form_records_ischaemia_and_fixation(session, study, participant) -> None:
    block = _tissue(session, study, participant)
    record_tissue(session, block, by=None, **_ffpe())
    assert sprec_for(block)["code"] == "TIS-SRG-E-C-NBF-F-P"
    event = session.scalars(select(CustodyEvent).where(CustodyEvent.sample_id == block.id)
                            .order_by(CustodyEvent.seq.desc())).first()
    assert event.action == "processed" and event.details["tissue"]["fixation_type"] == "NBF"


def test_frozen_tissue_in_liquid_nitrogen_is_no_longer_always_unknown(session, study, participant) -> None:
    frozen = _tissue(session, study, participant, "FROZEN_TISSUE")
    record_tissue(session, frozen, by=None, collection_type="SRG", clamped_at=T,
                  excised_at=T + timedelta(minutes=25),
                  fixation_type="SNP", fixation_started_at=T + timedelta(minutes=33), storage_temp_c=-196.0,
                  storage_container="CRYO", storage_via_minus80=False)
    assert sprec_for(frozen)["code"] == "TIS-SRG-D-B-SNP-N-C"


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"fixation_ended_at": T + timedelta(minutes=30)}, "fixation_ended_at",
     "is before the start of fixation"),
    ({"excised_at": T - timedelta(minutes=5)}, "excised_at", "is before the vascular clamping"),
    ({"clamped_at": None}, "clamped_at", "needs the clamping time"),
    ({"collection_type": "BPS"}, "clamped_at", "biopsy has no vascular clamping"),
    ({"fixation_type": "SNP"}, "storage_container", "cannot be kept in a paraffin block"),
    ({"storage_temp_c": -80.0}, "storage_temp_c", "kept at 2 to 30 °C"),
    ({"storage_temp_c": 500.0}, "storage_temp_c", "impossible"),
    ({"fixation_ended_at": None}, "fixation_ended_at", "required by the protocol"),
    ({"collection_type": None}, "collection_type", "required by the protocol"),
    ({"excised_at": datetime.now(UTC) + timedelta(days=1), "fixation_started_at": None}, "excised_at",
     "future"),
])
def test_impossible_tissue_records_are_refused(session, study, participant, changes, field, message) -> None:
    block = _tissue(session, study, participant)
    with pytest.raises(ValidationErrors) as info:
        record_tissue(session, block, by=None, **_ffpe(**changes))
    assert field in info.value.problems and message in info.value.problems[field], info.value.problems
    assert block.fixation_type is None


def test_tissue_page_and_api(login, session, study, participant) -> None:
    block = _tissue(session, study, participant)
    client = login("technician")
    page = client.get(f"/samples/{block.accession}/tissue")
    assert page.status_code == 200 and "Tissue pre-analytics" in page.get_data(as_text=True)
    assert client.get(f"/samples/{block.accession}/process").headers["Location"].endswith("/tissue")
    empty = client.post(f"/samples/{block.accession}/tissue", data={})
    assert empty.status_code == 422 and "no pre-analytical value" in empty.get_data(as_text=True)
    bad = client.put(f"/api/v1/samples/{block.accession}/tissue", json={
        "collection_type": "SRG", "excised_at": "2025-05-02T10:45", "fixation_type": "NBF",
        "fixation_started_at": "2025-05-02T10:40", "fixation_ended_at": "2025-05-03T16:00",
        "storage_temp_c": 20, "storage_container": "PARAFFIN"})
    assert bad.status_code == 422
    assert set(bad.get_json()["errors"]) >= {"clamped_at", "fixation_started_at"}
    r = client.post(f"/samples/{block.accession}/tissue", data={
        "collection_type": "SRG", "clamped_at": "2025-05-02T10:00", "excised_at": "2025-05-02T10:45",
        "fixation_type": "NBF", "fixation_started_at": "2025-05-02T11:00",
        "fixation_ended_at": "2025-05-03T17:00",
        "storage_temp_c": "20", "storage_container": "PARAFFIN"})
    assert r.status_code == 302, r.get_data(as_text=True)
    detail = client.get(f"/api/v1/samples/{block.accession}").get_json()
    assert detail["sprec"] == "TIS-SRG-E-C-NBF-F-P"
    assert block.clamped_at == datetime(2025, 5, 2, 2, 0, tzinfo=UTC)  # 10:00 Shanghai


def test_without_second_spin_values_the_api_records_no_second_spin_as_the_page_does(login, session, study,
                                                                                     participant) -> None:
    edta = _primary(session, study, participant, "K2EDTA")
    body = {"yields": [{"sample_type": "BUFFY_COAT", "count": 1, "volume": 0.5, "unit": "ml"}],
            "processing_started_at": "2025-01-08T10:30", "precentrifugation_temp_c": 21, "spin1_g": 1600,
            "spin1_min": 10, "spin1_temp_c": 20, "spin1_brake": True, "frozen_at": "2025-01-08T11:20",
            "storage_temp_c": -80, "storage_container": "PP"}
    answer = login("technician").post(f"/api/v1/samples/{edta.accession}/process", json=body)
    assert answer.status_code == 201, answer.get_json()
    made = answer.get_json()["made"][0]["accession"]
    child = session.scalar(select(Sample).where(Sample.accession == made))
    assert child.spin2_done is False  # SPREC: "no second centrifugation", not "not recorded"
