"""``lims audit``: verify custody, anchor a checkpoint outside the database, rotate the custody key."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

_FILE = click.Path(dir_okay=False, path_type=Path)


@click.group("audit")
def audit_group() -> None:
    """Custody integrity: verify every chain, anchor checkpoints, rotate the key."""


@audit_group.command("verify")
@click.option("--anchor-file", type=_FILE, default=None,
              help="Anchor file to check against (default: LIMS_CUSTODY_ANCHOR_FILE or "
                   "instance/custody-anchors.log).")
@click.option("--key-file", type=_FILE, default=None,
              help="Custody key file (default: LIMS_CUSTODY_KEY_FILE or instance/custody_key).")
@click.option("--anchors", default=20, show_default=True,
              help="How many of the newest anchor lines to check.")
@click.option("--show", default=50, show_default=True, help="How many problems to list.")
@with_appcontext
def verify_command(anchor_file: Path | None, key_file: Path | None, anchors: int, show: int) -> None:
    """Walk every sample's chain and the checkpoints; check the newest anchors; name each damaged place."""
    from lims.custody.verify import verify_chain
    from lims.extensions import db

    report = verify_chain(db.session, key_file=key_file, anchor_file=anchor_file, anchors=anchors)
    summary = (f"{report.events} events in {report.chains} chains, {report.checkpoints} checkpoints, "
               f"{report.anchors} anchor lines")
    if report.ok:
        newest = report.newest_anchor
        click.echo(f"Custody chain intact: {summary} verified." + (
            f" Newest anchor: checkpoint #{newest.checkpoint} of {newest.at:%Y-%m-%d %H:%M} UTC." if newest
            else ""))
        for note in report.notes:
            click.echo(f"Note: {note}")
        return
    click.echo(f"Custody chain BROKEN: {report.problem_count} problem(s) found in {summary}:", err=True)
    for problem in report.problems[:show]:
        click.echo(f"  {problem.describe()}", err=True)
    if report.problem_count > show:
        click.echo(f"  ... and {report.problem_count - show} more", err=True)
    sys.exit(1)


@audit_group.command("anchor")
@click.option("--anchor-file", type=_FILE, default=None,
              help="Append-only file outside the database (default: LIMS_CUSTODY_ANCHOR_FILE or "
                   "instance/custody-anchors.log).")
@click.option("--max-heads", type=click.IntRange(min=1), default=None,
              help="Seal at most this many changed chain heads (the rest go into the next checkpoint).")
@with_appcontext
def anchor_command(anchor_file: Path | None, max_heads: int | None) -> None:
    """Seal the chain heads changed since the last checkpoint and append the checkpoint to the anchor file."""
    from lims.core.errors import DomainError
    from lims.custody import keys
    from lims.custody.anchors import write_anchor
    from lims.extensions import db

    path = anchor_file or keys.anchor_file()
    try:
        anchor = write_anchor(db.session, anchor_file=path, limit=max_heads)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    click.echo(f"Checkpoint #{anchor.checkpoint} seals {anchor.heads} changed chain heads; appended to "
               f"{path}:")
    click.echo(anchor.line)
    click.echo("Keep a copy of this line outside this machine too (print it, or e-mail it to your QA "
               "contact).")


@audit_group.command("rotate-key")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def rotate_key_command(yes: bool) -> None:
    """Seal the current heads with the old key, then start a new key epoch in the key file."""
    from lims.core.errors import DomainError
    from lims.custody import keys
    from lims.custody.anchors import write_anchor
    from lims.custody.service import writing_keyring
    from lims.extensions import db

    path = keys.key_file()
    if not yes and not click.confirm(f"Add a new key epoch to {path}? Every app server must read the new "
                                     "file."):
        raise click.ClickException("nothing was rotated")
    try:
        anchor = write_anchor(db.session)
        db.session.commit()
        keys.add_epoch(path)
        keyring = writing_keyring(db.session)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    click.echo(f"Checkpoint #{anchor.checkpoint} sealed the old epoch: {anchor.line}")
    click.echo(f"Custody key epoch {keyring.epoch} started (key {keys.fingerprint(keyring.key)}) in {path}. "
               "Old lines stay in the file: they verify old events. Back up the new file offline.")


commands = [audit_group]
