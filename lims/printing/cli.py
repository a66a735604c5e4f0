"""``lims printing send``: the queue runner (jobs left queued, e.g. after a restart)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext


@click.group("printing")
def printing_group() -> None:
    """Label printers and the print queue."""


@printing_group.command("send")
@click.option("--limit", default=100, show_default=True, help="Send at most this many queued jobs.")
@with_appcontext
def send_command(limit: int) -> None:
    """Send every queued print job, oldest first, and report each job's status."""
    from lims.extensions import db
    from lims.printing.service import send_queued

    results = send_queued(db.session, limit=limit)
    for job_id, status in results.items():
        click.echo(f"job {job_id}: {status}")
    if not results:
        click.echo("no queued print jobs")
    if any(status == "failed" for status in results.values()):
        raise SystemExit(1)


commands = [printing_group]
