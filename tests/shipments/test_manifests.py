"""Signed manifests between two installations: the round trip, and every forgery or mismatch refused with its
reason (through the import page and the API), with nothing written."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from html import unescape
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from lims.core.errors import Conflict, DomainError
from lims.core.models import AuditEvent
from lims.shipments import keys, manifests, service, signing
from lims.shipments.models import ManifestKey, Shipment
from tests.shipments.conftest import Installation, counts, dumps, make_installation


def _import_both(client: Any, raw: bytes, name: str = "SHP.manifest.json") -> tuple[Any, Any]:
    page = client.post("/shipments/import", data={"manifest": (io.BytesIO(raw), name)},
                       content_type="multipart/form-data")
    api = client.post("/api/v1/shipments/import", data=raw, content_type="application/json")
    return page, api


def _refused_everywhere(client: Any, session: Any, raw: bytes, field: str, reason: str,
                        item: int | None = None) -> None:
    """Import ``raw`` through the page and the API: both refuse it with this field and reason; nothing is
    kept."""
    shipments = counts(session)[:2]
    page, api = _import_both(client, raw)
    html = unescape(page.get_data(as_text=True))
    assert page.status_code == 400 and "was refused: nothing was imported" in html, html
    assert reason in html
    assert api.status_code == 422, api.get_json()
    problems = api.get_json()["errors"]["manifest"]
    assert any(p["field"] == field and p["item"] == item and reason in p["reason"]
               for p in problems), problems
    assert counts(session)[:2] == shipments


def _trust(session: Any, installation: Installation, admin: Any) -> Any:
    return keys.register_key(session, installation=installation.name, public_key=installation.key.public_key,
                             by=admin)


def _resigned(doc: dict[str, Any], signer: Installation, *, csv: bool = False) -> bytes:
    """Sign ``doc``'s content again (with a recomputed sha256, and CSV checksum when ``csv``)."""
    content = doc["content"]
    if csv:
        content["csv_sha256"] = hashlib.sha256(manifests.items_csv(content["items"]).encode()).hexdigest()
    return dumps(signer.sign(content))


def test_round_trip_between_two_installations(login, session, released, nb_lab, nb_site, zj_central,
                                              run_as) -> None:
    run_as(nb_site)
    own = login("admin").get("/api/v1/shipments/keys/own").get_json()
    assert own["fingerprint"] == nb_site.key.fingerprint and own["installation"] == "nb-site"
    assert own["public_key"] == nb_site.key.public_key and own["public_key_pem"].startswith("-----BEGIN "
                                                                                            "PUBLIC")
    manager = login("lab_manager")
    raw = manager.get(f"/shipments/{released.id}/manifest.json").get_data()
    doc = json.loads(raw)
    assert manager.get(f"/api/v1/shipments/{released.id}/manifest").get_json() == doc
    assert doc["signature"]["key_id"] == nb_site.key.fingerprint and doc["sha256"] == released.manifest_sha256
    assert [i["parent"] for i in doc["content"]["items"]] == [nb_lab.blood.accession] * 5

    run_as(zj_central)  # the receiving installation: its own name and key, and nobody trusted yet
    _refused_everywhere(manager, session, raw, "signature",
                        "signed by a key this installation does not trust")
    admin = login("admin")
    r = admin.post("/shipments/keys", data={"installation": "nb-site", "public_key": own["public_key_pem"],
                                            "fingerprint": signing.grouped(own["fingerprint"]).upper()})
    assert r.status_code == 302
    page = admin.get("/shipments/keys").get_data(as_text=True)
    assert signing.grouped(zj_central.key.fingerprint) in page and signing.grouped(
        nb_site.key.fingerprint) in page

    manager = login("lab_manager")
    r = manager.post("/shipments/import", data={"manifest": (io.BytesIO(raw), "SHP.manifest.json")},
                     content_type="multipart/form-data")
    assert r.status_code == 302, r.get_data(as_text=True)
    imported = session.scalar(select(Shipment).where(Shipment.origin == "nb-site"))
    assert imported.status == "released" and imported.code == released.code
    assert imported.manifest_key.installation == "nb-site"
    assert imported.manifest_sha256 == released.manifest_sha256
    assert imported.released_at == released.released_at and imported.conditions == "ln2_dry_shipper"
    # Same database, so the samples are registered "here": every item agreed with its sample and is linked.
    assert [(i.sample_id, i.parent_accession, i.quantity) for i in imported.items] == [
        (i.sample_id, nb_lab.blood.accession, 1.0) for i in released.items]
    assert "Manifest signed by</dt><dd>nb-site" in manager.get(r.headers["Location"]).get_data(as_text=True)
    again = manager.post("/api/v1/shipments/import", data=raw, content_type="application/json")
    assert again.status_code == 409 and "already imported" in again.get_json()["message"]
    report = login("technician").post(f"/api/v1/shipments/{imported.id}/receive", json={
        "scans": [t.accession for t in nb_lab.tubes[:5]], "arrival_temp_c": -150}).get_json()
    assert report["complete"] and report["received"] == [t.accession for t in nb_lab.tubes[:5]]


def test_forged_quantity_with_recomputed_sha256_is_refused(login, session, released, user, nb_site,
                                                            zj_central, run_as) -> None:
    trusted = _trust(session, nb_site, user("admin"))
    doc = manifests.manifest(released, instance=nb_site.name, key=nb_site.key)
    doc["content"]["items"][0]["quantity"] = 0.1
    doc["sha256"] = hashlib.sha256(manifests.canonical(doc["content"])).hexdigest()
    run_as(zj_central)
    client = login("lab_manager")
    audit_rows = counts(session)[2]
    _refused_everywhere(client, session, dumps(doc), "signature",
                        "the signature does not verify with the key of "
                                                                  "nb-site: the manifest was changed after "
                                                                  "it was signed")
    refusals = session.scalars(select(AuditEvent).where(AuditEvent.action == "manifest_refused")).all()
    # kept although both imports rolled back
    assert len(refusals) == 2 and counts(session)[2] == audit_rows + 2
    assert refusals[0].username == "lab_manager" and refusals[0].object_id == str(trusted.id)
    assert refusals[0].detail.endswith(f"[key id {nb_site.key.fingerprint}]")


def test_manifest_resigned_by_an_untrusted_key_is_refused(login, session, released, user, nb_site, zj_central,
                                                          run_as, tmp_path) -> None:
    _trust(session, nb_site, user("admin"))
    other = make_installation(tmp_path / "wz", "wz-site")
    _trust(session, other, user("admin"))
    intruder = make_installation(tmp_path / "intruder", "nb-site")  # claims the same name, has its own key
    doc = manifests.manifest(released, instance=nb_site.name, key=nb_site.key)
    doc["content"]["items"][0]["quantity"] = 0.1
    run_as(zj_central)
    client = login("lab_manager")
    _refused_everywhere(client, session, _resigned(doc, intruder, csv=True), "signature",
                        "signed by a key this installation does not trust")
    # ... nor does a forger gain anything by naming the trusted key while signing with another.
    forged = json.loads(_resigned(doc, intruder, csv=True))
    forged["signature"]["key_id"] = nb_site.key.fingerprint
    _refused_everywhere(client, session, dumps(forged), "signature", "the signature does not verify")
    # A trusted partner cannot speak for another installation either.
    _refused_everywhere(client, session, _resigned(doc, other), "instance",
                        "signed with the key registered for 'wz-site'")


def test_revoked_key_is_refused(login, session, released, nb_site, zj_central, run_as) -> None:
    run_as(zj_central)
    admin = login("admin")
    r = admin.post("/api/v1/shipments/keys/",
                   json={"installation": "nb-site", "public_key": nb_site.key.public_key})
    assert r.status_code == 201 and r.get_json()["state"] == "trusted" and r.get_json()[
        "registered_by"] == "admin"
    key_id = r.get_json()["id"]
    r = admin.post(f"/api/v1/shipments/keys/{key_id}/revoke")
    assert r.status_code == 200 and r.get_json()["state"] == "revoked" and r.get_json()[
        "revoked_by"] == "admin"
    assert admin.post(f"/api/v1/shipments/keys/{key_id}/revoke").status_code == 409
    raw = dumps(manifests.manifest(released, instance=nb_site.name, key=nb_site.key))
    _refused_everywhere(login("lab_manager"), session, raw, "signature",
                        "signed by the key of nb-site that was revoked")
    again = login("admin").post("/api/v1/shipments/keys/",
                                json={"installation": "nb-site", "public_key": nb_site.key.public_key})
    assert again.status_code == 409 and "never trusted again" in again.get_json()["message"]
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "manifest_key",
                                                              AuditEvent.object_id == str(key_id))).all()
    assert {"manifest_key_registered", "manifest_key_revoked"} <= set(actions)


def test_csv_checksum_mismatch_is_refused(login, session, released, user, nb_site, zj_central,
                                          run_as) -> None:
    _trust(session, nb_site, user("admin"))
    doc = manifests.manifest(released, instance=nb_site.name, key=nb_site.key)
    doc["content"]["items"][2]["quantity"] = 0.5  # signed by the partner, but the CSV it vouches for differs
    run_as(zj_central)
    _refused_everywhere(login("lab_manager"), session, _resigned(doc, nb_site), "csv_sha256",
                        "does not match the items")


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("participant", "other participant", "the sample registered here has"),
    ("sample_type", "SERUM", "the sample registered here has CTDNA_PLASMA"),
    ("parent", None, "the sample registered here has TB-"),
])
def test_item_that_disagrees_with_the_local_sample_is_refused(field, value, reason, login, session, released,
                                                              zj_lab, user, nb_site, zj_central,
                                                              run_as) -> None:
    _trust(session, nb_site, user("admin"))
    doc = manifests.manifest(released, instance=nb_site.name, key=nb_site.key)
    doc["content"]["items"][1][field] = zj_lab.participant.code if value == "other participant" else value
    run_as(zj_central)
    _refused_everywhere(login("lab_manager"), session, _resigned(doc, nb_site, csv=True), field, reason,
                        item=2)


def test_item_naming_a_local_sample_of_another_participant_and_type_is_refused(
        login, session, released, zj_lab, user, nb_site, zj_central, run_as) -> None:
    """The reported attack: a manifest item borrows the accession of a sample registered here."""
    _trust(session, nb_site, user("admin"))
    doc = manifests.manifest(released, instance=nb_site.name, key=nb_site.key)
    doc["content"]["items"][0]["accession"] = zj_lab.blood.accession  # a ZJ blood tube, primary
    run_as(zj_central)
    raw = _resigned(doc, nb_site, csv=True)
    page, api = _import_both(login("lab_manager"), raw)
    assert page.status_code == 400 and api.status_code == 422
    problems = {(p["item"], p["field"]) for p in api.get_json()["errors"]["manifest"]}
    assert problems == {(1, "participant"), (1, "sample_type"), (1, "parent")}
    assert session.scalar(select(Shipment).where(Shipment.origin == "nb-site")) is None


def test_unsigned_and_own_manifests_are_refused(session, released, user, nb_site) -> None:
    manager = user("lab_manager")
    doc = manifests.manifest(released, instance=nb_site.name, key=nb_site.key)
    unsigned = {k: v for k, v in doc.items() if k != "signature"}
    with pytest.raises(manifests.ManifestRefused, match="signature: the manifest is not signed"):
        manifests.import_manifest(session, dumps(unsigned), by=manager, instance="zj-central")
    with pytest.raises(Conflict, match="signed by this installation"):
        manifests.import_manifest(session, dumps(doc), by=manager, instance=nb_site.name,
                                  own_fingerprint=nb_site.key.fingerprint)
    with pytest.raises(manifests.ManifestRefused,
                       match=r"^big\.json: manifest refused.*file: is larger than 8 MB"):
        manifests.import_manifest(session, b" " * (manifests.MAX_MANIFEST_BYTES + 1), by=manager,
                                  instance="zj-central", source="big.json")


def test_manifest_signature_is_deterministic_and_drafts_have_none(session, study, released, user,
                                                                  nb_site) -> None:
    doc = manifests.manifest(released, instance=nb_site.name, key=nb_site.key)
    # Ed25519 is deterministic
    assert doc == manifests.manifest(released, instance=nb_site.name, key=nb_site.key)
    assert signing.verify(nb_site.key.public_raw, manifests.canonical(doc["content"]),
                          doc["signature"]["value"])
    assert not signing.verify(nb_site.key.public_raw, manifests.canonical(doc["content"]) + b" ",
                              doc["signature"]["value"])
    draft = service.create_shipment(session, study, from_site="NB", to_site="ZJ", conditions="ambient",
                                    by=user("technician_nb"))
    with pytest.raises(Conflict, match="not released yet"):
        manifests.manifest(draft, instance=nb_site.name, key=nb_site.key)


_PATHS = [("format",), ("instance",), ("study",), ("shipment",), ("shipment", "code"),
          ("shipment", "from_site"),
          ("shipment", "to_site"), ("shipment", "destination"), ("shipment", "conditions"),
          ("shipment", "released_at"), ("items",), ("items", 0), ("items", 0, "accession"),
          ("items", 0, "participant"), ("items", 0, "sample_type"), ("items", 0, "parent"),
          ("items", 0, "quantity"),
          ("items", 0, "unit"), ("items", 1, "box"), ("items", 1, "from_location"), ("csv_sha256",)]
_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                 max_size=3), max_leaves=6)


@given(path=st.sampled_from(_PATHS), value=_JSON, fix_csv=st.booleans())
@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_any_value_anywhere_is_refused_with_a_reason_or_imported(path, value, fix_csv, session, released,
                                                                 user,
                                                                 nb_site) -> None:
    """A trusted partner's manifest with any JSON value put anywhere: a reason, or a clean import; never a
    crash."""
    if not session.scalar(select(func.count()).select_from(ManifestKey)):
        _trust(session, nb_site, user("admin"))
    doc = manifests.manifest(released, instance=nb_site.name, key=nb_site.key)
    target = doc["content"]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    content = doc["content"]
    if fix_csv:  # sign a matching CSV checksum when the items are still whole enough to make a CSV
        with contextlib.suppress(TypeError, ValueError, KeyError, AttributeError):
            content["csv_sha256"] = hashlib.sha256(manifests.items_csv(content["items"]).encode()).hexdigest()
    nested = session.begin_nested()
    try:
        manifests.import_manifest(session, dumps(nb_site.sign(content)), by=user("lab_manager"),
                                  instance="zj-central")
    except DomainError as exc:
        assert exc.status in (400, 409, 422) and exc.message  # noqa: PT017 - a refusal is one allowed outcome
    finally:
        nested.rollback()
