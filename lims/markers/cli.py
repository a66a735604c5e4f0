"""``lims export`` (linked dataset, same code path as the web form) and ``lims markers`` (imports)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from flask.cli import with_appcontext

from lims.core.uow import unit_of_work


def _user(username: str, *actions: str) -> Any:
    """Return the active user ``username`` if the permission table allows one of ``actions``."""
    from sqlalchemy import select

    from lims.accounts.models import User
    from lims.core.permissions import PERMISSIONS, allowed
    from lims.extensions import db

    user = db.session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    if user is None:
        raise click.ClickException(f"no active user {username!r}")
    if not any(allowed(user.role, action) for action in actions):
        roles = sorted({r for a in actions for r in PERMISSIONS[a].roles})
        raise click.ClickException(f"user {username} is a {user.role}; this needs one of {', '.join(roles)}")
    return user


def _split(values: tuple[str, ...]) -> list[str]:
    from lims.markers.export import parse_list

    return [item for value in values for item in parse_list(value)]


@click.command("export")
@click.option("--user", "username", required=True,
              help="Who exports (recorded; the role decides about dates).")
@click.option("--marker", "markers", multiple=True,
              help="Marker code(s), repeatable or comma separated; all if omitted.")
@click.option("--timepoint", "timepoints", multiple=True, help="Time point code(s); all if omitted.")
@click.option("--sample-type", "sample_types", multiple=True, help="Sample type code(s); all if omitted.")
@click.option("--participant", "participants", multiple=True, help="Study ID(s); all if omitted.")
@click.option("--stratum", "strata", multiple=True, help="Stratum code(s); all if omitted.")
@click.option("--outcome", "outcomes", multiple=True, help="Endpoint column(s); the standard set if omitted.")
@click.option("--no-outcomes", is_flag=True, help="Leave the derived endpoints out.")
@click.option("--form", type=click.Choice(["long", "wide"]), default="long", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "parquet"]), default="csv",
              show_default=True)
@click.option("--dates", is_flag=True,
              help="Calendar dates instead of study days only (PI and data manager).")
@click.option("--dfs-variant", type=click.Choice(["A", "B"]), default=None,
              help="DFS variant; study default if omitted.")
@click.option("--out", "out_path", type=click.Path(dir_okay=True, path_type=Path), default=Path("."),
              show_default=True, help="Zip file or folder to write it into.")
@with_appcontext
def export_command(username: str, markers: tuple[str, ...], timepoints: tuple[str, ...],
                   sample_types: tuple[str, ...], participants: tuple[str, ...], strata: tuple[str, ...],
                   outcomes: tuple[str, ...], no_outcomes: bool, form: str, fmt: str, dates: bool,
                   dfs_variant: str | None, out_path: Path) -> None:
    """Export a linked, pseudonymised marker dataset as a zip (data, dictionary, manifest)."""
    from marshmallow import ValidationError

    from lims.core.errors import DomainError
    from lims.extensions import db
    from lims.markers.export import export_dataset
    from lims.markers.schemas import ExportQuerySchema
    from lims.studies.service import get_study

    user = _user(username, "export.dataset")
    data: dict[str, Any] = {"markers": _split(markers), "timepoints": _split(timepoints),
                            "sample_types": _split(sample_types), "participants": _split(participants),
                            "strata": _split(strata), "form": form, "format": fmt, "dates": dates,
                            "dfs_variant": dfs_variant}
    if no_outcomes:
        data["outcomes"] = []
    elif outcomes:
        data["outcomes"] = _split(outcomes)
    try:
        with unit_of_work(db.session):
            query = ExportQuerySchema().load(data)
            result = export_dataset(db.session, get_study(db.session), query, by=user)
            target = out_path / result.filename if out_path.is_dir() else out_path
            target.write_bytes(result.content)
    except ValidationError as exc:
        raise click.ClickException(f"bad query: {exc.messages}") from None
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    rows = result.manifest["row_counts"]
    excluded = ", ".join(f"{v} {k}" for k, v in result.manifest["excluded_participants"].items() if v)
    click.echo(f"Export #{result.run.id}: {rows['rows']} rows, {rows['participants']} participants, "
               f"{rows['columns']} columns -> {target}" + (f" (excluded: {excluded})" if excluded else ""))


@click.group("markers")
def markers_group() -> None:
    """Marker catalogue and results imports."""


@markers_group.command("import-results")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--user", "username", required=True, help="Who imports (kept with the import run).")
@with_appcontext
def import_results_command(path: Path, username: str) -> None:
    """Import a results file (long CSV, wide CSV/XLSX); nothing is stored if any row is wrong."""
    from lims.extensions import db
    from lims.markers.importer import ImportFailed, import_results

    user = _user(username, "markers.import")
    try:
        with unit_of_work(db.session):
            report = import_results(db.session, path, by=user)
    except ImportFailed as exc:
        for p in exc.report.problems:
            rule = f" [rule {p.rule}]" if p.rule else ""
            click.echo(f"ERROR {p.file} row {p.row} {p.column}={p.value!r}: {p.reason}{rule}", err=True)
        click.echo(f"Nothing imported: {exc.report.problem_count} problem(s).", err=True)
        sys.exit(1)
    click.echo(f"Import #{report.import_id}: {report.results} results ({report.remeasurements} "
               f"re-measurements, {report.converted} converted, {report.qualified} qualified) from "
               f"{report.rows} rows.")


@markers_group.command("import-catalogue")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--user", "username", required=True, help="Data manager doing the import.")
@with_appcontext
def import_catalogue_command(path: Path, username: str) -> None:
    """Create or update catalogue entries from a CSV (all or nothing)."""
    from lims.extensions import db
    from lims.markers.importer import ImportFailed
    from lims.markers.service import import_catalogue

    user = _user(username, "markers.manage")
    try:
        with unit_of_work(db.session):
            count = import_catalogue(db.session, path.read_bytes(), filename=path.name, by=user)
    except ImportFailed as exc:
        for p in exc.report.problems:
            click.echo(f"ERROR {p.file} row {p.row} {p.column}={p.value!r}: {p.reason}", err=True)
        sys.exit(1)
    click.echo(f"Catalogue: {count} marker(s) saved.")


commands = [export_command, markers_group]
