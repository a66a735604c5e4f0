"""OpenID Connect login end to end against the certified node-oidc-provider (authorization code + PKCE)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from sqlalchemy import select

from lims.accounts.models import User
from lims.core.models import AuditEvent
from lims.extensions import db
from tests.identity.servers import LiveApp, OpenIDProvider, free_port, live_trialbank, openid_provider

# A real OpenID provider (Node, oidc-provider installed by npm) and a live Trialbank: seconds to start.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sso(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveApp, OpenIDProvider]]:
    tmp = tmp_path_factory.mktemp("oidc")
    idp_port, app_port = free_port(), free_port()
    config = {
        "OIDC_DISCOVERY_URL": f"http://127.0.0.1:{idp_port}/.well-known/openid-configuration",
        "OIDC_CLIENT_ID": "trialbank", "OIDC_CLIENT_SECRET": "trialbank-client-secret-for-tests",
        "OIDC_NAME": "Hospital login",
        "OIDC_ROLE_MAP": {"lims-techs": "technician", "lims-managers": "lab_manager"},
        "OIDC_SITE_MAP": {"site-zj": "ZJ", "site-nb": "NB"},
    }
    with live_trialbank(tmp, config, port=app_port) as live, \
            openid_provider(idp_port, f"{live.url}/login/sso/callback") as idp:
        yield live, idp


def sso_login(live: LiveApp, login: str, password: str) -> requests.Response:
    """Click "Log in with ..." and fill the provider's form; return the last response."""
    browser = requests.Session()
    page = browser.get(f"{live.url}/login")
    assert "Log in with Hospital login" in page.text
    form = browser.get(f"{live.url}/login/sso")
    assert form.url.startswith("http://127.0.0.1:") and "Test identity provider" in form.text
    assert "code_challenge" in form.history[0].headers["Location"], "PKCE is used"
    action = re.search(r'action="([^"]+)"', form.text).group(1)
    done = browser.post(requests.compat.urljoin(form.url, action),
                        data={"login": login, "password": password})
    done.browser = browser  # type: ignore[attr-defined]
    return done


def _user(live: LiveApp, username: str) -> SimpleNamespace | None:
    with live.app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        if user is None:
            return None
        return SimpleNamespace(auth_source=user.auth_source, role=user.role, site_codes=user.site_codes,
                               external_id=user.external_id, email=user.email)


def test_first_login_provisions_the_user_with_mapped_role_and_sites(sso) -> None:
    live, _ = sso
    done = sso_login(live, "alice", "alice-secret-1")
    assert done.status_code == 200 and done.url.endswith("/participants/"), done.text[:500]
    assert "Alice Zhang" in done.text and "technician" in done.text
    alice = _user(live, "alice")
    assert alice.auth_source == "oidc" and alice.role == "technician" and alice.site_codes == ["ZJ"]
    assert alice.external_id.endswith("|alice") and alice.email == "alice@example.org"
    # No second factor is asked of SSO users, even for a role that needs one on password logins.
    manager = sso_login(live, "dora", "dora-secret-44")
    assert manager.url.endswith("/participants/") and "Dora Manager" in manager.text
    assert _user(live, "dora").site_codes == ["NB", "ZJ"]
    # Logging out ends the session; the next login finds the same account.
    browser = done.browser  # type: ignore[attr-defined]
    account = browser.get(f"{live.url}/account")
    assert "single sign-on" in account.text


def test_wrong_password_stays_at_the_provider(sso) -> None:
    live, _ = sso
    done = sso_login(live, "alice", "not her password")
    assert "Invalid login or password" in done.text and not done.url.startswith(live.url)
    assert done.browser.get(f"{live.url}/participants/").url.endswith("/login?next=%2Fparticipants%2F")  # type: ignore[attr-defined]


def test_unknown_group_is_refused_with_a_clear_message(sso) -> None:
    live, _ = sso
    done = sso_login(live, "bob", "bob-secret-22")
    assert done.status_code == 403 and done.url.startswith(f"{live.url}/login/sso/callback")
    assert "in no group that Trialbank gives a role to" in done.text and "canteen" in done.text
    assert _user(live, "bob") is None


def test_disabled_accounts_are_refused(sso) -> None:
    live, _ = sso
    done = sso_login(live, "carol", "carol-secret-3")  # disabled at the provider
    assert done.status_code == 401 and "did not log you in" in done.text and "disabled" in done.text
    # Deactivated in Trialbank: the provider says yes, Trialbank says no.
    assert sso_login(live, "alice", "alice-secret-1").status_code == 200
    with live.app.app_context():
        from lims.accounts.admin import deactivate_user
        from lims.core.uow import unit_of_work

        with unit_of_work(db.session):
            deactivate_user(db.session, db.session.scalar(select(User).where(User.username == "alice")),
                            by=None)
    done = sso_login(live, "alice", "alice-secret-1")
    assert done.status_code == 403 and "is deactivated" in done.text
    with live.app.app_context():
        actions = [e.detail or "" for e in db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "login_failed"))]
    assert any("deactivated" in a for a in actions) and any("disabled" in a for a in actions)


def test_provider_down_gives_a_clear_message(tmp_path: Path) -> None:
    config = {"OIDC_DISCOVERY_URL": f"http://127.0.0.1:{free_port()}/.well-known/openid-configuration",
              "OIDC_CLIENT_ID": "trialbank", "OIDC_CLIENT_SECRET": "x", "OIDC_ROLE_MAP": {"g": "pi"}}
    with live_trialbank(tmp_path, config) as live:
        r = requests.get(f"{live.url}/login/sso", allow_redirects=False, timeout=30)
        assert r.status_code == 503 and "cannot be reached" in r.text
        assert "Log in to Trialbank" in r.text, "the local login form is still there"
        callback = requests.get(f"{live.url}/login/sso/callback?code=x&state=y", timeout=30)
        assert callback.status_code in (400, 503)
        assert "start again" in callback.text or "cannot be reached" in callback.text
