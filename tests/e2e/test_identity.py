"""People and identity in a real browser: an admin creates a technician, who changes the first password and
sets up the second factor; the admin moves them to another site and deactivates them, and the technician's
session and API token stop working at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
import requests

from tests.conftest import PASSWORD
from tests.e2e.conftest import ARTIFACTS
from tests.identity.servers import LiveApp, live_trialbank

FIRST = "violet harbour 2031"
OWN = "maple lantern quartz 8"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """A live Trialbank where admins, lab managers and technicians must use a second factor."""
    tmp: Path = tmp_path_factory.mktemp("identity-e2e")
    with live_trialbank(tmp, {"MFA_ROLES": "admin,lab_manager,technician"}) as live:
        yield live


def log_in(page, server: LiveApp, username: str, password: str) -> None:
    page.goto(f"{server.url}/login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def set_up_second_factor(page) -> list[str]:
    """Follow the forced set-up: scan (read) the key, type the app's code, keep the recovery codes."""
    page.get_by_role("heading", name="Second factor").wait_for()
    assert "set it up before you go on" in page.content()
    page.get_by_role("button", name="Set up an authenticator app").click()
    assert page.locator("#totp-qr svg").is_visible()
    secret = page.locator("#totp-secret").inner_text()
    page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on").click()
    page.locator("#recovery-codes").wait_for()
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    return codes


def test_admin_creates_a_technician_and_takes_the_access_away(browser, server: LiveApp) -> None:
    admin_ctx, tech_ctx = browser.new_context(), browser.new_context()
    admin, tech = admin_ctx.new_page(), tech_ctx.new_page()
    for pg in (admin, tech):
        pg.set_default_timeout(15000)
    try:
        # The administrator logs in and must set up a second factor first.
        log_in(admin, server, "admin", PASSWORD)
        set_up_second_factor(admin)
        admin.goto(f"{server.url}/admin/users/")
        admin.get_by_role("link", name="New user").click()
        admin.get_by_label("User name").fill("tao")
        admin.get_by_label("Full name").fill("Tao Li")
        admin.get_by_label("Role").select_option("technician")
        admin.get_by_label("ZJ").check()
        admin.get_by_label("First password").fill(FIRST)
        admin.get_by_role("button", name="Create user").click()
        admin.get_by_role("heading", name="User tao").wait_for()
        assert "must change the password" in admin.content()

        # The technician logs in, must choose a password, then set up the second factor.
        log_in(tech, server, "tao", FIRST)
        tech.get_by_role("heading", name="Change your password").wait_for()
        tech.get_by_label("Current password").fill(FIRST)
        tech.get_by_label("New password", exact=True).fill(OWN)
        tech.get_by_label("New password again").fill(OWN)
        tech.get_by_role("button", name="Change password").click()
        set_up_second_factor(tech)
        tech.goto(f"{server.url}/participants/")
        tech.get_by_role("heading", name="Participants").wait_for()
        assert "Tao Li · technician · ZJ" in tech.locator("header").inner_text()
        tech.goto(f"{server.url}/account/tokens")
        tech.get_by_label("Token name").fill("pipette robot")
        tech.get_by_role("button", name="Create token").click()
        token = tech.locator("#new-token").inner_text()
        bearer = {"Authorization": f"Bearer {token}"}
        assert requests.get(f"{server.url}/api/v1/participants/", headers=bearer,
                            timeout=30).status_code == 200

        # The administrator moves the technician to NB: a privilege change, signed.
        admin.goto(f"{server.url}/admin/users/tao")
        admin.get_by_label("ZJ").uncheck()
        admin.get_by_label("NB").check()
        admin.get_by_label("My password").fill(PASSWORD)
        admin.get_by_role("button", name="Save").click()
        assert "Signed by Ada Admin" in admin.locator("main").inner_text()
        tech.reload()
        assert "Tao Li · technician · NB" in tech.locator("header").inner_text()

        # The administrator deactivates the technician: the session and the token stop at once.
        admin.get_by_role("button", name="Deactivate tao").click()
        assert "every API token ended" in admin.locator("main").inner_text()
        tech.goto(f"{server.url}/participants/")
        tech.get_by_role("heading", name="Log in to Trialbank").wait_for()
        assert requests.get(f"{server.url}/api/v1/participants/", headers=bearer,
                            timeout=30).status_code == 401
        log_in(tech, server, "tao", OWN)
        assert "Wrong user name or password" in tech.content()
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        admin.screenshot(path=str(ARTIFACTS / "identity-admin.png"), full_page=True)
        tech.screenshot(path=str(ARTIFACTS / "identity-technician.png"), full_page=True)
        admin_ctx.close()
        tech_ctx.close()
