"""Every route x every role x own site / another site, checked against the access rules.

The routes come from ``app.url_map``; what each needs is declared in :mod:`tests.access.routes` (a route
without a declaration fails here, so a new route must say what it needs). For each role, the request is
made with objects of the user's own site (ZJ) and of another site (SX):

- anonymous: 401 on the API, the login page otherwise;
- a role without the permission: 403 (before anything is looked up, so nothing is revealed);
- a site-bound role naming another site's object: answered exactly like an object that does not exist
  (same status and message; 404 when the object is in the URL); acting for another site: 403;
- somebody else's token, job or session is answered like one that does not exist (admins: but sessions);
- otherwise the answer is not a refusal of scope (no 401/403/404, no scope message), never a 5xx;
- and no answer to a site-bound user contains anything of a site it does not work at.
"""

from __future__ import annotations

import html
import io
import json
import re
from dataclasses import fields, replace
from typing import Any

import pytest
from flask import Flask

from lims.core.permissions import SITE_BOUND_ROLES, allowed
from lims.samples.accession import make_accession
from tests.access.conftest import ROLE_USERS, SiteObjects, Stage
from tests.access.routes import LOGIN, PUBLIC, ROUTES, Expect

HIDDEN_KINDS = {"sample", "participant", "unit", "shipment", "disposal", "printer", "print_job"}
# One's own things: somebody else's is answered like one that does not exist (admins: but sessions).
OWN_KINDS = {"token", "job", "session"}
SCOPE_WORDS = ("at your sites", "you work for", "held at another site")
FLASH = re.compile(r'<p class="flash error" role="alert">(.*?)</p>', re.DOTALL)

# Objects that do not exist: another site's objects must be answered exactly like these.
GHOST = SiteObjects(
    site="SX",
    participant="ZZ-GHOST1",
    withdrawn="ZZ-GHOST2",
    **{
        name: make_accession(999_000 + i)
        for i, name in enumerate(
            (
                "primary",
                "stored",
                "packed",
                "loose",
                "shipped",
                "arrived",
                "disposal",
                "quarantined",
                "incoming_tube",
            ),
            start=1,
        )
    },
    **{
        name: 999_100 + i
        for i, name in enumerate(
            (
                "freezer",
                "rack",
                "box",
                "box2",
                "tank",
                "draft",
                "incoming",
                "received",
                "disposal_request",
                "printer",
                "print_job",
                "token",
                "job",
                "session",
            ),
            start=1,
        )
    },
    box_barcode="GHOST-BX1",
    box2_barcode="GHOST-BX2",
    rack_barcode="GHOST-RCK",
    freezer_barcode="GHOST-FRZ",
)


def _routes(app: Flask) -> set[str]:
    return {
        f"{method} {rule.rule}"
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def test_every_route_declares_what_it_needs(app: Flask) -> None:
    routes = _routes(app)
    missing = sorted(routes - ROUTES.keys())
    assert not missing, "routes without an expectation in tests/access/routes.py:\n" + "\n".join(missing)
    gone = sorted(ROUTES.keys() - routes)
    assert not gone, "expectations for routes that no longer exist:\n" + "\n".join(gone)


def expected(role: str | None, expect: Expect, side: str) -> str:
    """Return what the rules say ``role`` gets: ok, 401, login, 403 or hidden (like a missing object)."""
    if expect.permission == PUBLIC:
        return "ok"
    if role is None:
        return "anonymous"
    if expect.permission != LOGIN and not allowed(role, expect.permission):
        return "403"
    if side == "other":
        if expect.kind in OWN_KINDS and (role != "admin" or expect.kind == "session"):
            return "hidden"
        if role in SITE_BOUND_ROLES and expect.kind in HIDDEN_KINDS:
            return "hidden"
        if role in SITE_BOUND_ROLES and expect.kind == "site":
            return "403"
    return "ok"


class Answer:
    """A response reduced to what the checks compare: status, location, refusal messages, body text."""

    def __init__(self, response: Any, flashes: list[tuple[str, str]]) -> None:
        self.status = response.status_code
        self.location = response.headers.get("Location", "")
        self.text = response.get_data().decode("utf-8", errors="replace")
        messages = [m for category, m in flashes if category == "error"]
        if response.is_json:
            body = response.get_json(silent=True)
            if isinstance(body, dict):
                messages.append(str(body.get("message", "")))
                messages.append(json.dumps(body.get("errors", {}), sort_keys=True))
        elif response.mimetype == "text/html":
            messages += [html.unescape(m) for m in FLASH.findall(self.text)]
        self.message = " | ".join(m for m in messages if m)

    def __repr__(self) -> str:
        return f"{self.status} {self.location} {self.message[:300]!r}"


def ask(stage: Stage, username: str | None, method: str, built: dict[str, Any]) -> Answer:
    """Send one request (pages with the user's cookie, the API with its token) and collect its flashes."""
    path = built.pop("path")
    api = path.startswith("/api/")
    fresh = method == "POST" and path == "/logout" and username is not None
    response = stage.request(username, method, path, bearer=api, fresh=fresh, **built)
    flashes: list[tuple[str, str]] = []
    if not api and not fresh:
        with stage.clients[username].session_transaction() as cookie:
            flashes = list(cookie.pop("_flashes", []))
    answer = Answer(response, flashes)
    response.close()  # file downloads hold their file open until closed
    return answer


def _objects(stage: Stage, username: str | None, side: str, ghost: bool = False) -> SiteObjects:
    w = stage.world
    objects = GHOST if ghost else (w.zj if side == "own" else w.sx)
    if ghost:
        return objects
    owner = (username if side == "own" else ("monitor" if username != "monitor" else "pi")) or ""
    return replace(
        objects,
        token=w.token_ids.get(owner, 0),
        job=w.job_ids.get(owner, 0),
        session=w.session_ids.get(owner, 0),
    )


def _as_other(message: str, other: SiteObjects) -> str:
    """Rewrite a message about GHOST objects as if it were about ``other``'s (to compare the two)."""
    pairs = [
        (str(getattr(GHOST, f.name)), str(getattr(other, f.name)))
        for f in fields(SiteObjects)
        if f.name not in ("site", "secrets")
    ]
    for ghost, real in sorted(pairs, key=lambda p: -len(p[0])):
        message = message.replace(ghost, real)
    return message


def _sent(built: dict[str, Any]) -> str:
    """Return what the request carries as text, uploaded files' contents included (echoing them: no leak)."""
    files = [
        value[0].getvalue().decode("utf-8", errors="replace")
        for value in (built.get("data") or {}).values()
        if isinstance(value, tuple) and isinstance(value[0], io.BytesIO)
    ]
    return repr(built) + "".join(files)


def check(stage: Stage, route: str, role: str | None, side: str) -> list[str]:
    """Make the request for (role, side) and return what is wrong with the answer."""
    expect, method = ROUTES[route], route.split(" ", 1)[0]
    username = ROLE_USERS.get(role) if role else None
    objects = _objects(stage, username, side)
    built = expect.build(stage.world, objects)
    sent = _sent(built)
    answer = ask(stage, username, method, dict(built))
    want = expected(role, expect, side)
    api = built["path"].startswith("/api/")
    problems = []
    if answer.status >= 500:
        problems.append(f"server error {answer!r}")
    elif want == "anonymous":
        sent_to_login = answer.status == 401 if api else answer.status == 302 and "/login" in answer.location
        if not sent_to_login:
            problems.append(f"anonymous should be sent to log in, got {answer!r}")
    elif want == "403":
        if answer.status != 403:
            problems.append(f"expected 403, got {answer!r}")
    elif want == "hidden":
        ghost = ask(
            stage, username, method, expect.build(stage.world, _objects(stage, username, side, ghost=True))
        )
        if expect.in_url and answer.status != 404:
            problems.append(f"expected 404 for another site's object, got {answer!r}")
        if (answer.status, answer.message) != (ghost.status, _as_other(ghost.message, objects)):
            problems.append(f"answered unlike a missing object: {answer!r} vs missing: {ghost!r}")
    elif (
        answer.status in (401, 403)
        or (answer.status == 404 and not expect.data_404)
        or ("/login" in answer.location and expect.permission != PUBLIC)
        or any(w in answer.message for w in SCOPE_WORDS)
    ):
        problems.append(f"refused: {answer!r}")
    if want == "ok" and expect.shows is not None and answer.status < 300:
        missing = [s for s in expect.shows(stage.world, objects) if s not in answer.text]
        if missing:
            problems.append(f"does not show {', '.join(missing)}: {answer!r}")
    if username is not None and role in SITE_BOUND_ROLES:
        leaked = sorted(s for s in stage.world.sx.secrets if s in answer.text and s not in sent)
        if leaked:
            problems.append(f"shows another site's {', '.join(leaked)}")
    return [f"{role or 'anonymous'} / {side}: {p}" for p in problems]


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_route(stage: Stage, route: str) -> None:
    expect = ROUTES[route]
    # Another site's object matters where a site-bound role may use the route; elsewhere every role is
    # study-wide and sees every site alike (and such routes, e.g. derived clinical endpoints, are slow).
    site_bound = expect.permission in (LOGIN, PUBLIC) or any(
        allowed(r, expect.permission) for r in SITE_BOUND_ROLES
    )
    sides = ("own", "other") if expect.kind and (site_bound or expect.kind in OWN_KINDS) else ("own",)
    problems = [p for role in (None, *ROLE_USERS) for side in sides for p in check(stage, route, role, side)]
    assert not problems, f"{route} ({expect.permission}, {expect.kind}):\n" + "\n".join(problems)
