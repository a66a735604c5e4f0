"""Rate limits replace the lockout: guessing someone's password from one address never locks them out."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from lims.accounts import limits
from lims.accounts.limits import SQLStorage
from lims.accounts.service import create_token, find_user, sign
from lims.core.errors import DomainError, Forbidden
from lims.core.models import AuditEvent
from lims.extensions import db
from tests.accounts.conftest import post_login
from tests.conftest import PASSWORD


def test_guessing_from_one_address_slows_the_guesser_and_not_the_user(browser_at, session) -> None:
    attacker, owner = browser_at("10.6.6.6"), browser_at("10.0.0.7")
    statuses = [post_login(attacker, "monitor", f"guess number {i}").status_code for i in range(6)]
    assert statuses == [401, 401, 401, 429, 429, 429]
    # Even the right password is not tried from the guessing address until the window passes...
    assert post_login(attacker, "monitor").status_code == 429
    # ...but the real user, from their own address, logs in at once: the account is not locked.
    assert post_login(owner, "monitor").status_code == 302
    assert owner.get("/participants/").status_code == 200
    refused = post_login(attacker, "monitor", "again")
    assert "not locked" in refused.get_data(as_text=True) and int(refused.headers["Retry-After"]) > 0


def test_successful_logins_do_not_count_against_the_account(browser_at) -> None:
    client = browser_at("10.0.0.8")
    for _ in range(5):
        assert post_login(client, "researcher").status_code == 302
        client.post("/logout")


def test_one_address_trying_many_accounts_is_limited(browser_at) -> None:
    client = browser_at("10.6.6.7")
    statuses = [post_login(client, f"nobody{i}", "wrong wrong").status_code for i in range(16)]
    assert statuses[:15] == [401] * 15 and statuses[15] == 429
    assert post_login(browser_at("10.0.0.9"), "pi").status_code == 302


def test_many_addresses_against_one_account_meet_the_account_ceiling(browser_at) -> None:
    statuses = [post_login(browser_at(f"10.7.0.{i}"), "pi", "wrong wrong").status_code for i in range(11)]
    assert statuses[:10] == [401] * 10 and statuses[10] == 429


def test_wrong_signature_passwords_are_limited_per_signer(strict) -> None:
    session = db.session  # the strict app's: its limits apply
    manager = find_user(session, "lab_manager")
    for _ in range(3):
        with pytest.raises(Forbidden):
            sign(session, manager, password="nope", meaning="approved", record_type="x", record_id=1,
                 content={},
                 statement="s")
    with pytest.raises(DomainError, match="too many failed signature passwords") as caught:
        sign(session, manager, password=PASSWORD, meaning="approved", record_type="x", record_id=1,
             content={},
             statement="s")
    assert caught.value.status == 429
    failed = session.scalars(select(AuditEvent).where(AuditEvent.action == "signature_failed")).all()
    assert len(failed) >= 3


def test_refused_api_tokens_are_limited_per_address(browser_at, session, user) -> None:
    _, secret = create_token(session, user("monitor"), name="script", days=5)
    client = browser_at("10.8.0.1")
    statuses = [client.get("/api/v1/participants/", headers={"Authorization": f"Bearer tb_guess{i}"})
                .status_code
                for i in range(5)]
    assert statuses == [401, 401, 401, 401, 429]
    r = client.get("/api/v1/participants/", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 429 and "too many failed API tokens" in r.get_json()["message"]
    ok = browser_at("10.8.0.2").get("/api/v1/participants/", headers={"Authorization": f"Bearer {secret}"})
    assert ok.status_code == 200


def test_sql_storage_counts_in_fixed_windows(tmp_path) -> None:
    storage = SQLStorage(f"trialbank+sqlite:///{tmp_path / 'limits.db'}")
    assert storage.check()
    assert [storage.incr("k", 60) for _ in range(3)] == [1, 2, 3]
    assert storage.get("k") == 3 and storage.get("other") == 0
    assert time.time() < storage.get_expiry("k") <= time.time() + 60
    assert storage.incr("short", 1) == 1
    time.sleep(1.1)
    assert storage.get("short") == 0 and storage.incr("short", 1) == 1, "an expired window starts again"
    storage.clear("k")
    assert storage.get("k") == 0
    storage.reset()
    assert storage.get("short") == 0
    # A second storage on the same file (another worker) sees the same counts.
    other = SQLStorage(f"trialbank+sqlite:///{tmp_path / 'limits.db'}")
    storage.incr("shared", 60)
    assert other.incr("shared", 60) == 2


def test_memory_storage_is_refused_outside_tests(database_url, tmp_path) -> None:
    from lims import create_app

    with pytest.raises(RuntimeError, match="counts per process"):
        create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x",
                    "RATELIMIT_STORAGE_URI": "memory://"})


def test_behind_a_proxy_the_forwarded_address_is_counted(database_url, connection, tmp_path) -> None:
    from lims import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path),
                      "SECRET_KEY": "x", "WTF_CSRF_ENABLED": False, "PROXY_HOPS": 1,
                      "RATELIMIT_LOGIN_ACCOUNT": "2 per 15 minutes"})
    db.bind_to(app, connection)
    try:
        proxy = app.test_client()
        proxy.environ_base["REMOTE_ADDR"] = "10.9.9.9"  # nginx, for everyone
        guesser, owner = {"X-Forwarded-For": "192.0.2.66"}, {"X-Forwarded-For": "192.0.2.7"}
        form = {"username": "monitor", "password": "wrong wrong"}
        assert [proxy.post("/login", data=form, headers=guesser).status_code
                for _ in range(3)] == [401, 401, 429]
        assert proxy.post("/login", data=form,
                          headers=owner).status_code == 401, "another client is not limited"
    finally:
        db.bind_to(app, None)
        app.extensions["lims_db"]["engine"].dispose()
        limits.close(app)
