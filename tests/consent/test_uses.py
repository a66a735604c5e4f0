"""Every use of a sample answers as the one consent rule does (``lims.consent.refusal``).

Five participants with different consents (everything; no genetic research; no marker research; no sharing
outside the study; everything, then withdrawn) each have one sample of every sample type of the protocol,
stored, with a marker result. Each path that uses samples or their data (station check-out and thaw,
packing and releasing a shipment inside the study and to an outside lab, dataset export, the results list
and API, the analysis dataset, marker import) must allow exactly the samples ``refusal(sample, purpose)``
allows, and refuse the others with its reason. Storing and moving are handling: always allowed.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, select

from lims import consent
from lims.accounts.models import User
from lims.accounts.service import create_token
from lims.consent.withdrawal import withdraw_consent
from lims.extensions import db
from lims.markers.models import MarkerResult
from lims.markers.service import save_marker
from lims.participants.service import enrol, plan_visits, record_consent
from lims.results.data import marker_values
from lims.samples.service import register_primary
from lims.shipments import service as shipments
from lims.shipments.models import ShipmentItem
from lims.storage.service import create_unit, place_sample
from lims.studies.models import Site
from lims.studies.service import get_study
from tests.conftest import PASSWORD, module_transaction, rolled_back

FULL = {"MARKER_RESEARCH": True, "GENETIC_RESEARCH": True, "THIRD_PARTY_SHARING": True}
CONSENTS = {
    "FULL": FULL,
    "NOGEN": {**FULL, "GENETIC_RESEARCH": False},
    "NOMR": {**FULL, "MARKER_RESEARCH": False},
    "NOTP": {**FULL, "THIRD_PARTY_SHARING": False},
    "WDRN": FULL,  # withdrawn after its samples were stored and measured
}
MARKER = "CU_MARKER"
USERS = ("technician", "lab_manager", "researcher", "data_manager")


@dataclass(frozen=True)
class Tube:
    accession: str
    participant: str
    sample_type: str
    quarantined: bool
    refusals: dict[str, str | None]  # purpose -> consent.refusal(sample, purpose)


@dataclass
class Uses:
    app: Flask
    connection: Any
    tubes: list[Tube]
    tokens: dict[str, str]
    inside: int  # draft shipment ZJ -> NB
    outside: int  # draft shipment ZJ -> an outside lab
    boxes: dict[str, int]  # participant code -> its box id
    spare_box: int
    rack_barcode: str

    def call(self, username: str, method: str, path: str, **kwargs: Any) -> Any:
        """Make one API request with ``username``'s token; its changes are rolled back."""
        with rolled_back(self.connection):
            return self.app.test_client().open(
                path, method=method, **kwargs, headers={"Authorization": f"Bearer {self.tokens[username]}"}
            )


def _build(session: Any) -> dict[str, Any]:
    study = get_study(session, "ESCC-WW")
    site = session.scalar(select(Site).where(Site.code == "ZJ"))
    users = {
        u.username: u for u in session.scalars(select(User).where(User.username.in_((*USERS, "admin"))))
    }
    admin = users["admin"]
    freezer = create_unit(
        session, site=site, kind="freezer", name="CU freezer", barcode="CU-FRZ", set_temp_c=-80.0
    )
    rack = create_unit(session, site=site, kind="rack", name="CU rack", barcode="CU-RCK", parent=freezer)
    rack2 = create_unit(session, site=site, kind="rack", name="CU rack 2", barcode="CU-RCK2", parent=freezer)
    spare = create_unit(
        session, site=site, kind="box", name="CU spare", barcode="CU-SPARE", parent=rack, rows=9, cols=9
    )
    marker = save_marker(
        session,
        {
            "code": MARKER,
            "name": MARKER,
            "category": "cytokine",
            "unit": "pg/mL",
            "specimen_types": [t.code for t in study.sample_types],
            "transform": "none",
        },
    ).id
    boxes, samples = {}, []
    for tag, scopes in CONSENTS.items():
        p = enrol(
            session,
            study,
            site=site,
            code=f"ZJ-CU{tag}",
            enrolled_on=date(2025, 1, 6),
            sex="F",
            age=58,
            ecog=1,
        )
        record_consent(session, p, version="3.0", signed_on=date(2025, 1, 6), scopes=scopes)
        p.rt_start_on, p.eot_on = date(2025, 1, 20), date(2025, 2, 24)
        session.flush()
        plan_visits(session, p)
        visit = next(v for v in p.visits if v.timepoint.code == "BASELINE")
        visit.status, visit.actual_on = "done", date(2025, 1, 8)
        box = create_unit(
            session,
            site=site,
            kind="box",
            name=f"CU box {tag}",
            barcode=f"CU-{tag}",
            parent=rack2,
            rows=3,
            cols=4,
        )
        boxes[p.code] = box.id
        for kind in study.sample_types:
            sample = register_primary(
                session,
                visit,
                None,
                sample_type=kind,
                quantity=1.0,
                unit=kind.unit,
                by=users["technician"],
                collected_at=datetime(2025, 1, 8, 9, 0, tzinfo=UTC),
            )
            place_sample(session, sample, box, by=admin)
            session.add(MarkerResult(sample_id=sample.id, marker_id=marker, replicate=1, value=4.2))
            samples.append(sample)
        session.flush()
        if tag == "WDRN":
            withdraw_consent(session, p, on=date(2025, 6, 1), reason="participant request", by=admin)
    tubes = [
        Tube(
            s.accession,
            s.participant.code,
            s.sample_type.code,
            s.status == "quarantined",
            {purpose: consent.refusal(s, purpose) for purpose in consent.PURPOSES},
        )
        for s in samples
    ]
    inside = shipments.create_shipment(
        session, study, from_site="ZJ", to_site="NB", conditions="dry_ice", by=admin
    )
    outside = shipments.create_shipment(
        session, study, from_site="ZJ", destination="Outside Lab", conditions="dry_ice", by=admin
    )
    tokens = {name: create_token(session, users[name], name="consent tests")[1] for name in USERS}
    return {
        "tubes": tubes,
        "tokens": tokens,
        "inside": inside.id,
        "outside": outside.id,
        "boxes": boxes,
        "spare_box": spare.id,
        "rack_barcode": rack.barcode,
    }


@pytest.fixture(scope="module")
def uses(app: Flask, engine: Engine) -> Iterator[Uses]:
    with module_transaction(app, engine) as conn:
        with app.app_context():
            built = _build(db.session)
            db.session.commit()
        yield Uses(app, conn, **built)


def test_every_sample_type_and_consent_is_covered(uses: Uses) -> None:
    with uses.app.app_context():
        kinds = {t.code for t in get_study(db.session).sample_types}
    assert {(t.participant, t.sample_type) for t in uses.tubes} == {
        (f"ZJ-CU{tag}", kind) for tag in CONSENTS for kind in kinds
    }
    # The rule itself tells the consents apart (else the paths below would prove little).
    genetic = {t.sample_type for t in uses.tubes if t.participant == "ZJ-CUNOGEN" and t.refusals["analysis"]}
    assert genetic and genetic < kinds
    assert all(t.refusals["check_out"] for t in uses.tubes if t.participant in ("ZJ-CUNOMR", "ZJ-CUWDRN"))
    assert all(
        t.refusals["share_outside_study"] and not t.refusals["ship"]
        for t in uses.tubes
        if t.participant == "ZJ-CUNOTP" and t.sample_type not in genetic
    )


def _agrees(tube: Tube, purpose: str, status: int, ok: int, message: str) -> str | None:
    """Return what is wrong when an answer disagrees with ``consent.refusal`` for ``purpose``."""
    refusal = tube.refusals[purpose]
    if (status == ok) != (refusal is None):
        return f"{tube.participant} {tube.sample_type}: {status} {message!r}; the rule says {refusal!r}"
    # A quarantined tube may be refused for its status first; any other refusal gives the rule's reason.
    if refusal is not None and not tube.quarantined and refusal not in message:
        return f"{tube.participant} {tube.sample_type}: refused with {message!r}, not the rule's {refusal!r}"
    return None


@pytest.mark.parametrize("mode", ["check_out", "thaw"])
def test_station(uses: Uses, mode: str) -> None:
    problems = []
    for tube in uses.tubes:
        r = uses.call(
            "technician",
            "POST",
            "/api/v1/station/scan",
            json={"code": tube.accession, "mode": mode, "text": "assay run 7"},
        )
        problems.append(_agrees(tube, mode, r.status_code, 200, r.get_json().get("message", "")))
    assert not [p for p in problems if p], "\n".join(p for p in problems if p)


def test_storage_is_handling(uses: Uses) -> None:
    """Placing, moving within storage and moving a whole box need no consent (withdrawn ones included)."""
    for tube in uses.tubes:
        r = uses.call(
            "technician",
            "POST",
            f"/api/v1/storage/units/{uses.spare_box}/place",
            json={"code": tube.accession},
        )
        assert r.status_code == 201, (tube, r.get_json())
    for participant, box in uses.boxes.items():
        r = uses.call(
            "technician", "POST", f"/api/v1/storage/units/{box}/move", json={"into": uses.rack_barcode}
        )
        assert r.status_code == 200, (participant, r.get_json())


@pytest.mark.parametrize("where", ["inside", "outside"])
def test_shipment_packing(uses: Uses, where: str) -> None:
    shipment, purpose = (uses.inside, "ship") if where == "inside" else (uses.outside, "share_outside_study")
    problems = []
    for tube in uses.tubes:
        r = uses.call(
            "technician", "POST", f"/api/v1/shipments/{shipment}/items", json={"code": tube.accession}
        )
        problems.append(_agrees(tube, purpose, r.status_code, 201, r.get_json().get("message", "")))
    assert not [p for p in problems if p], "\n".join(p for p in problems if p)


@pytest.mark.parametrize("where", ["inside", "outside"])
def test_shipment_release(uses: Uses, where: str) -> None:
    """A tube packed when consent allowed it is checked again at release (consent may have changed since)."""
    shipment, purpose = (uses.inside, "ship") if where == "inside" else (uses.outside, "share_outside_study")
    problems = []
    for tube in uses.tubes:
        with rolled_back(uses.connection):
            with uses.app.app_context():
                from lims.samples.models import Sample

                sample = db.session.scalar(select(Sample).where(Sample.accession == tube.accession))
                db.session.add(
                    ShipmentItem(
                        shipment_id=shipment,
                        accession=tube.accession,
                        sample_id=sample.id,
                        participant_code=tube.participant,
                        sample_type_code=tube.sample_type,
                        quantity=1.0,
                        unit=sample.unit,
                        state="packed",
                    )
                )
                db.session.commit()
            r = uses.call(
                "lab_manager",
                "POST",
                f"/api/v1/shipments/{shipment}/release",
                json={"password": PASSWORD, "meaning": "approved"},
            )
        problems.append(_agrees(tube, purpose, r.status_code, 200, r.get_json().get("message", "")))
    assert not [p for p in problems if p], "\n".join(p for p in problems if p)


def _listed(tubes: list[Tube], purpose: str, shown: set[tuple[str, str]]) -> list[str]:
    """Return the tubes a list shows (or leaves out) against what ``consent.refusal`` says for ``purpose``."""
    wrong = []
    for t in tubes:
        listed = (t.participant, t.sample_type) in shown
        if listed != (t.refusals[purpose] is None):
            verb = "listed" if listed else "left out"
            wrong.append(f"{t.participant} {t.sample_type}: {verb}; the rule says {t.refusals[purpose]!r}")
    return wrong


def test_dataset_export(uses: Uses) -> None:
    r = uses.call(
        "researcher",
        "POST",
        "/api/v1/markers/exports",
        json={"markers": [MARKER], "outcomes": [], "form": "long", "format": "csv"},
    )
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    with zipfile.ZipFile(io.BytesIO(r.get_data())) as zf:
        rows = list(csv.DictReader(io.StringIO(zf.read("data.csv").decode("utf-8"))))
    shown = {
        (row["participant_id"], row["sample_type"])
        for row in rows
        if row["participant_id"].startswith("ZJ-CU")
    }
    problems = _listed(uses.tubes, "export", shown)
    assert not problems, "\n".join(problems)


def test_results_list_and_api(uses: Uses) -> None:
    r = uses.call(
        "researcher", "GET", "/api/v1/markers/results", query_string={"marker": MARKER, "page_size": 100}
    )
    assert r.status_code == 200
    shown = {(row["participant_id"], _type_of(uses, row["accession"])) for row in r.get_json()}
    problems = _listed(uses.tubes, "marker_research", shown)
    with rolled_back(uses.connection):
        client = uses.app.test_client()
        client.post("/login", data={"username": "researcher", "password": PASSWORD})
        page = client.get("/markers/results", query_string={"marker": MARKER}).get_data(as_text=True)
    on_page = {(t.participant, t.sample_type) for t in uses.tubes if t.accession in page}
    problems += [f"page: {p}" for p in _listed(uses.tubes, "marker_research", on_page)]
    assert not problems, "\n".join(problems)


def _type_of(uses: Uses, accession: str) -> str:
    return next(t.sample_type for t in uses.tubes if t.accession == accession)


def test_analysis_dataset(uses: Uses) -> None:
    with rolled_back(uses.connection), uses.app.app_context():
        frame = marker_values(db.session, get_study(db.session))
    frame = frame[frame["marker"] == MARKER]
    shown = set(zip(frame["participant_id"], frame["sample_type"], strict=True))
    problems = _listed(uses.tubes, "analysis", shown)
    assert not problems, "\n".join(problems)


def test_marker_import(uses: Uses) -> None:
    """One file with every tube: refused as a whole, naming exactly the tubes the rule refuses."""

    def upload(tubes: list[Tube]) -> Any:
        # Every tube already has a result: these are re-measurements, so the only refusals left are consent's.
        body = "sample,marker,value,unit,remeasurement\n" + "".join(
            f"{t.accession},{MARKER},5.5,pg/mL,yes\n" for t in tubes
        )
        return uses.call(
            "data_manager",
            "POST",
            "/api/v1/markers/imports",
            content_type="multipart/form-data",
            data={"file": (io.BytesIO(body.encode()), "results.csv")},
        )

    r = upload(uses.tubes)
    assert r.status_code == 422, r.get_json()
    refused = {p["value"]: p["reason"] for p in r.get_json()["report"]["problems"] if p["column"] == "sample"}
    assert all("consent" in why for why in refused.values()), refused
    wrong = [
        f"{t.participant} {t.sample_type}: {'refused' if t.accession in refused else 'accepted'}; "
        f"the rule says {t.refusals['marker_research']!r}"
        for t in uses.tubes
        if (t.accession in refused) != (t.refusals["marker_research"] is not None)
    ]
    assert not wrong, "\n".join(wrong)
    allowed = [t for t in uses.tubes if t.refusals["marker_research"] is None]
    r = upload(allowed)
    assert r.status_code == 201 and r.get_json()["results"] == len(allowed), r.get_json()
