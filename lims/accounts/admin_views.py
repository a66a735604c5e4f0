"""User administration pages (admin role): list, create, edit, deactivate, reset a password."""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select

from lims.accounts import admin, mail, second_factor, totp
from lims.accounts.models import AUTH_SOURCES, ROLES, SIGNATURE_MEANINGS, User
from lims.accounts.schemas import EditUserSchema, NewUserSchema
from lims.core import audit
from lims.core.errors import DomainError
from lims.core.forms import first_error, load_form
from lims.core.permissions import permission_required
from lims.core.uow import after_commit, refuse
from lims.extensions import db
from lims.studies.models import Site

bp = Blueprint("users", __name__, url_prefix="/admin/users")


def _choices() -> dict[str, Any]:
    return {"roles": ROLES, "sources": AUTH_SOURCES, "meanings": SIGNATURE_MEANINGS,
            "sites": db.session.scalars(select(Site).order_by(Site.code)).all()}


@bp.get("/")
@permission_required("users.manage")
def index() -> Any:
    """List users (filter by name, active or deactivated)."""
    state = request.args.get("state", "")
    users = admin.list_users(db.session, q=request.args.get("q", "")[:80],
                             active={"active": True, "deactivated": False}.get(state))
    return render_template("accounts/users.html", users=users, q=request.args.get("q", ""), state=state)


@bp.route("/new", methods=["GET", "POST"])
@permission_required("users.manage")
def create() -> Any:
    """Create a user; a local user gets a first password they must change at first login."""
    if request.method == "POST":
        try:
            data = load_form(NewUserSchema(), request.form)
            if data["auth_source"] == "local":
                user = admin.create_user(db.session, by=current_user, username=data["username"],
                                         role=data["role"],
                                         password=data.get("password") or "", full_name=data["full_name"],
                                         site_codes=data["sites"], email=data["email"])
            else:
                from lims.accounts.service import add_user

                user = add_user(db.session, username=data["username"], password=None, role=data["role"],
                                full_name=data["full_name"], site_codes=data["sites"], email=data["email"],
                                auth_source=data["auth_source"])
                audit.record(db.session, "user_created", user=current_user, object_type="user",
                             object_id=user.id,
                             detail=f"{user.username} ({user.auth_source})")
        except ValidationError as exc:
            flash(first_error(exc), "error")
            return render_template("accounts/user_new.html", form=request.form, **_choices()), 422
        except DomainError as exc:
            flash(exc.message, "error")
            return render_template("accounts/user_new.html", form=request.form, **_choices()), exc.status
        flash(f"User {user.username} created."
              + (" They must change the password at their first login." if user.auth_source == "local"
                 else ""),
              "info")
        return redirect(url_for("users.edit", username=user.username))
    return render_template("accounts/user_new.html", form={}, **_choices())


def _user(username: str) -> User:
    return admin.get_user(db.session, username)


@bp.route("/<username>", methods=["GET", "POST"])
@permission_required("users.manage")
def edit(username: str) -> Any:
    """Show and change a user; a change of role or sites, or a reactivation, is signed by the
    administrator."""
    user = _user(username)
    if request.method == "POST":
        try:
            data = load_form(EditUserSchema(), request.form)
            signature = admin.update_user(
                db.session, user,
                admin.Change(full_name=data["full_name"], email=data["email"], role=data["role"],
                                               site_codes=data["sites"], active=data["active"]),
                by=current_user, password=data.get("password"), meaning=data["meaning"])
        except ValidationError as exc:
            refuse(first_error(exc))
        except DomainError as exc:
            refuse(exc.message)
        else:
            flash(f"Saved {user.username}." + (f" Signed by {current_user.full_name}." if signature else ""),
                  "info")
        return redirect(url_for("users.edit", username=user.username))
    return render_template("accounts/user_edit.html", user=user, link=None,
                           mfa_required=totp.required_for(user), **_choices())


@bp.post("/<username>/deactivate")
@permission_required("users.manage")
def deactivate(username: str) -> Any:
    """Deactivate a leaver: their sessions and API tokens stop at once."""
    user = _user(username)
    try:
        ended = admin.deactivate_user(db.session, user, by=current_user)
    except DomainError as exc:
        refuse(exc.message)
    else:
        flash(f"{user.username} is deactivated; {ended} session(s) and every API token ended.", "info")
    return redirect(url_for("users.edit", username=user.username))


@bp.post("/<username>/reset")
@permission_required("users.manage")
def reset(username: str) -> Any:
    """Withdraw the password and show a one-time reset link to hand to the user."""
    user = _user(username)
    try:
        token = admin.issue_reset(db.session, user, by=current_user,
                                  hours=int(request.form.get("hours") or 24))
    except (DomainError, ValueError) as exc:
        refuse(getattr(exc, "message", "give the link's life in hours"))
        return redirect(url_for("users.edit", username=user.username))
    link = url_for("accounts.reset", token=token, _external=True)
    if user.email and mail.enabled(current_app.config):
        after_commit(db.session,
                     _mailer(user.email, user.full_name, link, int(request.form.get("hours") or 24)))
    return render_template("accounts/user_edit.html", user=user, link=link,
                           mfa_required=totp.required_for(user),
                           **_choices())


def _mailer(to: str, name: str, link: str, hours: int) -> Callable[[], None]:
    config = current_app.config

    def send() -> None:
        try:
            mail.send_reset_link(config, to=to, name=name, link=link, hours=hours)
        except (OSError, smtplib.SMTPException) as exc:
            current_app.logger.warning("reset link not mailed to %s: %r", to, exc)
            flash(f"The link could not be e-mailed to {to} ({exc}); hand it over yourself.", "error")
        else:
            flash(f"The link was also e-mailed to {to}.", "info")
    return send


@bp.post("/<username>/second-factor/remove")
@permission_required("users.manage")
def remove_second_factor(username: str) -> Any:
    """Remove a user's second factor (a lost phone); they set up a new one at their next login."""
    user = _user(username)
    second_factor.remove_for(db.session, user, by=current_user)
    flash(f"The second factor of {user.username} is removed.", "info")
    return redirect(url_for("users.edit", username=user.username))
