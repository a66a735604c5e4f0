"""The audit trail page: filter by user, action, record type and dates; export CSV."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request
from flask_login import current_user

from lims.audit import service
from lims.core.permissions import permission_required
from lims.extensions import db
from lims.participants.service import count

bp = Blueprint("audit", __name__, url_prefix="/audit")


def _date(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def _filters() -> dict[str, Any]:
    return {"username": request.args.get("user") or None, "action": request.args.get("action") or None,
            "object_type": request.args.get("object_type") or None, "since": _date("since"),
            "until": _date("until"),
            "where": service.visible_to(current_user)}


@bp.get("/")
@permission_required("audit.read")
def index() -> Any:
    """Show the audit trail, newest first, filtered and paginated."""
    stmt = service.query(**_filters())
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    size = current_app.config["PAGE_SIZE"]
    total = count(db.session, stmt)  # type: ignore[arg-type]
    events = db.session.scalars(stmt.limit(size).offset((page - 1) * size)).all()
    return render_template("audit/index.html", events=events, total=total, page=page,
                           pages=max((total + size - 1) // size, 1),
                           args={k: v for k, v in request.args.items() if k != "page"})


@bp.get("/export.csv")
@permission_required("audit.read")
def export() -> Any:
    """Download the filtered trail as CSV."""
    return Response(service.to_csv(db.session, service.query(**_filters())), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="audit-trail.csv"'})
