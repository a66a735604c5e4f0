"""``lims clinical``: import EDC exports and Trialbank tables, export the REDCap-style CSV."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from flask.cli import with_appcontext

from lims.core.uow import unit_of_work


@click.group("clinical")
def clinical_group() -> None:
    """Clinical data: imports from the EDC and exports."""


def _signature(username: str, password: str | None, meaning: str) -> tuple[str, str]:
    """Return (password, meaning) for the import's electronic signature, prompting on a terminal."""
    if password is None:
        if not sys.stdin.isatty():
            raise click.ClickException("an import is signed: pass --password or set LIMS_SIGN_PASSWORD")
        password = click.prompt(f"Password of {username} (signs the import)", hide_input=True)
    return password, meaning


_SIGN_OPTIONS = [
    click.option("--password", envvar="LIMS_SIGN_PASSWORD", default=None,
                 help="Password of --user: the import is signed electronically (or set LIMS_SIGN_PASSWORD)."),
    click.option("--meaning", type=click.Choice(["approved", "reviewed", "performed"]), default="performed",
                 show_default=True, help="Meaning of the signature."),
]


def _sign_options(command: Any) -> Any:
    for option in reversed(_SIGN_OPTIONS):
        command = option(command)
    return command


def _user(username: str) -> Any:
    from sqlalchemy import select

    from lims.accounts.models import User
    from lims.extensions import db

    user = db.session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    if user is None:
        raise click.ClickException(f"no active user {username!r}")
    from lims.core.permissions import allowed

    if not allowed(user.role, "clinical.import"):
        raise click.ClickException(f"user {username} is a {user.role}; only data managers import clinical "
                                   "data")
    return user


class _Refused(Exception):
    """An import found problems: its unit of work rolls back."""


def _run(importer: Any, *args: Any, **kwargs: Any) -> Any:
    """Run an import as one unit of work: committed when it applies, rolled back when it is refused."""
    from lims.core.errors import DomainError
    from lims.extensions import db

    try:
        with unit_of_work(db.session):
            report = importer(*args, **kwargs)
            if not report.applied:
                raise _Refused
    except _Refused:
        pass
    except DomainError as exc:  # e.g. a wrong signature password
        raise click.ClickException(exc.message) from None
    return report


def _finish(report: Any) -> None:
    for issue in report.problems:
        where = f"{issue.file}" + (f" row {issue.row}" if issue.row else "")
        click.echo(f"ERROR {where} {issue.field}={issue.as_dict()['value']}: {issue.reason}", err=True)
    for issue in report.warnings:
        where = f"{issue.file}" + (f" row {issue.row}" if issue.row else "")
        click.echo(f"query {where} {issue.field}={issue.as_dict()['value']}: {issue.reason}", err=True)
    if not report.applied:
        click.echo(f"Nothing imported: {len(report.problems)} problem(s) in {', '.join(report.files)}.",
                   err=True)
        sys.exit(1)
    if report.changes == 0:
        click.echo(f"{report.records} records read; all already stored, nothing changed.")
    else:
        click.echo(f"Import #{report.run_id}: {report.inserted} records added, {report.updated} updated, "
                   f"{report.unchanged} unchanged ({report.changes} values written to the audit trail).")


@clinical_group.command("import-redcap")
@click.argument("export", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Mapping file (YAML); the shipped ESCC-WW mapping when omitted.")
@click.option("--user", "username", required=True, help="Data manager doing the import (kept in the audit).")
@_sign_options
@with_appcontext
def import_redcap_command(export: Path, mapping: Path | None, username: str, password: str | None,
                          meaning: str) -> None:
    """Import a REDCap flat CSV export; nothing is written if any problem is found."""
    from lims.clinical.csvfiles import decode
    from lims.clinical.redcap import import_redcap
    from lims.extensions import db
    from lims.studies.service import get_study

    report = _run(import_redcap, db.session, get_study(db.session), export.name, export.read_bytes(),
                  by=_user(username),
                           mapping_name=mapping.name if mapping else "redcap_mapping.yaml",
                           mapping_text=decode(mapping.read_bytes()) if mapping else None,
                           signature=_signature(username, password, meaning))
    _finish(report)


@clinical_group.command("import-tables")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--user", "username", required=True, help="Data manager doing the import (kept in the audit).")
@_sign_options
@with_appcontext
def import_tables_command(files: tuple[Path, ...], username: str, password: str | None, meaning: str) -> None:
    """Import Trialbank per-table CSVs (cre.csv, surgery.csv, ...) as one all-or-nothing import."""
    from lims.clinical.importer import import_tables
    from lims.extensions import db
    from lims.studies.service import get_study

    report = _run(import_tables, db.session, get_study(db.session), {f.name: f.read_bytes() for f in files},
                  by=_user(username), signature=_signature(username, password, meaning))
    _finish(report)


@clinical_group.command("redcap-sync")
@with_appcontext
def redcap_sync_command() -> None:
    """Pull the REDCap project through its API (LIMS_REDCAP_URL, LIMS_REDCAP_TOKEN) and import it now.

    Runs the same ``redcap_sync`` job the workers schedule, in this process; exit 1 if it fails.
    """
    from lims.clinical.jobs import queue_sync
    from lims.core.errors import DomainError
    from lims.extensions import db
    from lims.jobs import service

    try:
        with unit_of_work(db.session):
            job_id = queue_sync(db.session, by=None).id
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    status = service.execute(db.session, job_id, worker="cli:redcap-sync")
    job = service.get_job(db.session, job_id)
    result = job.result or {}
    if status == "done":
        click.echo(f"Job #{job_id} done: {result.get('records', 0)} records read, "
                   f"{result.get('inserted', 0)} added, {result.get('updated', 0)} updated, "
                   f"{result.get('unchanged', 0)} unchanged"
                   + (f" (import #{result['run_id']})." if result.get("run_id") else "; nothing changed."))
        return
    click.echo(f"Job #{job_id} {status}: {job.error or job.message}", err=True)
    raise SystemExit(1)


@clinical_group.command("export-redcap")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--mapping-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the mapping file the export follows.")
@with_appcontext
def export_redcap_command(out: Path, mapping_out: Path | None) -> None:
    """Write the study's clinical data as a REDCap-style flat CSV (and its mapping file)."""
    from lims.clinical.redcap import default_mapping_text, export_redcap
    from lims.extensions import db
    from lims.studies.service import get_study

    data = export_redcap(db.session, get_study(db.session))
    out.write_bytes(data)
    rows = data.count(b"\n") - 1
    click.echo(f"Wrote {rows} rows to {out}.")
    if mapping_out is not None:
        mapping_out.write_text(default_mapping_text(), encoding="utf-8")
        click.echo(f"Wrote the mapping to {mapping_out}.")


commands = [clinical_group]
