"""Health report: database reachability and schema version."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from lims import __version__
from lims.extensions import db


def health_report() -> dict[str, Any]:
    """Return whether the database answers and which migration it is at."""
    report: dict[str, Any] = {"version": __version__, "database": "ok", "schema": None}
    try:
        with db.engine.connect() as conn:
            report["schema"] = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy; say which
        report["database"] = f"error: {type(exc).__name__}"
    return report
