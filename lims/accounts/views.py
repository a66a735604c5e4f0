"""Login (password, LDAP, OpenID Connect), the second-factor step, logout, reset links and API tokens."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from lims.accounts import directory, limits, service, sessions, sso, totp
from lims.accounts.admin import reset_for, use_reset
from lims.accounts.models import ApiToken, User
from lims.core import audit
from lims.core.auth import login_required
from lims.core.errors import DomainError
from lims.core.permissions import allowed, permission_required
from lims.core.uow import refuse
from lims.extensions import db

bp = Blueprint("accounts", __name__)
PENDING = "_second_factor"
SECOND_FACTOR_SECONDS = 300


class LoginForm(FlaskForm):
    username = StringField("User name", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


def _safe_next(target: str | None) -> str:
    if target and urlsplit(target).netloc == "" and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("participants.index")


def _login_page(form: LoginForm | None = None, status: int = 200, message: str | None = None) -> Any:
    if message:
        flash(message, "error")
    return render_template("accounts/login.html", form=form or LoginForm(),
                           oidc=sso.oidc_enabled(current_app.config),
                           oidc_name=current_app.config.get("OIDC_NAME", "single sign-on")), status


def _finish_login(user: User, method: str, *, detail: str | None = None) -> Any:
    """Start a server-side session for ``user`` and go where they were heading."""
    target = _safe_next(session.get("_next") or request.args.get("next"))
    sid = sessions.start_session(db.session, user, method=method, remote_addr=limits.address(),
                                 user_agent=request.user_agent.string)
    session.clear()
    session.permanent = True
    session["_sid"], session["_method"] = sid, method
    login_user(user)
    audit.record(db.session, "login", user=user, detail=detail or method)
    return redirect(target)


def _password_login(username: str, password: str) -> tuple[User | None, str]:
    """Check a password here or in the directory; return (user, method)."""
    existing = service.find_user(db.session, username)
    if directory.enabled(current_app.config) and (existing is None or existing.auth_source == "ldap"):
        who = directory.authenticate(username, password, current_app.config)
        if who is None:
            return None, "ldap"
        return sso.sign_in_external(db.session, who, current_app.config), "ldap"
    return service.authenticate(db.session, username, password), "password"


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Show the login form and check the password (here or in the directory)."""
    if current_user.is_authenticated:
        return redirect(url_for("participants.index"))
    form = LoginForm()
    if not form.validate_on_submit():
        return _login_page(form, 400 if request.method == "POST" else 200)
    username = (form.username.data or "").strip()[:80]
    try:
        user, method = _password_login(username, form.password.data or "")
    except DomainError as exc:
        audit.record_security(db.session, "login_failed", username=username, detail=exc.message)
        return _login_page(form, exc.status, exc.message)
    if user is None:
        audit.record_security(db.session, "login_failed", username=username)
        return _login_page(form, 401, "Wrong user name or password.")
    session["_next"] = request.args.get("next")
    if user.has_totp:
        session[PENDING] = {"uid": user.id, "method": method, "at": time.time()}
        return redirect(url_for("accounts.second_factor"))
    return _finish_login(user, method)


@bp.route("/login/second-factor", methods=["GET", "POST"])
def second_factor() -> Any:
    """Ask for the code of the authenticator app (or a recovery code) after a right password."""
    pending = session.get(PENDING) or {}
    user = db.session.get(User, pending.get("uid", 0)) if pending else None
    if user is None or not user.active or time.time() - pending.get("at", 0) > SECOND_FACTOR_SECONDS:
        session.pop(PENDING, None)
        flash("Log in again: the second step expired.", "error")
        return redirect(url_for("accounts.login"))
    if request.method == "GET":
        return render_template("accounts/second_factor.html")
    try:
        limits.guard("RATELIMIT_SECOND_FACTOR", user.username, what="second-factor codes")
    except DomainError as exc:
        flash(exc.message, "error")
        return render_template("accounts/second_factor.html"), exc.status
    kind = totp.verify(db.session, user, request.form.get("code", ""))
    if kind is None:
        limits.count_failure("RATELIMIT_SECOND_FACTOR", user.username)
        audit.record_security(db.session, "second_factor_failed", user=user)
        flash("That code is not right.", "error")
        return render_template("accounts/second_factor.html"), 401
    response = _finish_login(user, pending["method"], detail=f"{pending['method']} + {kind}")
    if kind == "recovery":
        flash(f"You used a recovery code; {totp.recovery_codes_left(db.session, user)} are left.", "info")
    return response


@bp.get("/login/sso")
def sso_start() -> Any:
    """Send the browser to the OpenID provider (authorization code + PKCE)."""
    client = current_app.extensions.get("lims_oidc")
    if client is None:
        abort(404, description="single sign-on is not configured")
    session["_next"] = request.args.get("next")
    try:
        return client.authorize_redirect(url_for("accounts.sso_callback", _external=True))
    except Exception as exc:  # noqa: BLE001 - any failure to reach the provider is shown, never a 500
        return _login_page(None, 503, _provider_down(exc))


def _provider_down(exc: Exception) -> str:
    current_app.logger.warning("OpenID provider unreachable: %r", exc)
    return ("The single sign-on provider cannot be reached just now; try again in a few minutes, or tell "
            "your IT department.")


@bp.get("/login/sso/callback")
def sso_callback() -> Any:
    """Finish an OpenID Connect login: exchange the code, read the claims, map groups to a role and sites."""
    from authlib.integrations.base_client.errors import OAuthError
    from requests import RequestException

    client = current_app.extensions.get("lims_oidc")
    if client is None:
        abort(404, description="single sign-on is not configured")
    if request.args.get("error"):
        reason = request.args.get("error_description") or request.args.get("error")
        audit.record_security(db.session, "login_failed", detail=f"oidc: {reason}"[:500])
        return _login_page(None, 401, f"The single sign-on provider did not log you in: {reason}.")
    try:
        token = client.authorize_access_token()
        claims = dict(token.get("userinfo") or {})
        claims.update(client.userinfo(token=token))
    except OAuthError as exc:
        audit.record_security(db.session, "login_failed", detail=f"oidc: {exc.error}"[:500])
        return _login_page(None, 400,
                           f"The single sign-on answer was refused ({exc.description or exc.error}); "
                                      "start again.")
    except RequestException as exc:
        return _login_page(None, 503, _provider_down(exc))
    who = sso.identity_from_claims(claims, current_app.config)
    try:
        user = sso.sign_in_external(db.session, who, current_app.config)
    except DomainError as exc:
        audit.record_security(db.session, "login_failed", username=who.username,
                              detail=f"oidc: {exc.message}")
        return _login_page(None, exc.status, exc.message)
    return _finish_login(user, "oidc")


@bp.post("/logout")
def logout() -> Any:
    """Log out (the server forgets the session) and return to the login page."""
    sessions.end_session(db.session, session.get("_sid"))
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("accounts.login"))


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset(token: str) -> Any:
    """Set a new password through a one-time link an administrator handed over."""
    try:
        row = reset_for(db.session, token)
    except DomainError as exc:
        audit.record_security(db.session, "password_reset_refused", detail=exc.message)
        return render_template("error.html", code=404, message=exc.message), 404
    if request.method == "POST":
        new = request.form.get("new_password", "")
        if new != request.form.get("confirm_password", ""):
            flash("The two new passwords differ.", "error")
            return render_template("accounts/reset.html", user=row.user), 400
        try:
            user = use_reset(db.session, token, new)
        except DomainError as exc:
            flash(exc.message, "error")
            return render_template("accounts/reset.html", user=row.user), 400
        flash(f"Password set for {user.username}. Log in with it now.", "info")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/reset.html", user=row.user)


@bp.route("/account/tokens", methods=["GET", "POST"])
@permission_required("tokens.own")
def tokens() -> Any:
    """List the user's API tokens; create one (its secret is shown once)."""
    secret = None
    if request.method == "POST":
        try:
            days = int(request.form.get("days", "90"))
        except ValueError:
            days = 0
        try:
            token, secret = service.create_token(db.session, current_user, name=request.form.get("name", ""),
                                                 days=days)
            audit.record(db.session, "token_created", user=current_user, object_type="api_token",
                         object_id=token.id)
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
    return redirect(request.form.get("back") or url_for("accounts.tokens"))
