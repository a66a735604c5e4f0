"""Scan station JSON endpoints: every refusal says why and changes nothing; batches are all-or-nothing."""

from __future__ import annotations

from sqlalchemy import select

from lims.custody.models import CustodyEvent
from lims.samples.accession import check_character
from lims.samples.models import Sample
from tests.station.conftest import make_bench


def _events(session, sample) -> list[str]:
    return [e.action for e in session.scalars(
        select(CustodyEvent).where(CustodyEvent.sample_id == sample.id).order_by(CustodyEvent.seq))]


def test_lookup_normalises_and_shows_location(login, bench) -> None:
    client = login("monitor")
    code = bench.plasma[0].accession
    r = client.post("/api/v1/station/lookup", json={"code": f"  {code.lower()}\r\n", "mode": "lookup"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["ok"] and body["code"] == code
    assert body["sample"]["participant"] == bench.participant.code
    assert body["sample"]["location"].endswith(f"Box {bench.participant.code} › A1")
    assert body["sample"]["sprec"].startswith("PL2-SCK-")  # plasma from a Streck tube (SPREC 3.0 code)


def test_bad_check_character_unknown_id_and_bad_mode(login, bench) -> None:
    client = login("technician")
    code = bench.plasma[0].accession
    wrong = code[:-1] + ("A" if code[-1] != "A" else "B")
    r = client.post("/api/v1/station/scan", json={"code": wrong, "mode": "thaw"})
    assert r.status_code == 400 and "check character" in r.get_json()["message"]
    body = code.replace("-", "")[:-1]
    fake = f"TB-9999999-{check_character('TB9999999')}"
    r = client.post("/api/v1/station/scan", json={"code": fake, "mode": "thaw"})
    assert r.status_code == 404 and "never registered" in r.get_json()["message"]
    r = client.post("/api/v1/station/scan", json={"code": code, "mode": "teleport"})
    assert r.status_code == 422 and "mode" in r.get_json()["errors"]["json"]
    assert body


def test_thaw_counts_and_dispose_then_thaw_is_refused(login, session, bench) -> None:
    from tests.conftest import PASSWORD

    client = login("technician")
    s = bench.plasma[0]
    r = client.post("/api/v1/station/scan", json={"code": s.accession, "mode": "thaw"})
    assert r.status_code == 200 and r.get_json()["sample"]["freeze_thaw_count"] == 1
    r = client.post("/api/v1/station/scan", json={"code": s.accession, "mode": "dispose"})
    assert r.status_code == 409 and "say the reason" in r.get_json()["message"]
    r = client.post("/api/v1/station/scan",
                    json={"code": s.accession, "mode": "dispose", "text": "haemolysed"})
    assert r.status_code == 200 and "lab manager approves" in r.get_json()["message"]
    assert r.get_json()["sample"]["status"] == "in_storage"
    again = client.post("/api/v1/station/scan",
                        json={"code": s.accession, "mode": "dispose", "text": "again"})
    assert again.status_code == 409 and "already requested" in again.get_json()["message"]
    # Technicians cannot approve; a lab manager signs with the password.
    assert client.get("/disposal/requests").status_code == 403
    manager = login("lab_manager")
    page = manager.get("/disposal/requests").get_data(as_text=True)
    assert s.accession in page and "haemolysed" in page
    from lims.samples.models import DisposalRequest

    req = session.scalars(select(DisposalRequest).where(DisposalRequest.sample_id == s.id)).one()
    wrong = manager.post("/disposal/requests", data={"request": [req.id], "decision": "approve",
                                                     "meaning": "approved", "password": "not mine"})
    assert "password is wrong" in manager.get(wrong.headers["Location"]).get_data(as_text=True)
    session.expire_all()
    assert session.get(Sample, s.id).status == "in_storage"
    ok = manager.post("/disposal/requests", data={"request": [req.id], "decision": "approve",
                                                  "meaning": "approved", "password": PASSWORD})
    assert "Approved and disposed: 1 sample" in manager.get(ok.headers["Location"]).get_data(as_text=True)
    session.expire_all()
    sample = session.get(Sample, s.id)
    assert sample.status == "disposed"
    from lims.accounts.models import Signature

    signature = session.get(Signature, session.get(DisposalRequest, req.id).signature_id)
    assert signature.meaning == "approved" and signature.user.username == "lab_manager"
    assert s.accession in signature.statement
    r = client.post("/api/v1/station/lookup", json={"code": s.accession, "mode": "lookup"})
    assert r.get_json()["sample"]["location"] is None
    r = login("technician").post("/api/v1/station/scan", json={"code": s.accession, "mode": "thaw"})
    assert r.status_code == 409 and "cannot thaw a sample that is disposed" in r.get_json()["message"]
    session.expire_all()
    assert _events(session, s)[-2:] == ["thawed", "disposed"]


def test_check_out_needs_purpose_and_check_in_returns(login, session, bench) -> None:
    client = login("technician")
    s = bench.plasma[1]
    assert client.post("/api/v1/station/scan",
                       json={"code": s.accession, "mode": "check_in"}).status_code == 409
    r = client.post("/api/v1/station/scan",
                    json={"code": s.accession, "mode": "check_out", "text": "ctDNA run 3"})
    assert r.status_code == 200 and r.get_json()["sample"]["status"] == "checked_out"
    r = client.post("/api/v1/station/scan", json={"code": s.accession, "mode": "check_in"})
    assert r.get_json()["sample"]["status"] == "in_storage"
    session.expire_all()
    event = session.scalars(select(CustodyEvent).where(CustodyEvent.sample_id == s.id,
                                                       CustodyEvent.action == "checked_out")).one()
    assert event.reason == "ctDNA run 3" and event.user.username == "technician"


def test_withdrawn_consent_refuses_check_out(login, session, bench) -> None:
    from datetime import date

    bench.participant.consent.withdrawn_on = date(2025, 6, 1)
    session.flush()
    client = login("technician")
    r = client.post("/api/v1/station/scan",
                    json={"code": bench.plasma[0].accession, "mode": "check_out", "text": "x"})
    assert r.status_code == 409 and "withdrew consent" in r.get_json()["message"]


def test_technician_of_another_site_is_refused(login, bench) -> None:
    client = login("technician_nb")
    r = client.post("/api/v1/station/scan", json={"code": bench.plasma[0].accession, "mode": "thaw"})
    # Not revealed across sites: answered exactly like an ID that was never registered.
    assert r.status_code == 404 and r.get_json()["message"] == (
        f"no sample {bench.plasma[0].accession}: the ID is valid but was never registered here")


def test_monitor_cannot_act(login, bench) -> None:
    client = login("monitor")
    assert client.post("/api/v1/station/scan",
                       json={"code": bench.plasma[0].accession, "mode": "thaw"}).status_code == 403


def test_batch_is_all_or_nothing(login, session, study, make_participant, user, bench) -> None:
    client = login("technician")
    codes = [s.accession for s in bench.plasma[:3]]
    # A duplicate is refused at check time.
    r = client.post("/api/v1/station/check",
                    json={"code": codes[0].lower(), "mode": "thaw", "batch": codes[:1]})
    assert r.status_code == 409 and "already in this batch" in r.get_json()["message"]
    # One bad scan: nothing changes.
    disposed = bench.plasma[3]
    disposed.status = "disposed"
    session.flush()
    r = client.post("/api/v1/station/batch", json={"codes": [*codes, disposed.accession], "mode": "thaw"})
    assert r.status_code == 409
    message = r.get_json()["message"]
    assert "nothing was changed" in message and "scan 4" in message and "disposed" in message
    session.expire_all()
    assert [session.get(Sample, s.id).freeze_thaw_count for s in bench.plasma[:3]] == [0, 0, 0]
    # All good: every sample thawed once, one custody event each.
    r = client.post("/api/v1/station/batch", json={"codes": codes, "mode": "thaw"})
    assert r.status_code == 200 and r.get_json()["applied"] == 3
    session.expire_all()
    assert [session.get(Sample, s.id).freeze_thaw_count for s in bench.plasma[:3]] == [1, 1, 1]
    assert client.post("/api/v1/station/batch", json={"codes": [], "mode": "thaw"}).status_code == 422


def test_receive_moves_collected_to_received(login, session, study, make_participant, user) -> None:
    other = make_bench(session, study, make_participant, user, code="ZJ-RCV")
    client = login("technician")
    s = other.plasma[3]
    r = client.post("/api/v1/station/scan", json={"code": s.accession, "mode": "receive"})
    assert r.status_code == 200 and r.get_json()["sample"]["status"] == "received"
    assert client.post("/api/v1/station/scan",
                       json={"code": s.accession, "mode": "receive"}).status_code == 409
