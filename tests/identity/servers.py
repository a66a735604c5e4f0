"""Real servers for the identity tests, started on 127.0.0.1 and stopped after: the certified node
OpenID provider (npm ``oidc-provider``), Debian's OpenLDAP ``slapd``, gunicorn, and a live Trialbank.

Each helper skips with a reason when its program is missing, and fails instead when ``CI`` is set (CI
installs them: see .ci/run).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from lims import create_app
from lims.accounts import limits
from lims.extensions import db
from tests.conftest import PASSWORD, fresh_database

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("LIMS_TEST_CACHE", Path.home() / ".cache" / "trialbank-tests"))
OIDC_PROVIDER_VERSION = "9"


def missing(what: str) -> None:
    """Skip (or, in CI, fail) because ``what`` is not installed."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing; .ci/run installs it")
    pytest.skip(f"{what} is missing")


def free_port() -> int:
    """Return a TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, seconds: float = 30) -> None:
    """Wait until ``url`` answers."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def stop(process: subprocess.Popen[Any]) -> None:
    """Stop a server we started (SIGTERM, then SIGKILL)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


# -- OpenID provider
# ------------------------------------------------------------------------------------------

def oidc_provider_dir() -> Path:
    """Install oidc-provider with npm into the test cache once; return the folder holding node_modules."""
    if not shutil.which("node") or not shutil.which("npm"):
        missing("Node.js (apt-get install nodejs npm)")
    target = CACHE / f"oidc-provider-{OIDC_PROVIDER_VERSION}"
    if not (target / "node_modules" / "oidc-provider").is_dir():
        target.mkdir(parents=True, exist_ok=True)
        (target / "package.json").write_text('{"private": true}\n')
        result = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent",
                                 f"oidc-provider@{OIDC_PROVIDER_VERSION}"], cwd=target, capture_output=True,
                                text=True, timeout=300, check=False)
        if result.returncode != 0:
            missing(f"npm package oidc-provider (npm install failed: {result.stderr[-300:]})")
    shutil.copy(HERE / "oidc_provider.mjs", target / "oidc_provider.mjs")
    return target


@dataclass
class OpenIDProvider:
    issuer: str
    client_id: str
    client_secret: str
    process: subprocess.Popen[Any]

    @property
    def discovery(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"


@contextmanager
def openid_provider(port: int, redirect_uri: str) -> Iterator[OpenIDProvider]:
    """Run the test OpenID provider on ``port`` for a client whose callback is ``redirect_uri``."""
    folder = oidc_provider_dir()
    client_id, secret = "trialbank", "trialbank-client-secret-for-tests"
    process = subprocess.Popen(["node", "oidc_provider.mjs", str(port), client_id, secret, redirect_uri],
                               cwd=folder,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    provider = OpenIDProvider(f"http://127.0.0.1:{port}", client_id, secret, process)
    try:
        wait_for(provider.discovery)
        yield provider
    finally:
        stop(process)


# -- OpenLDAP
# ---------------------------------------------------------------------------------------------------

BASE = "dc=hospital,dc=test"
ROOT_DN = f"cn=admin,{BASE}"
ROOT_PW = "directory-admin-secret"
SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"
SCHEMA = Path("/etc/ldap/schema")
PEOPLE = {  # uid: (password, full name, groups, disabled)
    "tom": ("tom-directory-1", "Tom Weber", ("lims-techs", "site-nb"), False),
    "sam": ("sam-directory-2", "Sam Outsider", ("canteen",), False),
    "ada": ("ada-directory-3", "Ada Gone", ("lims-techs", "site-zj"), True),
    "lena": ("lena-directory-4", "Lena Lab", ("lims-managers", "site-zj"), False),
}


def _slapd_conf(root: Path) -> str:
    return "\n".join([
        *(f"include {SCHEMA / name}.schema" for name in ("core", "cosine", "inetorgperson", "nis")),
        "modulepath /usr/lib/ldap", "moduleload back_mdb", f"pidfile {root / 'slapd.pid'}",
        "database mdb", f'suffix "{BASE}"', f'rootdn "{ROOT_DN}"', f"rootpw {ROOT_PW}",
        f"directory {root / 'data'}",
        "access to attrs=userPassword by self write by anonymous auth by * none",
        "access to * by * read", "",
    ])


def _fill(url: str) -> None:
    import ldap

    conn = ldap.initialize(url)
    conn.simple_bind_s(ROOT_DN, ROOT_PW)
    def enc(*values: str) -> list[bytes]:
        return [v.encode() for v in values]

    conn.add_s(BASE, [("objectClass", enc("dcObject", "organization")), ("dc", enc("hospital")),
                      ("o", enc("Test Hospital"))])
    for ou in ("people", "groups"):
        conn.add_s(f"ou={ou},{BASE}", [("objectClass", enc("organizationalUnit")), ("ou", enc(ou))])
    members: dict[str, list[str]] = {}
    for uid, (password, name, groups, disabled) in PEOPLE.items():
        dn = f"uid={uid},ou=people,{BASE}"
        attrs = [("objectClass", enc("inetOrgPerson")), ("uid", enc(uid)), ("cn", enc(name)),
                 ("sn", enc(name.split()[-1])), ("displayName", enc(name)),
                 ("mail", enc(f"{uid}@hospital.test")),
                 ("userPassword", enc(password))]
        if disabled:
            attrs.append(("employeeType", enc("disabled")))
        conn.add_s(dn, attrs)
        for group in groups:
            members.setdefault(group, []).append(dn)
    for group, dns in members.items():
        conn.add_s(f"cn={group},ou=groups,{BASE}", [("objectClass", enc("groupOfNames")), ("cn", enc(group)),
                                                     ("member", enc(*dns))])
    conn.unbind_s()


@contextmanager
def directory(tmp: Path) -> Iterator[str]:
    """Run slapd with a small directory on a free port; yield its ldap:// URL."""
    if not Path(SLAPD).exists() or not (SCHEMA / "inetorgperson.schema").exists():
        missing("OpenLDAP slapd (apt-get install slapd ldap-utils)")
    try:
        import ldap  # noqa: F401 - only whether it imports
    except ImportError:
        missing("python-ldap (pip install 'trialbank[ldap]')")
    (tmp / "data").mkdir(parents=True)
    conf = tmp / "slapd.conf"
    conf.write_text(_slapd_conf(tmp))
    url = f"ldap://127.0.0.1:{free_port()}"
    log = (tmp / "slapd.log").open("w")
    process = subprocess.Popen([SLAPD, "-f", str(conf), "-h", f"{url}/", "-d", "0"], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = (tmp / "slapd.log").read_text()[-500:]
                    raise RuntimeError(f"slapd did not start: {log}") from None
                time.sleep(0.1)
        _fill(url)
        yield url
    finally:
        stop(process)
        log.close()


# -- A live Trialbank
# --------------------------------------------------------------------------------------------

@dataclass
class LiveApp:
    url: str
    app: Any


@contextmanager
def live_trialbank(tmp: Path, config: dict[str, Any], port: int = 0) -> Iterator[LiveApp]:
    """Serve Trialbank on a fresh migrated database with the protocol and an admin (password PASSWORD)."""
    from lims.accounts.service import add_user
    from lims.config import DEFAULT_PROTOCOL
    from lims.core.migrate import upgrade
    from lims.core.uow import unit_of_work
    from lims.studies.protocol import load_protocol
    from lims.studies.service import install_protocol
    from tests.conftest import PG_URL

    with fresh_database(PG_URL or "sqlite://", tmp) as url:
        upgrade(url)
        app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(tmp / "instance"),
                          "SECRET_KEY": "identity-tests",
                          "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", **config})
        with app.app_context(), unit_of_work(db.session):
            install_protocol(db.session, load_protocol(DEFAULT_PROTOCOL))
            add_user(db.session, username="admin", password=PASSWORD, role="admin", full_name="Ada Admin")
        server = make_server("127.0.0.1", port, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield LiveApp(url=f"http://127.0.0.1:{server.server_port}", app=app)
        finally:
            server.shutdown()
            thread.join(timeout=10)
            app.extensions["lims_db"]["engine"].dispose()
            limits.close(app)
