"""Configure label printers per site or bench: checked, so a printer that cannot print our labels is
refused."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lims import access
from lims.accounts.models import User
from lims.core.errors import Conflict, DomainError, NotFound
from lims.labels.layout import LabelContent, plan
from lims.labels.presets import DPIS, PRESETS, STOCKS, LabelLayoutError
from lims.printing.models import CONNECTIONS, LANGUAGES, Printer
from lims.samples.accession import make_accession
from lims.studies.models import Site

EDITABLE = ("name", "bench", "connection", "language", "host", "port", "queue", "stock", "dpi", "active")
_PROBE = LabelContent(make_accession(9999999, "ZZ"), make_accession(9999999, "ZZ"))


def get_printer(session: Session, printer_id: int) -> Printer:
    """Return the printer with this id or raise NotFound."""
    printer = session.get(Printer, printer_id)
    if printer is None:
        raise NotFound(f"no printer #{printer_id}")
    return printer


def printers_at(session: Session, site_ids: frozenset[int] | None, *,
                active: bool | None = True) -> list[Printer]:
    """Return the printers at ``site_ids`` (None: every site), by site, bench and name."""
    stmt = select(Printer).join(Site, Printer.site_id == Site.id)
    if site_ids is not None:
        stmt = stmt.where(Printer.site_id.in_(site_ids or [-1]))
    if active is not None:
        stmt = stmt.where(Printer.active.is_(active))
    return list(session.scalars(stmt.order_by(Site.code, Printer.bench, Printer.name)))


def stock_choices(language: str) -> list[str]:
    """Return what a printer of ``language`` can be loaded with: label stocks (ZPL) or page layouts (PDF)."""
    return list(STOCKS) if language == "zpl" else sorted(PRESETS)


def check_settings(values: dict[str, Any]) -> None:
    """Raise DomainError naming the field if these printer settings cannot print labels."""
    connection, language = values.get("connection"), values.get("language")
    if connection not in CONNECTIONS:
        raise DomainError(f"connection must be one of {', '.join(CONNECTIONS)}", field="connection")
    if language not in LANGUAGES:
        raise DomainError(f"language must be one of {', '.join(LANGUAGES)}", field="language")
    if connection == "tcp" and language != "zpl":
        raise DomainError("a raw TCP printer is sent ZPL; print PDF pages through a CUPS queue",
                          field="language")
    if connection == "tcp" and not values.get("host"):
        raise DomainError("give the printer's network address (host name or IP)", field="host")
    if connection == "cups" and not values.get("queue"):
        raise DomainError("give the CUPS queue name (lpstat -p lists them)", field="queue")
    port = values.get("port")
    if port is not None and not 1 <= int(port) <= 65535:
        raise DomainError(f"port {port} is not a TCP port (1-65535)", field="port")
    if values.get("dpi") not in DPIS:
        raise DomainError(f"resolution must be one of {', '.join(map(str, DPIS))} dpi", field="dpi")
    choices = stock_choices(language)
    if values.get("stock") not in choices:
        raise DomainError(f"{'label stock' if language == 'zpl' else 'page layout'} must be one of "
                          f"{', '.join(choices)}", field="stock")
    stock = STOCKS[values["stock"]] if language == "zpl" else PRESETS[values["stock"]].stock
    try:
        plan(_PROBE, stock, values["dpi"])
    except LabelLayoutError as exc:
        raise DomainError(str(exc), field="stock") from None


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    out = dict(values)
    for key in ("name", "bench", "host", "queue"):
        if key in out:
            out[key] = (out[key] or "").strip() or None
    if out.get("connection") == "tcp":
        out["queue"] = None
        out["port"] = out.get("port") or 9100
    return out


def _unique(session: Session, site_id: int, name: str, printer_id: int | None) -> None:
    clash = session.scalar(select(Printer.id).where(Printer.site_id == site_id,
                                                    func.lower(Printer.name) == name.lower()))
    if clash is not None and clash != printer_id:
        raise Conflict(f"this site already has a printer called {name!r}", field="name")


def create_printer(session: Session, *, site: Site, by: User | None, **values: Any) -> Printer:
    """Add a printer at ``site`` after checking that it can print labels with these settings."""
    access.require_site(by, site, "setting up a printer")
    values = _clean({"active": True, **values})
    if not values.get("name"):
        raise DomainError("give the printer a name", field="name")
    check_settings(values)
    _unique(session, site.id, values["name"], None)
    printer = Printer(site_id=site.id, **{k: v for k, v in values.items() if k in EDITABLE})
    session.add(printer)
    session.flush()
    return printer


def update_printer(session: Session, printer: Printer, *, by: User | None, **changes: Any) -> Printer:
    """Change a printer's settings (all checked together) or switch it off with ``active=False``."""
    access.require_site(by, printer.site, "changing a printer")
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise DomainError(f"unknown printer setting(s): {', '.join(sorted(unknown))}")
    values = _clean({**{k: getattr(printer, k) for k in EDITABLE}, **changes})
    if not values.get("name"):
        raise DomainError("give the printer a name", field="name")
    check_settings(values)
    _unique(session, printer.site_id, values["name"], printer.id)
    for key, value in values.items():
        setattr(printer, key, value)
    session.flush()
    return printer
