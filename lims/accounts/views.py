"""Login and logout pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from lims.accounts import service
from lims.accounts.models import ApiToken
from lims.core import audit
from lims.core.auth import login_required
from lims.core.errors import DomainError
from lims.core.permissions import allowed
from lims.core.uow import refuse
from lims.extensions import db

bp = Blueprint("accounts", __name__)


class LoginForm(FlaskForm):
    username = StringField("User name", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


def _safe_next(target: str | None) -> str:
    if target and urlsplit(target).netloc == "" and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("participants.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Show the login form and check the password."""
    if current_user.is_authenticated:
        return redirect(url_for("participants.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = service.authenticate(db.session, form.username.data or "", form.password.data or "")
        audit.record_security(db.session, "login" if user else "login_failed", user=user,
                              username=(form.username.data or "")[:80])
        if user is None:
            flash("Wrong user name or password, or the account is locked after repeated failures.", "error")
            return render_template("accounts/login.html", form=form), 401
        session.clear()
        session.permanent = True
        login_user(user)
        return redirect(_safe_next(request.args.get("next")))
    status = 400 if request.method == "POST" else 200
    return render_template("accounts/login.html", form=form), status


@bp.post("/logout")
def logout() -> Any:
    """Log out and return to the login page."""
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("accounts.login"))


@bp.route("/account/tokens", methods=["GET", "POST"])
@login_required
def tokens() -> Any:
    """List the user's API tokens; create one (its secret is shown once)."""
    secret = None
    if request.method == "POST":
        try:
            days = int(request.form.get("days", "90"))
        except ValueError:
            days = 0
        try:
            token, secret = service.create_token(db.session, current_user, name=request.form.get("name", ""), days=days)
            audit.record(db.session, "token_created", user=current_user, object_type="api_token", object_id=token.id)
        except DomainError as exc:
            refuse(exc.message)
    rows = db.session.scalars(select(ApiToken).where(ApiToken.user_id == current_user.id)
                              .order_by(ApiToken.created_at.desc())).all()
    return render_template("accounts/tokens.html", tokens=rows, secret=secret)


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke(token_id: int) -> Any:
    """Revoke one of the user's tokens."""
    token = db.session.get(ApiToken, token_id)
    if token is None or (token.user_id != current_user.id and not allowed(current_user.role, "users.manage")):
        abort(404, description="no such token")  # another user's token is not revealed
    service.revoke_token(db.session, token, by=current_user)
    audit.record(db.session, "token_revoked", user=current_user, object_type="api_token", object_id=token.id)
    flash(f"Token {token.prefix}… revoked.", "info")
    return redirect(url_for("accounts.tokens"))
