"""Disposal JSON API: the quarantined samples awaiting disposal."""

from __future__ import annotations

from typing import Any

from flask_login import current_user
from flask_smorest import Blueprint

from lims import access
from lims.core.permissions import permission_required
from lims.disposal.schemas import AwaitingDisposalSchema
from lims.disposal.service import awaiting_disposal
from lims.extensions import db

blp = Blueprint("disposal_api", __name__, description="Samples awaiting disposal")


@blp.route("/quarantined")
@permission_required("read")
@blp.response(200, AwaitingDisposalSchema(many=True))
@blp.paginate()
def quarantined(pagination_parameters: Any) -> Any:
    """List quarantined samples awaiting disposal at your sites, with the reason and location."""
    rows = awaiting_disposal(db.session, where=access.visible_samples(current_user))
    pagination_parameters.item_count = len(rows)
    first = pagination_parameters.first_item
    return rows[first:first + pagination_parameters.page_size]
