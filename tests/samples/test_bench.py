"""Accessioning a visit, processing into aliquots/derivatives, pooling, units and label printing."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from marshmallow import ValidationError
from sqlalchemy import select

from lims.core.errors import DomainError
from lims.custody.models import CustodyEvent
from lims.samples.models import PoolMember, Sample
from lims.samples.schemas import ProcessSchema, TissueSchema
from lims.samples.service import pool, register_primary, split
from lims.samples.units import convert, normalise_unit
from lims.studies.service import timepoint_by_code


@pytest.fixture()
def participant(make_participant):
    return make_participant(code="ZJ-501", rt_start_on=date(2025, 1, 20), eot_on=date(2025, 2, 24))


def _baseline_form(visit, **overrides):
    form = {"actual_on": "2025-01-08"}
    for item in visit.timepoint.kit:
        key = f"kit-{item.id}"
        if item.optional:
            continue
        form[f"{key}-state"] = "collected"
        form[f"{key}-collected_at"] = "2025-01-08T09:30"
        form[f"{key}-quantity"] = str(item.volume)
    form.update(overrides)
    return form


def test_register_a_visit_from_its_kit(login, session, participant) -> None:
    client = login("technician")
    visit = next(v for v in participant.visits if v.timepoint.code == "BASELINE")
    page = client.get("/samples/register/zj-501/baseline")
    assert page.status_code == 200 and "Register samples: ZJ-501" in page.get_data(as_text=True)
    stool = next(i for i in visit.timepoint.kit if i.sample_type.code == "STOOL")
    form = _baseline_form(visit, **{f"kit-{stool.id}-state": "missed",
                                    f"kit-{stool.id}-missed_reason": "kit not returned"})
    r = client.post("/samples/register/ZJ-501/BASELINE", data=form)
    assert r.status_code == 302, r.get_data(as_text=True)
    session.expire_all()
    samples = session.scalars(select(Sample).where(Sample.visit_id == visit.id)).all()
    collected = [s for s in samples if s.status == "collected"]
    assert len(collected) == len([i for i in visit.timepoint.kit if not i.optional]) - 1
    assert [s.missed_reason for s in samples if s.status == "missed"] == ["kit not returned"]
    # 09:30 in Asia/Shanghai is 01:30 UTC.
    assert collected[0].collected_at == datetime(2025, 1, 8, 1, 30, tzinfo=UTC)
    assert session.get(type(visit), visit.id).status == "done"
    listing = client.get(r.headers["Location"]).get_data(as_text=True)
    assert collected[0].accession in listing and "Download labels" in listing
    again = client.post("/samples/register/ZJ-501/BASELINE", data=form)
    assert again.status_code == 400 and "already registered" in again.get_data(as_text=True)


def test_register_refuses_incomplete_form_and_writes_nothing(login, session, participant) -> None:
    client = login("technician")
    visit = next(v for v in participant.visits if v.timepoint.code == "BASELINE")
    first = visit.timepoint.kit[0]
    stool = next(i for i in visit.timepoint.kit if i.sample_type.code == "STOOL")
    form = _baseline_form(visit, **{f"kit-{first.id}-collected_at": "", f"kit-{stool.id}-state": "missed"})
    r = client.post("/samples/register/ZJ-501/BASELINE", data=form)
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and "Nothing was saved" in html
    assert "give the collection time" in html and "say why it was not collected" in html
    session.expire_all()
    assert session.scalars(select(Sample).where(Sample.visit_id == visit.id)).all() == []
    assert client.post("/samples/register/ZJ-501/BASELINE",
                       data={**form, "actual_on": "yesterday"}).status_code == 400
    assert login("monitor").post("/samples/register/ZJ-501/BASELINE", data=form).status_code == 403


def test_register_names_the_bad_value_and_its_field(login, session, participant) -> None:
    client = login("technician")
    visit = next(v for v in participant.visits if v.timepoint.code == "BASELINE")
    first, second = [i for i in visit.timepoint.kit if not i.optional][:2]
    form = _baseline_form(visit, actual_on="8 Jan", **{f"kit-{first.id}-quantity": "3,5,1",
                                                       f"kit-{second.id}-collected_at": "09:30"})
    r = client.post("/samples/register/ZJ-501/BASELINE", data=form)
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and "Nothing was saved" in html
    assert "&#39;8 Jan&#39; is not a date (YYYY-MM-DD)" in html
    assert "&#39;3,5,1&#39; is not a number" in html
    assert "&#39;09:30&#39; is not a date and time (YYYY-MM-DDTHH:MM)" in html
    # The rows of the two tubes are marked (the page keys problems by its field names).
    assert html.count('class="has-error"') == 2
    session.expire_all()
    assert session.scalars(select(Sample).where(Sample.visit_id == visit.id)).all() == []


def test_register_names_an_unknown_tube_state(login, session, participant) -> None:
    client = login("technician")
    visit = next(v for v in participant.visits if v.timepoint.code == "BASELINE")
    first = next(i for i in visit.timepoint.kit if not i.optional)
    r = client.post("/samples/register/ZJ-501/BASELINE",
                    data=_baseline_form(visit, **{f"kit-{first.id}-state": "teleported"}))
    html = r.get_data(as_text=True)
    assert r.status_code == 400
    assert "&#39;teleported&#39; is not a tube state: choose collected or missed" in html
    assert html.count('class="has-error"') == 1


def test_register_reads_a_decimal_comma(login, session, participant) -> None:
    client = login("technician")
    visit = next(v for v in participant.visits if v.timepoint.code == "BASELINE")
    first = next(i for i in visit.timepoint.kit if not i.optional)
    amount = f"{first.volume / 2:g}".replace(".", ",")
    r = client.post("/samples/register/ZJ-501/BASELINE",
                    data=_baseline_form(visit, **{f"kit-{first.id}-quantity": amount}))
    assert r.status_code == 302, r.get_data(as_text=True)
    sample = session.scalars(select(Sample).where(Sample.kit_item_id == first.id,
                                                  Sample.visit_id == visit.id)).one()
    assert sample.quantity == first.volume / 2


def _blood(session, study, participant, user, container="K2EDTA"):
    visit = next(v for v in participant.visits if v.timepoint.code == "BASELINE")
    kit = next(k for k in timepoint_by_code(study, "BASELINE").kit if k.container_type
               and k.container_type.code == container)
    return register_primary(session, visit, kit, sample_type=kit.sample_type, quantity=10, unit="ml",
                            by=user("technician"),
                            collected_at=datetime(2025, 1, 8, 1, 30, tzinfo=UTC))


def test_process_page_makes_derivatives_with_preanalytics(login, session, study, participant, user) -> None:
    blood = _blood(session, study, participant, user)
    client = login("technician")
    page = client.get(f"/samples/{blood.accession}/process").get_data(as_text=True)
    assert "Process " + blood.accession in page
    form = {"yield-0-count": "4", "yield-0-volume": "1", "yield-0-unit": "ml",
            "yield-1-count": "1", "yield-1-volume": "0.5", "yield-1-unit": "ml",
            "processing_started_at": "2025-01-08T10:30", "precentrifugation_temp_c": "21",
            "spin1_g": "1600", "spin1_min": "10", "spin1_temp_c": "20", "spin1_brake": "on",
            "spin2_g": "16000", "spin2_min": "10", "spin2_temp_c": "20", "spin2_brake": "on",
            "last_spin_ended_at": "2025-01-08T11:00", "postspin_temp_c": "21",
            "frozen_at": "2025-01-08T11:20",
            "storage_temp_c": "-80", "storage_container": "PP", "consume": "on"}
    r = client.post(f"/samples/{blood.accession}/process", data=form)
    assert r.status_code == 302, r.get_data(as_text=True)
    session.expire_all()
    children = session.scalars(select(Sample).where(Sample.parent_id == blood.id)).all()
    assert sorted(c.sample_type.code for c in children) == ["BUFFY_COAT"] + ["CTDNA_PLASMA"] * 4
    plasma = next(c for c in children if c.sample_type.code == "CTDNA_PLASMA")
    html = client.get(f"/samples/{plasma.accession}").get_data(as_text=True)
    # EDTA, 1 h at room temperature, two spins (16000 g), 20 min after spin, -80 °C PP tube.
    assert "PL2-PED-A-" in html
    assert session.get(Sample, blood.id).status == "consumed"
    bad = dict(form, frozen_at="2025-01-08T10:00")
    other = _blood(session, study, participant, user)
    r = client.post(f"/samples/{other.accession}/process", data=bad)
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "Nothing was saved" in html
    assert "is before the end of the last spin" in html and "time placed in storage" in html


def test_aliquot_volumes_units_and_inherited_thaws(session, study, participant, user) -> None:
    stool_type = next(t for t in study.sample_types if t.code == "STOOL")
    visit = next(v for v in participant.visits if v.timepoint.code == "BASELINE")
    kit = next(k for k in visit.timepoint.kit if k.sample_type.code == "STOOL")
    stool = register_primary(session, visit, kit, sample_type=stool_type, quantity=1, unit="g", by=None,
                             collected_at=datetime(2025, 1, 8, 1, 0, tzinfo=UTC))
    stool.freeze_thaw_count = 2
    with pytest.raises(DomainError, match=r"6 × 200 mg = 1.2 g is more than the 1 g left"):
        split(session, stool, sample_type=stool_type, count=6, volume=200, unit="mg", by=None)
    with pytest.raises(DomainError, match="unknown unit 'spoons'"):
        split(session, stool, sample_type=stool_type, count=1, volume=1, unit="spoons", by=None)
    with pytest.raises(DomainError, match="cannot come out of a sample measured in g"):
        split(session, stool, sample_type=stool_type, count=1, volume=1, unit="ml", by=None)
    # The stool kit keeps 100 mg it cannot give (dead volume from the protocol): 5 x 200 mg do not fit in 1 g.
    with pytest.raises(DomainError,
                       match=r"1 g is more than the 0.9 g that can be taken out .* 0.1 g stays in the "
                                          r"Stool collection kit with stabiliser as dead volume"):
        split(session, stool, sample_type=stool_type, count=5, volume=200, unit="mg", by=None)
    parts = split(session, stool, sample_type=stool_type, count=4, volume=225, unit="mg", by=None)
    assert [p.freeze_thaw_count for p in parts] == [2] * 4
    assert stool.quantity == pytest.approx(0.1) and stool.status == "consumed"
    grand = split(session, parts[0], sample_type=stool_type, count=2, volume=50000, unit="ug", by=None)
    assert grand[0].parent.parent is stool and parts[0].quantity == pytest.approx(125)
    assert convert(1, "ml",
                   "ul") == 1000 and convert(250, "µl", "ml") == 0.25 and normalise_unit("UL") == "ul"


def test_pool_of_aliquots(session, study, participant, user) -> None:
    blood = _blood(session, study, participant, user)
    plasma_type = next(t for t in study.sample_types if t.code == "CTDNA_PLASMA")
    a, b = split(session, blood, sample_type=plasma_type, count=2, volume=1.0, unit="ml", by=None,
                 derivation="derivative")
    pooled = pool(session, [(a, 500), (b, 500)], unit="ul", by=None)
    assert pooled.derivation == "pool" and pooled.quantity == 1000 and pooled.unit == "ul"
    assert a.quantity == pytest.approx(0.5)
    members = session.scalars(select(PoolMember.member_id).where(PoolMember.pool_id == pooled.id)).all()
    assert sorted(members) == sorted([a.id, b.id])
    with pytest.raises(DomainError, match="listed twice"):
        pool(session, [(a, 1), (a, 1)], unit="ul", by=None)


def test_print_labels_pdf_and_zpl_with_reprint_events(login, session, study, participant, user) -> None:
    blood = _blood(session, study, participant, user)
    client = login("technician")
    r = client.post("/samples/labels", data={"accession": [blood.accession], "format": "pdf"})
    assert r.status_code == 200 and r.mimetype == "application/pdf" and r.data.startswith(b"%PDF")
    again = client.post("/samples/labels", data={"accession": [blood.accession.lower()], "format": "zpl"})
    assert again.status_code == 400
    assert f"{blood.accession} already had a label printed: give the reason" in again.get_data(as_text=True)
    r = client.post("/samples/labels", data={"accession": [blood.accession.lower()], "format": "zpl",
                                             "reprint_reason": "label damaged"})
    text = r.get_data(as_text=True)
    assert r.mimetype == "application/x-zpl" and text.startswith("^XA") and blood.accession in text
    session.expire_all()
    events = session.scalars(select(CustodyEvent).where(CustodyEvent.sample_id == blood.id,
                                                         CustodyEvent.action == "label_printed")
                             .order_by(CustodyEvent.seq)).all()
    assert [(e.reason, e.details["print_number"], e.details["format"]) for e in events] == [
        ("first print", 1, "pdf"), ("reprint: label damaged", 2, "zpl")]
    r = client.post("/samples/labels",
                    data={"accession": [blood.accession], "format": "pdf", "start_position": "99",
                                             "reprint_reason": "sheet"})
    assert r.status_code == 400 and "start position must be between 1 and 65" in r.get_data(as_text=True)
    svg = client.get(f"/samples/{blood.accession}/barcode.svg")
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data


def test_process_and_tissue_schemas_read_a_decimal_comma() -> None:
    loaded = ProcessSchema().load({"yields": [{"sample_type": "PLASMA", "count": "2", "volume": "0,5",
                                               "unit": "ml"}], "spin1_temp_c": "4,5"})
    assert loaded["yields"][0]["volume"] == 0.5 and loaded["spin1_temp_c"] == 4.5
    assert TissueSchema().load({"storage_temp_c": "-80,0"})["storage_temp_c"] == -80.0
    with pytest.raises(ValidationError, match="'4,5,1' is not a number"):
        ProcessSchema().load({"yields": [], "spin1_temp_c": "4,5,1"})
