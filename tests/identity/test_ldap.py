"""LDAP login end to end against Debian's OpenLDAP slapd: search + bind, groups mapped to a role and sites."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, g, request_started
from sqlalchemy import select

from lims import create_app
from lims.accounts.models import User
from lims.accounts.service import sign
from lims.core.errors import Forbidden
from lims.core.models import AuditEvent
from lims.extensions import db
from tests.identity.servers import BASE, ROOT_DN, ROOT_PW, directory, free_port

# A real OpenLDAP directory (slapd) per module: seconds to start and fill.
pytestmark = pytest.mark.slow

LDAP_SETTINGS = {
    "LDAP_BIND_DN": ROOT_DN, "LDAP_BIND_PASSWORD": ROOT_PW, "LDAP_USER_BASE": f"ou=people,{BASE}",
    "LDAP_USER_FILTER": "(&(objectClass=inetOrgPerson)(uid={username}))",
    "LDAP_DISABLED_FILTER": "(employeeType=disabled)",
    "LDAP_GROUP_BASE": f"ou=groups,{BASE}",
    "LDAP_ROLE_MAP": {"lims-techs": "technician", "lims-managers": "lab_manager"},
    "LDAP_SITE_MAP": {"site-zj": "ZJ", "site-nb": "NB"}, "LDAP_TIMEOUT": 3,
}


def _app(database_url: str, tmp: Any, url: str, **extra: Any) -> Flask:
    return create_app({"TESTING": True, "DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp),
                       "SECRET_KEY": "ldap-tests", "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False,
                       "RATELIMIT_STORAGE_URI": "memory://", "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
                       "LDAP_URL": url, **LDAP_SETTINGS, **extra})


@pytest.fixture(scope="module")
def ldap_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with directory(tmp_path_factory.mktemp("slapd")) as url:
        yield url


def _forget_user(sender: Flask, **_: Any) -> None:
    g.pop("_login_user", None)


@pytest.fixture()
def ldap_app(ldap_url: str, database_url: str, connection: Any, tmp_path: Any) -> Iterator[Flask]:
    app = _app(database_url, tmp_path, ldap_url, MFA_ROLES="admin")
    db.bind_to(app, connection)
    request_started.connect(_forget_user, app)
    with app.app_context():
        yield app
    request_started.disconnect(_forget_user, app)
    app.extensions["lims_db"]["engine"].dispose()


def login(app: Flask, username: str, password: str) -> Any:
    return app.test_client().post("/login", data={"username": username, "password": password})


def test_directory_login_provisions_and_follows_the_groups(ldap_app) -> None:
    r = login(ldap_app, "tom", "tom-directory-1")
    assert r.status_code == 302 and r.headers["Location"].endswith("/participants/")
    tom = db.session.scalar(select(User).where(User.username == "tom"))
    assert (tom.auth_source, tom.role, tom.site_codes) == ("ldap", "technician", ["NB"])
    assert tom.external_id == f"uid=tom,ou=people,{BASE}" and tom.full_name == "Tom Weber"
    assert tom.password_hash == "!", "the directory keeps the password, not Trialbank"
    # Lab managers from the directory log in with a password on our form: the second factor applies
    # only when the settings say so (here MFA_ROLES=admin).
    r = login(ldap_app, "lena", "lena-directory-4")
    assert r.status_code == 302
    assert db.session.scalar(select(User).where(User.username == "lena")).role == "lab_manager"


def test_wrong_password_unknown_group_disabled_and_unknown_user(ldap_app) -> None:
    r = login(ldap_app, "tom", "not the password")
    assert r.status_code == 401 and "Wrong user name or password" in r.get_data(as_text=True)
    r = login(ldap_app, "tom", "")
    assert r.status_code == 400, "an empty password is never sent to the directory (anonymous bind)"
    r = login(ldap_app, "sam", "sam-directory-2")
    assert r.status_code == 403 and "in no group that Trialbank gives a role to" in r.get_data(as_text=True)
    r = login(ldap_app, "ada", "ada-directory-3")
    assert r.status_code == 403 and "disabled" in r.get_data(as_text=True)
    r = login(ldap_app, "nobody", "whatever123")
    assert r.status_code == 401
    r = login(ldap_app, "tom)(uid=*", "tom-directory-1")
    assert r.status_code == 401, "filter characters are escaped"
    assert db.session.scalar(select(User).where(User.username.in_(["sam", "ada"]))) is None
    failed = [e.detail
              for e in db.session.scalars(select(AuditEvent).where(AuditEvent.action == "login_failed"))]
    assert any("no group" in (d or "") for d in failed) and any("disabled" in (d or "") for d in failed)


def test_a_deactivated_directory_user_is_refused(ldap_app) -> None:
    assert login(ldap_app, "tom", "tom-directory-1").status_code == 302
    tom = db.session.scalar(select(User).where(User.username == "tom"))
    tom.active = False
    db.session.flush()
    r = login(ldap_app, "tom", "tom-directory-1")
    assert r.status_code == 403 and "deactivated" in r.get_data(as_text=True)


def test_local_accounts_still_log_in_beside_the_directory(ldap_app) -> None:
    from tests.conftest import PASSWORD

    assert login(ldap_app, "monitor", PASSWORD).status_code == 302


def test_directory_users_sign_with_their_directory_password(ldap_app) -> None:
    login(ldap_app, "lena", "lena-directory-4")
    lena = db.session.scalar(select(User).where(User.username == "lena"))
    with pytest.raises(Forbidden):
        sign(db.session, lena, password="wrong", meaning="approved", record_type="x", record_id=1, content={},
             statement="s")
    assert sign(db.session, lena, password="lena-directory-4", meaning="approved", record_type="x",
                record_id=1,
                content={}, statement="s").signer_name == "Lena Lab"


def test_directory_down_gives_a_clear_message(database_url, connection, tmp_path) -> None:
    app = _app(database_url, tmp_path, f"ldap://127.0.0.1:{free_port()}")
    db.bind_to(app, connection)
    try:
        with app.app_context():
            r = login(app, "tom", "tom-directory-1")
            assert r.status_code == 503 and "cannot be reached" in r.get_data(as_text=True)
    finally:
        db.bind_to(app, None)
        app.extensions["lims_db"]["engine"].dispose()
