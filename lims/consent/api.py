"""Consent JSON API: record a withdrawal."""

from __future__ import annotations

from typing import Any

from flask_login import current_user
from flask_smorest import Blueprint

from lims.consent.schemas import WithdrawalSchema, WithdrawSchema
from lims.consent.withdrawal import withdraw_consent
from lims.core.permissions import permission_required
from lims.extensions import db
from lims.participants import service as participants_service

blp = Blueprint("consent_api", __name__, description="Consent withdrawal")


@blp.route("/<code>/withdraw", methods=["POST"])
@permission_required("consent.withdraw")
@blp.arguments(WithdrawSchema)
@blp.response(200, WithdrawalSchema)
def withdraw(args: dict[str, Any], code: str) -> Any:
    """Withdraw a participant's consent: every remaining sample is quarantined (custody event each)."""
    participant = participants_service.get_by_code(db.session, code, user=current_user)
    return withdraw_consent(db.session, participant, on=args["on"], reason=args["reason"], by=current_user)
