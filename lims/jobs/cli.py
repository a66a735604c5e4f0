"""``lims worker`` runs the job queue's consumer; ``lims jobs`` lists, retries, cancels and self-tests
jobs."""

from __future__ import annotations

import time

import click
from flask import current_app
from flask.cli import with_appcontext

from lims.core.uow import unit_of_work


@click.command("worker")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Jobs this process runs at once (run more workers, on more machines, to scale out).")
@click.option("--periodic/--no-periodic", default=True, show_default=True,
              help="Also enqueue the periodic work (custody anchors, retention reminders, job reaper); "
                   "one worker is enough.")
@with_appcontext
def worker_command(threads: int, periodic: bool) -> None:
    """Run a job worker until stopped (Ctrl-C or SIGTERM finishes the running jobs first)."""
    from lims.jobs.queue import queue_url, run_worker

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    click.echo(f"Trialbank worker on {queue_url(app).split('@')[-1]} with {threads} thread(s)")
    run_worker(app, threads=threads, periodic=periodic)


@click.group("jobs")
def jobs_group() -> None:
    """Background jobs."""


@jobs_group.command("list")
@click.option("--limit", default=20, show_default=True)
@with_appcontext
def list_command(limit: int) -> None:
    """List the newest jobs."""
    from lims.extensions import db
    from lims.jobs.service import recent

    for job in recent(db.session, limit=limit):
        click.echo(f"#{job.id:<6} {job.kind:<16} {job.status:<10} {job.progress:4.0%} "
                   f"{job.error or job.message or ''}")


@jobs_group.command("retry")
@click.argument("job_id", type=int)
@with_appcontext
def retry_command(job_id: int) -> None:
    """Queue a failed or cancelled job again."""
    from lims.core.errors import DomainError
    from lims.extensions import db
    from lims.jobs import queue, service

    try:
        with unit_of_work(db.session):
            service.retry(db.session, service.get_job(db.session, job_id), push=queue.pusher())
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Job #{job_id} queued again.")


@jobs_group.command("cancel")
@click.argument("job_id", type=int)
@with_appcontext
def cancel_command(job_id: int) -> None:
    """Cancel a queued or running job."""
    from lims.core.errors import DomainError
    from lims.extensions import db
    from lims.jobs import service

    try:
        with unit_of_work(db.session):
            job = service.cancel(db.session, service.get_job(db.session, job_id))
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Job #{job_id}: {job.status}.")


@jobs_group.command("selftest")
@click.option("--seconds", default=1.0, show_default=True)
@click.option("--wait", "wait_s", default=60.0, show_default=True, help="Seconds to wait for a worker.")
@with_appcontext
def selftest_command(seconds: float, wait_s: float) -> None:
    """Queue a self-test job and wait until a worker has run it (exit 1 if none does in time)."""
    from lims.extensions import db
    from lims.jobs import queue, service

    with unit_of_work(db.session):
        job = queue.enqueue(db.session, "selftest", {"seconds": seconds}, max_attempts=1)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        db.session.expire_all()
        job = service.get_job(db.session, job.id)
        db.session.rollback()
        if job.finished:
            click.echo(f"Job #{job.id} {job.status} on {job.worker}: {job.error or job.result}")
            raise SystemExit(0 if job.status == "done" else 1)
        time.sleep(0.2)
    raise click.ClickException(f"job #{job.id} is still {job.status} after {wait_s:g} s: is a worker "
                               "running?")


commands = [worker_command, jobs_group]
