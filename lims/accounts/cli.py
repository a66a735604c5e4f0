"""``lims user``: add, list, set, deactivate and reset users from the shell (the same services as the
pages)."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from lims.core.errors import DomainError
from lims.core.permissions import ROLES
from lims.core.uow import unit_of_work
from lims.extensions import db


@click.group("user")
def user_group() -> None:
    """User accounts."""


def _ready() -> None:
    from lims.core.migrate import require_schema

    require_schema()


def _secret(value: str | None, prompt: str, hint: str) -> str:
    if value is not None:
        return value
    if not sys.stdin.isatty():
        raise click.ClickException(f"no password given: {hint}")
    return click.prompt(prompt, hide_input=True)


@user_group.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--name", "full_name", default="", help="Full name shown in custody records.")
@click.option("--site", "sites", multiple=True, help="Site code the user works for (repeatable).")
@click.option("--email", default=None, help="E-mail address.")
@click.option("--login", "auth_source", type=click.Choice(["local", "oidc", "ldap"]), default="local",
              show_default=True, help="How the user logs in (oidc/ldap: no password here).")
@click.option("--password", envvar="LIMS_NEW_PASSWORD", default=None,
              help="Password (or set LIMS_NEW_PASSWORD); prompted when missing.")
@click.option("--temporary", is_flag=True, help="The user must change the password at the first login.")
@with_appcontext
def user_add(username: str, role: str, full_name: str, sites: tuple[str, ...], email: str | None,
             auth_source: str,
             password: str | None, temporary: bool) -> None:
    """Create a user with a role and sites."""
    from lims.accounts.service import add_user

    _ready()
    if auth_source == "local" and password is None:
        if not sys.stdin.isatty():
            raise click.ClickException("no password given: pass --password or set LIMS_NEW_PASSWORD")
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with unit_of_work(db.session):
            user = add_user(db.session, username=username, password=password, role=role, full_name=full_name,
                            site_codes=sites, email=email, strict=auth_source == "local",
                            must_change_password=temporary, auth_source=auth_source)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Created user {user.username} ({user.role}{', sites ' + ', '.join(sites) if sites else ''}).")


@user_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include deactivated users.")
@with_appcontext
def user_list(show_all: bool) -> None:
    """List users: name, role, sites, how they log in, second factor, state."""
    from lims.accounts.admin import list_users

    _ready()
    users = list_users(db.session, active=None if show_all else True)
    click.echo(f"{'user':20} {'role':13} {'sites':16} {'login':6} {'2fa':4} state")
    for u in users:
        click.echo(f"{u.username:20} {u.role:13} {','.join(u.site_codes) or '-':16} {u.auth_source:6} "
                   f"{'on' if u.has_totp else '-':4} {'active' if u.active else 'deactivated'}")


@user_group.command("set")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default=None, help="New role (signed).")
@click.option("--site", "sites", multiple=True, help="The user's sites, replacing the old ones (signed).")
@click.option("--no-sites", is_flag=True, help="Remove every site (signed).")
@click.option("--name", "full_name", default=None, help="New full name.")
@click.option("--email", default=None, help="New e-mail address.")
@click.option("--activate", is_flag=True, help="Reactivate a deactivated user (signed).")
@click.option("--by", "signer", default=None, help="The administrator who signs a change of role, sites or a "
                                                    "reactivation.")
@click.option("--password", envvar="LIMS_SIGN_PASSWORD", default=None,
              help="Password of --by (or LIMS_SIGN_PASSWORD); prompted when missing.")
@click.option("--meaning", type=click.Choice(["approved", "reviewed", "performed"]), default="approved",
              show_default=True)
@with_appcontext
def user_set(username: str, role: str | None, sites: tuple[str, ...], no_sites: bool, full_name: str | None,
             email: str | None, activate: bool, signer: str | None, password: str | None,
             meaning: str) -> None:
    """Change a user; a change of role or sites, or a reactivation, is signed by an administrator (--by)."""
    from lims.accounts import admin

    _ready()
    privileged = role is not None or sites or no_sites or activate
    try:
        with unit_of_work(db.session):
            user = admin.get_user(db.session, username)
            by = admin.get_user(db.session, signer) if signer else None
            if privileged and (by is None or by.role != "admin" or not by.active):
                raise DomainError("a change of role, sites or a reactivation is signed by an active "
                                  "administrator: pass --by ADMIN")
            if privileged:
                password = _secret(password, f"Password of {by.username} (signs the change)",  # type: ignore[union-attr]
                                   "pass --password or set LIMS_SIGN_PASSWORD")
            change = admin.Change(full_name=full_name, email=email, role=role,
                                  site_codes=[] if no_sites else (list(sites) if sites else None),
                                  active=True if activate else None)
            signature = admin.update_user(db.session, user, change, by=by, password=password, meaning=meaning)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Updated {user.username}: {user.role}, sites {', '.join(user.site_codes) or '-'}, "
               f"{'active' if user.active else 'deactivated'}"
               + (f" (signature {signature.id})" if signature else ""))


@user_group.command("deactivate")
@click.argument("username")
@with_appcontext
def user_deactivate(username: str) -> None:
    """Deactivate a user: their sessions and API tokens stop at once."""
    from lims.accounts import admin

    _ready()
    try:
        with unit_of_work(db.session):
            user = admin.get_user(db.session, username)
            ended = admin.deactivate_user(db.session, user, by=None)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Deactivated {username}: {ended} session(s) and every API token ended.")


@user_group.command("reset")
@click.argument("username")
@click.option("--hours", default=24, show_default=True, help="How long the link works.")
@click.option("--base-url", default=None, help="The address users open Trialbank at (default LIMS_BASE_URL).")
@with_appcontext
def user_reset(username: str, hours: int, base_url: str | None) -> None:
    """Withdraw a user's password and print a one-time link to set a new one."""
    from lims.accounts import admin

    _ready()
    try:
        with unit_of_work(db.session):
            user = admin.get_user(db.session, username)
            token = admin.issue_reset(db.session, user, by=None, hours=hours)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    base = (base_url or current_app.config.get("BASE_URL") or "http://127.0.0.1:5000").rstrip("/")
    click.echo(f"Password of {username} withdrawn; hand over this link (valid {hours} h, once):")
    click.echo(f"{base}/reset/{token}")


commands = [user_group]
