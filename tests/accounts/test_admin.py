"""User administration: pages and CLI; privilege changes signed; deactivation stops sessions and tokens at
once."""

from __future__ import annotations

import re

from sqlalchemy import select

from lims.accounts.models import ApiToken, Signature, User
from lims.accounts.service import create_token
from lims.cli import main
from lims.core.models import AuditEvent
from tests.conftest import PASSWORD

NEW = "lunar kettle orbit 97"


def _events(session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                .order_by(AuditEvent.id)))


def test_only_admins_reach_the_user_pages(login) -> None:
    for role in ("lab_manager", "technician", "monitor"):
        client = login(role)
        assert client.get("/admin/users/").status_code == 403
        assert client.post("/admin/users/new", data={"username": "x", "role": "admin"}).status_code == 403
        assert client.post("/admin/users/technician/deactivate").status_code == 403
    page = login("admin").get("/admin/users/?q=tech").get_data(as_text=True)
    assert "technician_nb" in page and "data_manager" not in page


def test_admin_creates_a_user_who_must_change_the_password(login, session, client) -> None:
    admin = login("admin")
    r = admin.post("/admin/users/new", data={"username": "tao", "full_name": "Tao Li", "role": "technician",
                                            "sites": ["ZJ"], "password": "password123"})
    assert r.status_code == 400 and "common or breached" in r.get_data(as_text=True)
    r = admin.post("/admin/users/new", data={"username": "tao", "full_name": "Tao Li", "role": "technician",
                                            "sites": ["ZJ"], "password": NEW})
    assert r.status_code == 302
    tao = session.scalar(select(User).where(User.username == "tao"))
    assert tao.must_change_password and tao.site_codes == ["ZJ"]
    assert _events(session, "user_created")[-1].changes["new"] == {"role": "technician", "sites": ["ZJ"],
                                                                   "active": True}
    client.post("/logout")
    assert client.post("/login", data={"username": "tao", "password": NEW}).status_code == 302
    r = client.get("/participants/")
    assert r.status_code == 302 and r.headers["Location"].endswith("/account/password")
    assert client.get("/api/v1/participants/").status_code == 403
    r = client.post("/account/password", data={"current_password": NEW, "new_password": "tao tao tao tao",
                                               "confirm_password": "tao tao tao tao"})
    assert r.status_code == 400 and "too weak" in r.get_data(as_text=True)
    r = client.post("/account/password", data={"current_password": NEW, "new_password": "amber wolf tundra 5",
                                               "confirm_password": "amber wolf tundra 5"})
    assert r.status_code == 302
    assert client.get("/participants/").status_code == 200


def test_privilege_changes_are_signed_and_audited(login, session, user) -> None:
    admin = login("admin")
    tech = user("technician")
    form = {"full_name": "Technician", "role": "technician", "sites": ["NB"], "active": "1"}
    r = admin.post("/admin/users/technician", data=form, follow_redirects=True)
    assert "password is wrong" in r.get_data(as_text=True)
    session.expire_all()
    assert tech.site_codes == ["ZJ"], "an unsigned change of sites is refused"
    r = admin.post("/admin/users/technician", data={**form, "password": PASSWORD, "meaning": "approved"},
                   follow_redirects=True)
    assert "Signed by" in r.get_data(as_text=True)
    session.expire_all()
    assert tech.site_codes == ["NB"]
    sig = session.scalars(select(Signature).where(Signature.record_type == "user_privileges")).all()[-1]
    assert sig.record_id == "technician" and "NB" in sig.statement
    change = _events(session, "user_privileges_changed")[-1]
    assert change.changes == {"sites": {"old": ["ZJ"], "new": ["NB"]}} and change.username == "admin"
    # A new name alone needs no signature.
    r = admin.post("/admin/users/technician", data={**form, "full_name": "Tech Two"})
    assert r.status_code == 302
    session.expire_all()
    assert tech.full_name == "Tech Two"


def test_deactivation_stops_sessions_and_tokens_at_once(login, app, session, user) -> None:
    other = app.test_client()
    assert other.post("/login", data={"username": "monitor", "password": PASSWORD}).status_code == 302
    assert other.get("/participants/").status_code == 200
    _, secret = create_token(session, user("monitor"), name="script", days=5)
    bearer = {"Authorization": f"Bearer {secret}"}
    assert other.get("/api/v1/participants/", headers=bearer).status_code == 200
    admin = login("admin")
    r = admin.post("/admin/users/monitor/deactivate", follow_redirects=True)
    assert "1 session(s) and every API token ended" in r.get_data(as_text=True)
    from flask import g

    g.pop("_login_user", None)
    r = other.get("/participants/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert app.test_client().get("/api/v1/participants/", headers=bearer).status_code == 401
    assert all(t.revoked_at
               for t in session.scalars(select(ApiToken).where(ApiToken.user_id == user("monitor").id)))
    assert app.test_client().post("/login",
                                  data={"username": "monitor", "password": PASSWORD}).status_code == 401
    # Reactivation is a privilege change: signed.
    r = admin.post("/admin/users/monitor", data={"role": "monitor", "active": "1", "password": PASSWORD})
    session.expire_all()
    assert user("monitor").active
    assert _events(session, "user_privileges_changed")[-1].changes["active"] == {"old": False, "new": True}


def test_admins_cannot_lock_themselves_or_everyone_out(login, session) -> None:
    admin = login("admin")
    r = admin.post("/admin/users/admin/deactivate", follow_redirects=True)
    assert "cannot deactivate yourself" in r.get_data(as_text=True)
    r = admin.post("/admin/users/admin", data={"role": "pi", "active": "1", "password": PASSWORD},
                   follow_redirects=True)
    assert "cannot change your own role" in r.get_data(as_text=True)


def test_reset_link_is_shown_once_and_works_once(login, client, session) -> None:
    admin = login("admin")
    html = admin.post("/admin/users/researcher/reset", data={"hours": "2"}).get_data(as_text=True)
    link = re.search(r'id="reset-link">([^<]+)<', html).group(1)
    path = link.split("localhost", 1)[1]
    client.post("/logout")
    assert client.post("/login", data={"username": "researcher", "password": PASSWORD}).status_code == 401
    assert client.get(path).status_code == 200
    r = client.post(path, data={"new_password": "copper valley nine 42",
                                "confirm_password": "copper valley nine 42"})
    assert r.status_code == 302
    assert client.get(path).status_code == 404, "a reset link works once"
    assert client.post("/login", data={"username": "researcher",
                                       "password": "copper valley nine 42"}).status_code == 302
    assert client.get("/reset/not-a-token").status_code == 404
    actions = [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert "password_reset_issued" in actions and "password_reset_used" in actions


def test_cli_verbs(runner, session) -> None:
    r = runner.invoke(main, ["user", "add", "mei", "--role", "technician", "--site", "NB", "--password", NEW,
                             "--temporary"])
    assert r.exit_code == 0, r.output
    listing = runner.invoke(main, ["user", "list"]).output
    assert re.search(r"mei\s+technician\s+NB\s+local", listing)
    r = runner.invoke(main, ["user", "set", "mei", "--site", "ZJ"])
    assert r.exit_code != 0 and "signed by an active administrator" in r.output
    r = runner.invoke(main, ["user", "set", "mei", "--site", "ZJ", "--site", "NB", "--by", "admin",
                             "--password", PASSWORD])
    assert r.exit_code == 0 and "sites NB, ZJ" in r.output and "signature" in r.output
    r = runner.invoke(main, ["user", "set", "mei", "--name", "Mei Chen"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["user", "reset", "mei", "--base-url", "https://lims.example.org"])
    assert r.exit_code == 0 and "https://lims.example.org/reset/" in r.output
    r = runner.invoke(main, ["user", "deactivate", "mei"])
    assert r.exit_code == 0 and "Deactivated mei" in r.output
    assert "mei" not in runner.invoke(main, ["user", "list"]).output
    assert "deactivated" in runner.invoke(main, ["user", "list", "--all"]).output
    r = runner.invoke(main, ["user", "set", "nobody", "--name", "x"])
    assert r.exit_code != 0 and "no user 'nobody'" in r.output


class _SmtpSink:
    """A minimal SMTP server on 127.0.0.1 that keeps the messages it receives (for the optional mail
    setting)."""

    def __init__(self) -> None:
        import socketserver
        import threading

        received: list[str] = []
        self.messages = received

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.wfile.write(b"220 sink\r\n")
                while line := self.rfile.readline():
                    verb = line.split(b" ")[0].strip().upper()
                    if verb == b"DATA":
                        self.wfile.write(b"354 go on\r\n")
                        data = b""
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            data += chunk
                        received.append(data.decode())
                        self.wfile.write(b"250 kept\r\n")
                    elif verb == b"QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 ok\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def test_reset_link_is_mailed_when_a_mail_server_is_set(app, login, session, user) -> None:
    user("pi").email = "pi@hospital.test"
    session.flush()
    sink = _SmtpSink()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=sink.port, MAIL_FROM="lims@hospital.test")
    try:
        admin = login("admin")
        html = admin.post("/admin/users/pi/reset", data={"hours": "3"}).get_data(as_text=True)
        link = re.search(r'id="reset-link">([^<]+)<', html).group(1)
        assert len(sink.messages) == 1 and link in sink.messages[0].replace("=\r\n", "")
        assert "To: pi@hospital.test" in sink.messages[0] and "within 3 hour(s)" in sink.messages[0]
        assert "also e-mailed to pi@hospital.test" in admin.get("/admin/users/pi").get_data(as_text=True)
    finally:
        del app.config["MAIL_SERVER"], app.config["MAIL_PORT"], app.config["MAIL_FROM"]
        sink.close()
