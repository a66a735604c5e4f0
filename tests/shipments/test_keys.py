"""Manifest keys: this installation's key file, and the partner keys an admin trusts and revokes (page and
API)."""

from __future__ import annotations

import base64
import stat
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from sqlalchemy import select

from lims.core.errors import Conflict, DomainError
from lims.core.models import AuditEvent
from lims.shipments import keys, signing
from lims.shipments.models import ManifestKey
from tests.shipments.conftest import make_installation


def test_key_file_is_made_once_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "instance" / signing.KEY_FILE_NAME
    made: list[signing.InstallationKey] = []
    workers = [threading.Thread(target=lambda: made.append(signing.load_or_create(path, create=True)))
               for _ in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len({k.fingerprint for k in made}) == 1  # eight workers starting at once end with one key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == [signing.KEY_FILE_NAME]
    assert signing.load_or_create(path, create=False).fingerprint == made[0].fingerprint


def test_a_configured_key_file_must_exist_and_be_an_ed25519_key(tmp_path: Path) -> None:
    with pytest.raises(DomainError, match=r"LIMS_MANIFEST_KEY_FILE.*does not exist"):
        signing.load_or_create(tmp_path / "mounted" / "key.pem", create=False)
    assert not (tmp_path / "mounted").exists()
    other = tmp_path / "ec.pem"
    other.write_bytes(generate_private_key(SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with pytest.raises(DomainError, match="is not an Ed25519 key"):
        signing.load_or_create(other, create=False)
    (tmp_path / "junk.pem").write_text("not a key")
    with pytest.raises(DomainError, match="not an unencrypted PEM private key"):
        signing.load_or_create(tmp_path / "junk.pem", create=False)


def test_the_app_uses_its_instance_folder_or_the_configured_file(app, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delitem(app.config, "MANIFEST_KEY_FILE", raising=False)
    own = signing.installation_key(app)
    assert (Path(app.instance_path) / signing.KEY_FILE_NAME).exists()
    assert signing.installation_key(app) is own
    mounted = make_installation(tmp_path / "secret", "x")
    monkeypatch.setitem(app.config, "MANIFEST_KEY_FILE", str(mounted.key_file))
    assert signing.installation_key(app).fingerprint == mounted.key.fingerprint != own.fingerprint


def test_register_checks_the_key_the_fingerprint_and_duplicates(session, user, tmp_path: Path) -> None:
    admin = user("admin")
    partner = make_installation(tmp_path / "p", "sx-lab")
    with pytest.raises(DomainError, match="neither base64 nor a PEM block"):
        keys.register_key(session, installation="sx-lab", public_key="not a key!", by=admin)
    with pytest.raises(DomainError, match="has 32 bytes; this one has 3"):
        keys.register_key(session, installation="sx-lab", public_key="AAAA", by=admin)
    ec_pem = generate_private_key(SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    with pytest.raises(DomainError, match="another kind; manifests are signed with Ed25519"):
        keys.register_key(session, installation="sx-lab", public_key=ec_pem, by=admin)
    with pytest.raises(DomainError, match="name the sending installation"):
        keys.register_key(session, installation=" ", public_key=partner.key.public_key, by=admin)
    with pytest.raises(DomainError, match="not the 00000000… you were given"):
        keys.register_key(session, installation="sx-lab", public_key=partner.key.public_key,
                          fingerprint="0" * 64,
                          by=admin)
    with pytest.raises(DomainError, match="own key"):
        keys.register_key(session, installation="sx-lab", public_key=partner.key.public_key,
                          own_fingerprint=partner.key.fingerprint, by=admin)
    key = keys.register_key(session, installation="sx-lab", public_key=partner.key.public_pem,
                            fingerprint=signing.grouped(partner.key.fingerprint).replace(" ", ":"), by=admin)
    assert key.public_key == partner.key.public_key and key.fingerprint == partner.key.fingerprint
    assert key.registered_by == admin and key.state == "trusted"
    with pytest.raises(Conflict, match="already trusted for sx-lab"):
        keys.register_key(session, installation="other",
                          public_key=base64.b64encode(partner.key.public_raw).decode(),
                          by=admin)
    audit = session.scalar(select(AuditEvent).where(AuditEvent.action == "manifest_key_registered"))
    assert audit.username == "admin" and audit.detail == f"sx-lab: {partner.key.fingerprint}"


def test_keys_page_is_for_admins(login, session, nb_site, zj_central, run_as) -> None:
    run_as(zj_central)
    for role in ("lab_manager", "technician", "pi"):
        client = login(role)
        assert client.get("/shipments/keys").status_code == 403
        assert client.get("/api/v1/shipments/keys/own").status_code == 403
        assert client.post("/api/v1/shipments/keys/", json={}).status_code == 403
    admin = login("admin")
    page = admin.get("/shipments/keys").get_data(as_text=True)
    assert zj_central.key.public_key in page and "zj-central" in page and "No partner keys yet" in page
    r = admin.post("/shipments/keys",
                   data={"installation": "nb-site", "public_key": nb_site.key.public_key[:-4],
                                            "fingerprint": "ab cd"})
    html = r.get_data(as_text=True)
    # the form keeps its values
    assert r.status_code == 400 and "has 32 bytes" in html and 'value="nb-site"' in html
    r = admin.post("/shipments/keys", data={"installation": "nb-site"})
    assert r.status_code == 400 and "public key: Missing data for required field." in r.get_data(as_text=True)
    r = admin.post("/shipments/keys", data={"installation": "nb-site", "public_key": nb_site.key.public_key},
                   follow_redirects=True)
    assert "Manifests signed by nb-site" in r.get_data(as_text=True)
    key = session.scalar(select(ManifestKey).where(ManifestKey.installation == "nb-site"))
    listing = admin.get("/api/v1/shipments/keys/").get_json()
    assert [k["fingerprint"] for k in listing] == [nb_site.key.fingerprint]
    r = admin.post(f"/shipments/keys/{key.id}/revoke", follow_redirects=True)
    assert "is revoked: manifests it signs are refused" in r.get_data(as_text=True)
    session.refresh(key)
    assert key.revoked_at is not None and key.revoked_by.username == "admin"
    assert admin.post("/shipments/keys/2147483000/revoke").status_code == 404
    r = admin.post(f"/shipments/keys/{key.id}/revoke", follow_redirects=True)
    assert "was already revoked" in r.get_data(as_text=True)
