"""The pieces route declarations are made of (see :mod:`tests.access.routes`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.conftest import PASSWORD

PUBLIC = "public"  # anyone, logged in or not
LOGIN = "login"  # any logged-in user
FAR_FUTURE = "2100-01-01"  # every sample is past its retention period by then

Build = Callable[[Any, Any], dict[str, Any]]


@dataclass(frozen=True)
class Expect:
    """A route's needs: ``permission`` (an action of the table, PUBLIC or LOGIN) and the ``kind`` it names."""

    permission: str
    build: Build
    kind: str | None = None
    in_url: bool = True  # the object is in the URL (404 when hidden); else in the body or query string
    data_404: bool = False  # 404 can be a data answer here (no figure to draw), never a scope one
    shows: Callable[[Any, Any], list[str]] | None = None  # what an allowed answer must contain (lists, maps)


def req(path: Callable[[Any, Any], str], **extra: Callable[[Any, Any], Any]) -> Build:
    """Build a request: a path from (world, site objects), and json/data/query_string the same way."""

    def build(w: Any, o: Any) -> dict[str, Any]:
        return {"path": path(w, o), **{k: f(w, o) for k, f in extra.items()}}

    return build


def fixed(path: str, **extra: Any) -> Build:
    return lambda _w, _o: {"path": path, **extra}


def E(permission: str, build: Build, kind: str | None = None, **options: Any) -> Expect:
    return Expect(permission, build, kind, **options)


SIGNED = {"password": PASSWORD, "meaning": "approved"}
SCAN = {"mode": "check_out", "text": "assay"}
