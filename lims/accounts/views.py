"""Login and logout pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from lims.accounts import service
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
        db.session.commit()
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
