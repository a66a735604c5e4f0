"""JSON API for participants: the pattern every later resource follows."""

from __future__ import annotations

from typing import Any, ClassVar

from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint

from lims.core.api import SelectPage
from lims.core.auth import login_required
from lims.core.errors import NotFound
from lims.extensions import db
from lims.participants import service
from lims.participants.schemas import ParticipantDetailSchema, ParticipantQuerySchema, ParticipantSchema
from lims.studies.service import get_study

blp = Blueprint("participants_api", __name__, description="Pseudonymous trial participants")


@blp.route("/")
class Participants(MethodView):
    decorators: ClassVar[list[Any]] = [login_required]

    @blp.arguments(ParticipantQuerySchema, location="query")
    @blp.response(200, ParticipantSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, args: dict[str, Any]) -> Any:
        """List participants (search by code, filter by site and stratum)."""
        try:
            study = get_study(db.session)
        except NotFound:
            study = None
        return service.search_query(study, q=args.get("q"), site=args.get("site"),
                                    stratum=args.get("stratum"),
                                    user=current_user)


@blp.route("/<string:code>")
class ParticipantByCode(MethodView):
    decorators: ClassVar[list[Any]] = [login_required]

    @blp.response(200, ParticipantDetailSchema)
    def get(self, code: str) -> Any:
        """Show one participant with consent and visits."""
        return service.get_by_code(db.session, code, user=current_user)
