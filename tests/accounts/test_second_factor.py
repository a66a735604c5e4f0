"""Second factor (TOTP + recovery codes) where the settings require it, and self-service sessions."""

from __future__ import annotations

import re

from sqlalchemy import select

from lims.accounts.models import UserSession
from lims.core.models import AuditEvent
from lims.extensions import db
from tests.accounts.conftest import current_code, post_login, previous_code
from tests.conftest import PASSWORD


def _enrol(client) -> tuple[str, list[str]]:
    page = client.post("/account/mfa", data={"action": "start"}, follow_redirects=True).get_data(as_text=True)
    assert "<svg" in page, "the QR code is drawn inline"
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    r = client.post("/account/mfa", data={"action": "confirm", "code": "000000"}, follow_redirects=True)
    assert "not right" in r.get_data(as_text=True)
    page = client.post("/account/mfa",
                       data={"action": "confirm", "code": previous_code(secret)}).get_data(as_text=True)
    codes = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", page)
    assert len(codes) == 10
    return secret, codes


def test_required_roles_enrol_before_anything_and_then_need_the_code(browser_at) -> None:
    client = browser_at("10.1.0.1")
    assert post_login(client, "lab_manager").status_code == 302
    r = client.get("/participants/")
    assert r.status_code == 302 and r.headers["Location"].endswith("/account/mfa")
    secret, codes = _enrol(client)
    assert client.get("/participants/").status_code == 200
    client.post("/logout")
    # Now the password alone is not enough.
    r = post_login(client, "lab_manager")
    assert r.status_code == 302 and r.headers["Location"].endswith("/login/second-factor")
    assert client.get("/participants/").status_code == 302
    assert client.post("/login/second-factor", data={"code": "123456"}).status_code == 401
    assert client.post("/login/second-factor", data={"code": current_code(secret)}).status_code == 302
    assert client.get("/participants/").status_code == 200
    client.post("/logout")
    # A code is accepted once; a recovery code works once.
    post_login(client, "lab_manager")
    assert client.post("/login/second-factor", data={"code": current_code(secret)}).status_code == 401
    r = client.post("/login/second-factor", data={"code": codes[0].upper()}, follow_redirects=True)
    assert "9 are left" in r.get_data(as_text=True)
    client.post("/logout")
    post_login(client, "lab_manager")
    assert client.post("/login/second-factor", data={"code": codes[0]}).status_code == 401


def test_wrong_codes_are_rate_limited(browser_at) -> None:
    client = browser_at("10.1.0.2")
    post_login(client, "admin")
    secret, _codes = _enrol(client)
    client.post("/logout")
    post_login(client, "admin")
    assert [client.post("/login/second-factor", data={"code": "111111"}).status_code for _ in range(4)] == \
        [401, 401, 401, 429]
    assert client.post("/login/second-factor", data={"code": current_code(secret)}).status_code == 429
    failed = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "second_factor_failed")).all()
    assert len(failed) == 3


def test_roles_without_the_requirement_are_not_asked(browser_at) -> None:
    client = browser_at("10.1.0.3")
    assert post_login(client, "technician").status_code == 302
    assert client.get("/participants/").status_code == 200


def test_own_sessions_are_listed_and_can_be_ended(browser_at) -> None:
    laptop, bench = browser_at("10.2.0.1"), browser_at("10.2.0.2")
    post_login(laptop, "researcher")
    post_login(bench, "researcher")
    page = laptop.get("/account").get_data(as_text=True)
    assert "10.2.0.1" in page and "10.2.0.2" in page and "this one" in page
    other = db.session.scalars(select(UserSession).where(UserSession.remote_addr == "10.2.0.2")).one()
    assert laptop.post(f"/account/sessions/{other.id}/revoke").status_code == 302
    assert bench.get("/participants/").status_code == 302, "the ended session is logged out at once"
    assert laptop.get("/participants/").status_code == 200
    # Someone else's session is not found.
    mine = db.session.scalars(select(UserSession).where(UserSession.remote_addr == "10.2.0.1")).one()
    intruder = browser_at("10.2.0.3")
    post_login(intruder, "pi")
    assert intruder.post(f"/account/sessions/{mine.id}/revoke").status_code == 404
    # Changing the password ends the other sessions.
    post_login(bench, "researcher")
    r = laptop.post("/account/password",
                    data={"current_password": PASSWORD, "new_password": "saffron comet 771",
                                               "confirm_password": "saffron comet 771"},
                    follow_redirects=True)
    assert "1 other session(s) ended" in r.get_data(as_text=True)
    assert bench.get("/participants/").status_code == 302
    assert laptop.get("/participants/").status_code == 200
    r = laptop.post("/account/password", data={"current_password": "wrong one!", "new_password": "x" * 12,
                                               "confirm_password": "x" * 12})
    assert r.status_code == 403


def test_logout_ends_the_session_on_the_server(browser_at) -> None:
    client = browser_at("10.3.0.1")
    post_login(client, "pi")
    cookie = client.get_cookie("session").value
    client.post("/logout")
    replay = browser_at("10.3.0.2")
    replay.set_cookie("session", cookie)
    r = replay.get("/participants/")
    assert r.status_code == 302 and "/login" in r.headers["Location"], "a copied cookie dies with the logout"
