"""Worklist JSON API: the visits due this week and overdue at your sites."""

from __future__ import annotations

from typing import Any

from flask_login import current_user
from flask_smorest import Blueprint

from lims.core.permissions import permission_required
from lims.extensions import db
from lims.studies.service import get_study
from lims.worklists.schemas import WorklistQuerySchema, WorklistSchema
from lims.worklists.visits import worklist

blp = Blueprint("worklists_api", __name__, description="Worklists: visits due and overdue per site")


@blp.route("/visits")
@permission_required("read")
@blp.arguments(WorklistQuerySchema, location="query")
@blp.response(200, WorklistSchema)
def visits(args: dict[str, Any]) -> Any:
    """List the visits due in a week (study time), the overdue ones and those done, with kit counts."""
    return worklist(db.session, get_study(db.session), current_user, day=args.get("week"),
                    site=args.get("site"))
