"""Accounts and access: tokens, audit trail, e-signatures, CSRF, size limits, bad JSON, escaping."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from lims.accounts.models import ApiToken
from lims.accounts.service import create_token, sign, signatures_for, verify_signature
from lims.core.db import utcnow
from lims.core.errors import DomainError, Forbidden
from lims.core.models import AuditEvent
from lims.core.permissions import PERMISSIONS, ROLES, allowed, markdown
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]


def test_token_lifecycle(session, client, user) -> None:
    monitor = user("monitor")
    token, secret = create_token(session, monitor, name="plate reader", days=30)
    assert secret.startswith("tb_") and token.token_hash != secret and secret not in repr(token.__dict__)
    headers = {"Authorization": f"Bearer {secret}"}
    r = client.get("/api/v1/participants/", headers=headers)
    assert r.status_code == 200
    session.expire_all()
    assert session.get(ApiToken, token.id).last_used_at is not None
    used = session.scalars(select(AuditEvent).where(AuditEvent.action == "token_used")).all()
    assert used and used[-1].username == "monitor"
    # Wrong, expired and revoked tokens get 401 with the reason; nothing is answered.
    assert client.get("/api/v1/participants/", headers={"Authorization": "Bearer tb_nope"}).status_code == 401
    token = session.get(ApiToken, token.id)
    token.expires_at = utcnow() - timedelta(minutes=1)
    session.flush()
    r = client.get("/api/v1/participants/", headers=headers)
    assert r.status_code == 401 and "expired" in r.get_json()["message"]
    token.expires_at = utcnow() + timedelta(days=1)
    token.revoked_at = utcnow()
    session.flush()
    r = client.get("/api/v1/participants/", headers=headers)
    assert r.status_code == 401 and "revoked" in r.get_json()["message"]
    with pytest.raises(DomainError, match="1 to 366 days"):
        create_token(session, monitor, name="x", days=1000)


def test_token_page_shows_the_secret_once(login, session) -> None:
    client = login("researcher")
    r = client.post("/account/tokens", data={"name": "R script", "days": "10"})
    html = r.get_data(as_text=True)
    assert "shown only once" in html and "tb_" in html
    again = client.get("/account/tokens").get_data(as_text=True)
    assert "R script" in again and "shown only once" not in again
    token = session.scalars(select(ApiToken).where(ApiToken.name == "R script")).one()
    r = client.post(f"/account/tokens/{token.id}/revoke")
    assert r.status_code == 302
    session.expire_all()
    assert session.get(ApiToken, token.id).state == "revoked"


def test_logins_and_data_changes_are_audited(login, client, session, make_participant) -> None:
    client.post("/login", data={"username": "pi", "password": "wrong password!"})
    login("pi")
    actions = [(e.action, e.username) for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert ("login_failed", "pi") in actions and ("login", "pi") in actions
    p = make_participant(code="ZJ-AUD")
    session.flush()
    p.ecog = 2
    session.flush()
    update = session.scalars(select(AuditEvent).where(AuditEvent.action == "update",
                                                       AuditEvent.object_type == "participant")).all()[-1]
    assert update.changes["ecog"] == {"old": 0, "new": 2}
    inserted = session.scalars(select(AuditEvent).where(AuditEvent.action == "insert",
                                                         AuditEvent.object_type == "participant")).all()
    assert any(e.changes["new"]["code"] == "ZJ-AUD" for e in inserted)
    client.post("/logout")
    auditor = login("monitor")
    page = auditor.get("/audit/?action=update&object_type=participant").get_data(as_text=True)
    assert "Audit trail" in page and "ecog" in page
    csv_text = auditor.get("/audit/export.csv?action=login_failed").get_data(as_text=True)
    assert csv_text.splitlines()[0].startswith("id,at_utc,user") and ",login_failed," in csv_text
    assert login("technician").get("/audit/").status_code == 403


def test_password_hashes_are_never_audited_in_clear(session, user) -> None:
    u = user("researcher")
    u.password_hash = "scrypt:new"
    session.flush()
    events = session.scalars(select(AuditEvent)
                             .where(AuditEvent.object_type == "user", AuditEvent.action == "update",
                                                       AuditEvent.object_id == str(u.id))
                             .order_by(AuditEvent.id)).all()
    assert events[-1].changes["password_hash"] == {"old": "(hidden)", "new": "(hidden)"}
    assert "scrypt:new" not in str([e.changes for e in events])


def test_e_signature_requires_password_and_binds_content(session, user) -> None:
    manager = user("lab_manager")
    record = {"shipment": 12, "samples": ["TB-0000001-L"]}
    with pytest.raises(Forbidden, match="password is wrong"):
        sign(session, manager, password="not it", meaning="approved", record_type="shipment", record_id=12,
             content=record, statement="release")
    with pytest.raises(DomainError, match="choose what the signature means"):
        sign(session, manager, password=PASSWORD, meaning="liked", record_type="shipment", record_id=12,
             content=record, statement="release")
    sig = sign(session, manager, password=PASSWORD, meaning="approved", record_type="shipment", record_id=12,
               content=record, statement="I approve the release of shipment 12")
    assert sig.signer_name == manager.full_name and sig.signed_at is not None
    assert signatures_for(session, "shipment", 12) == [sig]
    assert verify_signature(sig, record) and not verify_signature(sig, {**record, "samples": []})


def test_permission_table_documentation_is_generated() -> None:
    assert (ROOT / "docs" / "permissions.md").read_text() == markdown(), \
        "docs/permissions.md is out of date: run 'lims permissions --write docs/permissions.md'"
    for action, perm in PERMISSIONS.items():
        for role in ROLES:
            assert allowed(role, action) == (role == "admin" or role in perm.roles)
    assert not allowed("monitor", "station.act") and allowed("monitor", "read")
    with pytest.raises(KeyError):
        allowed("pi", "teleport")


def test_csrf_is_enforced_on_forms(app, connection) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        client = app.test_client()
        r = client.post("/login", data={"username": "admin", "password": PASSWORD})
        assert r.status_code == 400 and "CSRF" in r.get_data(as_text=True)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_bad_json_huge_bodies_and_unknown_fields(app, login) -> None:
    client = login("technician")
    r = client.post("/api/v1/station/scan", data="{not json", content_type="application/json")
    assert r.status_code in (400, 422) and r.get_json()["message"]
    r = client.post("/api/v1/station/scan", json={"code": "TB-0000001-L", "mode": "thaw", "colour": "red"})
    assert r.status_code == 422 and "colour" in r.get_json()["errors"]["json"]
    r = client.post("/api/v1/station/scan", json={"code": 12, "mode": "thaw"})
    assert r.status_code == 422 and "code" in r.get_json()["errors"]["json"]
    limit = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 1000
    try:
        r = client.post("/api/v1/station/scan", data="x" * 5000, content_type="application/json")
        assert r.status_code == 413
    finally:
        app.config["MAX_CONTENT_LENGTH"] = limit


def test_html_and_sql_in_text_are_stored_as_text_and_shown_escaped(login, session, make_participant) -> None:
    p = make_participant(code="ZJ-XSS")
    p.consent.withdrawal_reason = "<script>alert(1)</script>'; DROP TABLE sample; --"
    from datetime import date

    p.consent.withdrawn_on = date(2025, 3, 1)
    session.flush()
    html = login("monitor").get("/participants/ZJ-XSS").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_offline_api_docs(client) -> None:
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/v1/docs-assets/swagger-ui-bundle.js" in html and "cdn" not in html.lower()
    asset = client.get("/api/v1/docs-assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.data) > 100_000
    asset.close()


def test_nul_characters_are_refused_at_the_door(login) -> None:
    client = login("researcher")
    r = client.post("/api/v1/markers/exports", json={"markers": ["IL6\u0000"], "form": "long"})
    assert r.status_code == 422 and "NUL" in r.get_json()["message"]
    assert client.get("/api/v1/participants/?q=ZJ%00").status_code == 422
    assert client.get("/participants/?q=ZJ%00").status_code == 400
