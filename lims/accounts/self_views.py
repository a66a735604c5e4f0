"""Self-service: one's account, password, second factor and sessions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select

from lims.accounts import second_factor, sessions, totp
from lims.accounts.admin import change_password
from lims.accounts.models import ApiToken, UserSession
from lims.accounts.schemas import PasswordChangeSchema
from lims.accounts.views import bp
from lims.core import audit
from lims.core.errors import DomainError
from lims.core.forms import first_error, load_form
from lims.core.permissions import permission_required
from lims.core.uow import refuse
from lims.extensions import db


def _idle() -> Any:
    return current_app.permanent_session_lifetime


@bp.get("/account")
@permission_required("account.self")
def account() -> Any:
    """Show one's account: role, sites, how one logs in, second factor, sessions and tokens."""
    live = sessions.live_sessions(db.session, current_user, idle=_idle())
    tokens = [t for t in current_user_tokens() if t.state == "active"]
    return render_template("accounts/account.html", live=live, tokens=tokens, sid=session.get("_sid"),
                           is_current=sessions.is_current, mfa_required=totp.required_for(current_user),
                           codes_left=totp.recovery_codes_left(db.session, current_user))


def current_user_tokens() -> list[ApiToken]:
    """Return the current user's API tokens."""


    return list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == current_user.id)
                                   .order_by(ApiToken.created_at.desc())))


@bp.route("/account/password", methods=["GET", "POST"])
@permission_required("account.self")
def password() -> Any:
    """Change one's own password (the current one is required); one's other sessions end."""
    if request.method == "POST":
        try:
            data = load_form(PasswordChangeSchema(), request.form)
            if data["new_password"] != data["confirm_password"]:
                raise DomainError("the two new passwords differ", field="confirm_password")
            ended = change_password(db.session, current_user, current=data["current_password"],
                                    new=data["new_password"], keep_sid=session.get("_sid"))
        except ValidationError as exc:
            flash(first_error(exc), "error")
            return render_template("accounts/password.html"), 400
        except DomainError as exc:
            flash(exc.message, "error")
            return render_template("accounts/password.html"), exc.status
        flash(f"Password changed. {ended} other session(s) ended.", "info")
        return redirect(url_for("accounts.account"))
    return render_template("accounts/password.html")


# What each button of the second-factor page does; each returns the recovery codes to show once, if any.
_MFA_ACTIONS: dict[str, Callable[[Any], list[str] | None]] = {
    "start": lambda form: second_factor.start(db.session, current_user),
    "confirm": lambda form: second_factor.enable(db.session, current_user, form.get("code", "")),
    "remove": lambda form: second_factor.remove_own(db.session, current_user, form.get("password", "")),
    "recovery": lambda form: second_factor.renew_recovery_codes(db.session, current_user,
                                                                form.get("password", "")),
}


@bp.route("/account/mfa", methods=["GET", "POST"])
@permission_required("account.self")
def mfa() -> Any:
    """Set up, confirm or remove the second factor; make new recovery codes."""
    codes = None
    if request.method == "POST":
        action = _MFA_ACTIONS.get(request.form.get("action", ""))
        if action is None:
            abort(400, description="unknown action")
        try:
            codes = action(request.form)
        except DomainError as exc:
            refuse(exc.message)
            return redirect(url_for("accounts.mfa"))
    pending = current_user.totp_secret and not current_user.has_totp
    uri = totp.provisioning_uri(current_user) if pending else None
    return render_template("accounts/mfa.html", codes=codes, uri=uri, qr=totp.qr_svg(uri) if uri else None,
                           secret=current_user.totp_secret if pending else None,
                           required=totp.required_for(current_user),
                           codes_left=totp.recovery_codes_left(db.session, current_user))


@bp.post("/account/sessions/<int:session_id>/revoke")
@permission_required("account.self")
def revoke_session(session_id: int) -> Any:
    """End one of one's sessions (another browser or computer)."""
    row = db.session.get(UserSession, session_id)
    if row is None or row.user_id != current_user.id:
        abort(404, description="no such session")
    sessions.revoke_session(db.session, row, by=current_user)
    audit.record(db.session, "session_revoked", user=current_user, object_type="user_session",
                 object_id=row.id)
    flash("Session ended.", "info")
    return redirect(url_for("accounts.account"))


@bp.post("/account/sessions/revoke-others")
@permission_required("account.self")
def revoke_other_sessions() -> Any:
    """End every session but this one."""
    ended = sessions.revoke_all(db.session, current_user, keep_sid=session.get("_sid"))
    audit.record(db.session, "sessions_revoked", user=current_user, object_type="user",
                 object_id=current_user.id,
                 detail=f"{ended} other session(s)")
    flash(f"{ended} other session(s) ended.", "info")
    return redirect(url_for("accounts.account"))
