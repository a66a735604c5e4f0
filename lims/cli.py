"""The ``lims`` command: database, demo data, users, audit and the development server."""

from __future__ import annotations

from typing import Any

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from flask_smorest.spec import openapi_cli

from lims import create_app
from lims.core.errors import DomainError
from lims.core.uow import unit_of_work
from lims.extensions import db


def _create_app(*_: Any) -> Any:
    return create_app()


class LimsGroup(FlaskGroup):
    """The ``lims`` group: its commands are listed without building the app, so ``lims --help`` is quick.

    Flask lists the commands of ``app.cli`` too, which means building the whole app; here every command is
    on this group (the domains' below, flask-smorest's ``openapi``), and plugins come from their entry
    points as in Flask. tests/test_startup.py checks that the app adds no command missing here. A command
    still builds the app when it runs (``with_appcontext``).
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugin_commands()  # the ``flask.commands`` entry points (flask-limiter's ``limiter``)
        return sorted(self.commands)


@click.group(cls=LimsGroup, create_app=_create_app, add_version_option=False, add_default_commands=False)
def main() -> None:
    """Trialbank LIMS: manage the database, demo data and users, and serve the app."""


main.add_command(openapi_cli)  # flask-smorest adds it to app.cli; listed here without the app


@main.group("db")
def db_group() -> None:
    """Database schema commands."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target migration.")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Create or upgrade the database schema (safe to run again)."""
    from lims.core.migrate import current_revision, head_revision, upgrade

    url = current_app.config["DATABASE_URL"]
    before = current_revision(db.engine)
    upgrade(url, revision)
    after = current_revision(db.engine)
    target = head_revision(url) if revision == "head" else revision
    if before == after:
        click.echo(f"Database already at {after} ({_safe_url(url)}); nothing to do.")
    else:
        click.echo(f"Database upgraded from {before or 'empty'} to {after} (head {target}) at "
                   f"{_safe_url(url)}.")


@db_group.command("current")
@with_appcontext
def db_current() -> None:
    """Print the schema revision of the database."""
    from lims.core.migrate import current_revision, head_revision

    current = current_revision(db.engine)
    head = head_revision(current_app.config["DATABASE_URL"])
    click.echo(f"{current or 'empty'} (head {head}){'' if current == head else ' - run: lims db upgrade'}")


def _require_schema() -> None:
    from lims.core.migrate import require_schema  # Alembic is imported only by the commands that need it

    require_schema()


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@main.command("demo")
@click.option("--seed", default=20261124, show_default=True, help="Random seed of the generator.")
@click.option("--participants", default=120, show_default=True, help="How many participants to enrol.")
@with_appcontext
def demo(seed: int, participants: int) -> None:
    """Load the demo trial (harmless if it is already loaded)."""
    from lims import demo as demo_module
    from lims.custody.anchors import write_anchor

    _require_schema()
    try:
        with unit_of_work(db.session):
            summary = demo_module.load(db.session, seed=seed, participants=participants,
                                       instance_path=current_app.instance_path,
                                       protocol_path=current_app.config["PROTOCOL_FILE"])
            if summary.created:
                # anchored, so 'lims audit verify' checks the demo's custody end to end
                write_anchor(db.session)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(summary.describe())




@main.command("backup")
@click.option("--out", "out_dir", default=None, help="Folder for the backup (default: instance/backups).")
@with_appcontext
def backup_command(out_dir: str | None) -> None:
    """Write a consistent, timestamped backup with a checksum (safe while the app runs)."""
    from pathlib import Path

    from lims.core.backup import backup

    try:
        files = backup(current_app.config["DATABASE_URL"],
                       out_dir or Path(current_app.instance_path) / "backups")
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Backup written: {files.data} (schema {files.revision}, sha256 {files.sha256}).")


@main.command("restore")
@click.argument("backup_file")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore_command(backup_file: str, yes: bool) -> None:
    """Replace the database with a backup after checking its checksum and schema version."""
    from lims.core.backup import restore, verify

    url = current_app.config["DATABASE_URL"]
    try:
        manifest = verify(backup_file, url)
        if not yes and not click.confirm(f"Replace {_safe_url(url)} with {backup_file} "
                                         f"(taken {manifest['created_at']})?"):
            raise click.ClickException("nothing was restored")
        db.engine.dispose()
        restore(backup_file, url)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Restored {backup_file} (schema {manifest['schema_revision']}). Run 'lims db upgrade' if the "
               "schema is older than this version's.")


@main.command("permissions")
@click.option("--write", "path", default=None, help="Write the Markdown table to this file.")
def permissions_command(path: str | None) -> None:
    """Print the role x action permission table (docs/permissions.md is made from it)."""
    from lims.core.permissions import markdown

    text = markdown()
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        click.echo(f"Wrote {path}.")
    else:
        click.echo(text, nl=False)


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--debug/--no-debug", default=False)
@with_appcontext
def serve(host: str, port: int, debug: bool) -> None:
    """Serve the app with the built-in server (use gunicorn in production)."""
    _require_schema()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    click.echo(f"Trialbank on http://{host}:{port}/ (database {_safe_url(app.config['DATABASE_URL'])})")
    from werkzeug.serving import run_simple

    app.debug = debug
    run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=debug)


# Each domain may add commands: ``lims/<domain>/cli.py`` with a ``commands`` list of click commands or groups.
def _add_domain_commands() -> None:
    from lims.domains import domain_modules

    for module in domain_modules("cli"):
        for command in module.commands:
            main.add_command(command)


_add_domain_commands()


if __name__ == "__main__":
    main()
