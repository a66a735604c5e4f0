"""Custody: keyed per-sample chains, chain heads, checkpoints and key epochs (no global head row)

Revision ID: 7ae791138672
Revises: b3e7c41a9d02
Create Date: 2026-12-02 09:30:00

Existing events move from the one global SHA-256 chain to one HMAC-SHA256 chain per sample:

- The old chain is verified first. If it is broken (an event altered, missing or unreadable) the migration stops
  and names the event, because re-sealing it with the key would launder the damage. An operator who has
  investigated and accepts the damage may set ``LIMS_CUSTODY_ACCEPT_BROKEN_CHAIN=1`` to re-seal as it stands.
- Each sample's events keep their old order and ids; ``seq`` becomes their place in the sample's chain (1, 2,
  3...), each is MACed with the custody key over the previous event of the same sample, and ``custody_chain`` gets
  the head. The table is rebuilt from a plain copy (SQLite cannot drop its constraints in place while its rows
  reference each other through ``corrects_id``).
- The key is found through the same configuration as the app (``lims.custody.keys``): the app's config when
  run by ``lims db upgrade``, else ``LIMS_CUSTODY_KEY_FILE``, else ``custody_key`` in ``LIMS_INSTANCE_PATH``.
  It is created (mode 600) if it does not exist yet. When no instance folder is configured (plain ``alembic
  upgrade`` without those variables) and there are events to re-seal, the migration stops and says so rather
  than seal them with a key the app would not find; with no events there is nothing to seal and no key is needed.
- Nothing is anchored yet: run ``lims audit anchor`` after upgrading (and on a schedule).

The append-only triggers on custody_event are kept (re-created after its table is rebuilt); epochs, checkpoints
and checkpoint heads get the same guard; chain heads may only move forward (no DELETE, no rewind).
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

import lims.core.db
from lims.custody import chain, keys
from lims.custody.report import as_json, as_time

revision = '7ae791138672'
down_revision = "b3e7c41a9d02"
branch_labels = None
depends_on = None

BATCH = 2000
ACTION_CHECK = ("action IN ('collected', 'missed', 'received', 'processed', 'aliquoted', 'derived', 'pooled', "
                "'stored', 'moved', 'checked_out', 'checked_in', 'thawed', 'shipped', 'shipment_received', "
                "'consumed', 'disposed', 'label_printed', 'quarantined', 'released', 'correction')")
APPEND_ONLY = ("custody_epoch", "custody_checkpoint", "custody_checkpoint_head")

COMMON = ("id", "seq", "sample_id", "action", "at", "user_id", "site_code", "from_location", "to_location", "reason",
          "details", "corrects_id")


def _events(name: str, *extra: str) -> sa.TableClause:
    # Raw column types: times and JSON are read as stored, so a malformed row is named, not a crash.
    return sa.table(name, *(sa.column(c, sa.Integer if c in ("id", "seq", "sample_id", "user_id", "corrects_id",
                                                             "epoch") else sa.String) for c in COMMON + extra))


HOLD = "custody_event_old"
OLD_EVENTS = _events("custody_event", "prev_hash", "hash")
NEW_EVENTS = _events("custody_event", "epoch", "prev_mac", "mac")
HEADS = sa.table("custody_chain", sa.column("sample_id", sa.Integer), sa.column("seq", sa.Integer),
                 sa.column("mac", sa.String))
EPOCHS = sa.table("custody_epoch", sa.column("number", sa.Integer), sa.column("fingerprint", sa.String),
                  sa.column("started_at", lims.core.db.UTCDateTime(timezone=True)))
OLD_HEAD = sa.table("custody_head", sa.column("id", sa.Integer), sa.column("seq", sa.Integer),
                    sa.column("hash", sa.String))


def _sqlite_guard() -> list[str]:
    sql = [f"CREATE TRIGGER custody_event_no_{op_} BEFORE {op_.upper()} ON custody_event "
           f"BEGIN SELECT RAISE(ABORT, 'custody events are append-only: {op_.upper()} refused'); END"
           for op_ in ("update", "delete")]
    sql += [f"CREATE TRIGGER {t}_no_{op_} BEFORE {op_.upper()} ON {t} "
            f"BEGIN SELECT RAISE(ABORT, '{t} is append-only: {op_.upper()} refused'); END"
            for t in APPEND_ONLY for op_ in ("update", "delete")]
    return sql + [
        ("CREATE TRIGGER custody_chain_no_rewind BEFORE UPDATE ON custody_chain "
         "WHEN NEW.sample_id != OLD.sample_id OR NEW.seq < OLD.seq OR (NEW.seq = OLD.seq AND NEW.mac != OLD.mac) "
         "BEGIN SELECT RAISE(ABORT, 'custody chain heads only move forward: UPDATE refused'); END"),
        ("CREATE TRIGGER custody_chain_no_delete BEFORE DELETE ON custody_chain "
         "BEGIN SELECT RAISE(ABORT, 'custody chain heads are kept: DELETE refused'); END"),
    ]


def _postgres_guard() -> list[str]:
    sql = [
        ("CREATE FUNCTION custody_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
         "BEGIN RAISE EXCEPTION 'custody events are append-only: % refused', TG_OP "
         "USING ERRCODE = 'insufficient_privilege'; END $$"),
        ("CREATE TRIGGER custody_event_no_change BEFORE UPDATE OR DELETE ON custody_event "
         "FOR EACH ROW EXECUTE FUNCTION custody_event_append_only()"),
        ("CREATE TRIGGER custody_event_no_truncate BEFORE TRUNCATE ON custody_event "
         "FOR EACH STATEMENT EXECUTE FUNCTION custody_event_append_only()"),
        ("CREATE FUNCTION custody_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
         "BEGIN RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP "
         "USING ERRCODE = 'insufficient_privilege'; END $$"),
        ("CREATE FUNCTION custody_chain_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
         "IF TG_OP <> 'UPDATE' THEN RAISE EXCEPTION 'custody chain heads are kept: % refused', TG_OP "
         "USING ERRCODE = 'insufficient_privilege'; END IF; "
         "IF NEW.sample_id <> OLD.sample_id OR NEW.seq < OLD.seq OR (NEW.seq = OLD.seq AND NEW.mac <> OLD.mac) "
         "THEN RAISE EXCEPTION 'custody chain heads only move forward: UPDATE refused' "
         "USING ERRCODE = 'insufficient_privilege'; END IF; RETURN NEW; END $$"),
        ("CREATE TRIGGER custody_chain_forward_only BEFORE UPDATE OR DELETE ON custody_chain "
         "FOR EACH ROW EXECUTE FUNCTION custody_chain_forward_only()"),
        ("CREATE TRIGGER custody_chain_no_truncate BEFORE TRUNCATE ON custody_chain "
         "FOR EACH STATEMENT EXECUTE FUNCTION custody_chain_forward_only()"),
    ]
    for t in APPEND_ONLY:
        sql += [(f"CREATE TRIGGER {t}_no_change BEFORE UPDATE OR DELETE ON {t} "
                 "FOR EACH ROW EXECUTE FUNCTION custody_append_only()"),
                (f"CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} "
                 "FOR EACH STATEMENT EXECUTE FUNCTION custody_append_only()")]
    return sql


def _drop_guards(*, new: bool) -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        names = ["custody_event_no_update", "custody_event_no_delete"]
        if new:
            names += [f"{t}_no_{o}" for t in APPEND_ONLY for o in ("update", "delete")]
            names += ["custody_chain_no_rewind", "custody_chain_no_delete"]
        for name in names:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    elif dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS custody_event_append_only() CASCADE")
        if new:
            op.execute("DROP FUNCTION IF EXISTS custody_append_only() CASCADE")
            op.execute("DROP FUNCTION IF EXISTS custody_chain_forward_only() CASCADE")


def _guard(sql: list[str]) -> None:
    for statement in sql:
        op.execute(statement)


def _old_hash(row: Any, prev: str, seq: int) -> str:
    """The hash of the chain this migration replaces (canonical JSON, SHA-256), frozen here."""
    at = as_time(row.at)
    fields = {"seq": seq, "sample_id": row.sample_id, "action": row.action,
              "at": at.isoformat(timespec="microseconds") if at else None, "user_id": row.user_id,
              "site_code": row.site_code, "from": row.from_location, "to": row.to_location, "reason": row.reason,
              "details": as_json(row.details)[1] or {}, "corrects_id": row.corrects_id, "prev_hash": prev}
    return hashlib.sha256(json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
                          .encode("utf-8")).hexdigest()


def _old_chain_problem(bind: sa.Connection) -> str | None:
    """Walk the old global chain; say where it is broken, or None."""
    events = OLD_EVENTS
    prev, expected, last = "0" * 64, 1, 0
    while True:
        rows = bind.execute(sa.select(events).where(events.c.seq > last).order_by(events.c.seq).limit(BATCH)).all()
        for row in rows:
            where = f"custody event #{expected} (id {row.id})"
            if row.seq != expected:
                return f"custody event #{expected} is missing (next is #{row.seq})"
            if as_time(row.at) is None or not as_json(row.details)[0]:
                return f"{where} is malformed (time {row.at!r}, details {str(row.details)[:40]!r})"
            if row.prev_hash != prev or _old_hash(row, row.prev_hash, row.seq) != row.hash:
                return f"{where} does not match its hash or its link (altered)"
            prev, expected = row.hash, expected + 1
        if not rows:
            break
        last = rows[-1].seq
    head = bind.execute(sa.select(OLD_HEAD.c.seq, OLD_HEAD.c.hash)).first()
    if head is not None and (head.seq != expected - 1 or head.hash != prev):
        return f"the chain ends at #{expected - 1} but its head says #{head.seq}"
    return None


def _keyring_for_existing_events(bind: sa.Connection) -> keys.Keyring | None:
    """Check the old chain and find the key, when there are events to re-seal."""
    from flask import has_app_context

    if not bind.scalar(sa.select(sa.func.count()).select_from(OLD_EVENTS)):
        return None
    if not (has_app_context() or os.environ.get("LIMS_CUSTODY_KEY_FILE") or os.environ.get("LIMS_INSTANCE_PATH")):
        raise RuntimeError(
            "custody events must be re-sealed with the custody key, but no instance folder is configured: run "
            "'lims db upgrade' (it uses the app's configuration), or set LIMS_INSTANCE_PATH or "
            "LIMS_CUSTODY_KEY_FILE to what the app uses")
    problem = _old_chain_problem(bind)
    if problem and os.environ.get("LIMS_CUSTODY_ACCEPT_BROKEN_CHAIN") != "1":
        raise RuntimeError(f"the custody chain is broken: {problem}. Investigate before upgrading; to re-seal it "
                           "as it stands, set LIMS_CUSTODY_ACCEPT_BROKEN_CHAIN=1")
    path = keys.key_file()
    return keys.read_keyring(path) or keys.create_keyring(path)


def _hold_events() -> None:
    """Move the events aside (a plain copy without constraints) so custody_event can be rebuilt."""
    op.execute(f"CREATE TABLE {HOLD} AS SELECT * FROM custody_event")
    op.execute(f"CREATE INDEX ix_{HOLD}_sample_id ON {HOLD} (sample_id, seq)")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite's DROP TABLE deletes row by row and checks each against corrects_id: index it, or it is quadratic.
        op.execute("CREATE INDEX ix_custody_event_corrects_id ON custody_event (corrects_id)")
    op.drop_table("custody_event")


def _restore_ids() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SELECT setval(pg_get_serial_sequence('custody_event', 'id'), COALESCE(MAX(id), 1), "
                   "MAX(id) IS NOT NULL) FROM custody_event")
    op.drop_table(HOLD)


def _reseal(bind: sa.Connection, keyring: keys.Keyring) -> None:
    """Give each sample's events their place in its chain and MAC them with the key, in their old order."""
    hold = _events(HOLD, "prev_hash", "hash")
    bind.execute(sa.insert(EPOCHS), [{"number": keyring.epoch, "fingerprint": keys.fingerprint(keyring.key),
                                      "started_at": datetime.now(UTC)}])
    columns = ", ".join(COMMON)
    op.execute(f"INSERT INTO custody_event ({columns}, epoch, prev_mac, mac) "
               f"SELECT {columns}, {int(keyring.epoch)}, '', '' FROM {HOLD}")
    # Where each corrected event lands in its new chain (corrections are few).
    ranked = sa.select(hold.c.id, hold.c.sample_id, sa.func.row_number().over(
        partition_by=hold.c.sample_id, order_by=hold.c.seq).label("rank")).subquery()
    corrected = {r.id: (r.sample_id, r.rank) for r in bind.execute(sa.select(ranked).where(
        ranked.c.id.in_(sa.select(hold.c.corrects_id).where(hold.c.corrects_id.is_not(None)))))}
    last = 0
    while True:
        samples = bind.execute(sa.select(hold.c.sample_id).distinct().where(hold.c.sample_id > last)
                               .order_by(hold.c.sample_id).limit(BATCH)).scalars().all()
        if not samples:
            return
        rows = bind.execute(sa.select(hold).where(hold.c.sample_id.between(samples[0], samples[-1]))
                            .order_by(hold.c.sample_id, hold.c.seq)).all()
        _reseal_batch(bind, rows, keyring, corrected)
        last = samples[-1]


def _reseal_batch(bind: sa.Connection, rows: list[Any], keyring: keys.Keyring,
                  corrected: dict[int, tuple[int, int]]) -> None:
    updates, heads = [], {}
    sample, seq, prev = None, 0, chain.GENESIS
    for row in rows:
        if row.sample_id != sample:
            sample, seq, prev = row.sample_id, 0, chain.GENESIS
        seq += 1
        at, (is_json, details) = as_time(row.at), as_json(row.details)
        if at is None or not is_json:
            raise RuntimeError(f"custody event id {row.id} is malformed (time {row.at!r}): it cannot be re-sealed")
        content = chain.event_content(
            sample_id=sample, seq=seq, epoch=keyring.epoch, action=row.action, at=at, user_id=row.user_id,
            site_code=row.site_code, from_location=row.from_location, to_location=row.to_location,
            reason=row.reason, details=details,
            corrects=corrected.get(row.corrects_id) if row.corrects_id is not None else None)
        mac = chain.event_mac(keyring.key, prev, content)
        updates.append({"row_id": row.id, "new_seq": seq, "new_prev": prev, "new_mac": mac})
        heads[sample] = {"sample_id": sample, "seq": seq, "mac": mac}
        prev = mac
    # In chain order: a row only takes a number its own sample's earlier rows have already given up.
    bind.execute(sa.update(NEW_EVENTS).where(NEW_EVENTS.c.id == sa.bindparam("row_id")).values(
        seq=sa.bindparam("new_seq"), prev_mac=sa.bindparam("new_prev"), mac=sa.bindparam("new_mac")), updates)
    bind.execute(sa.insert(HEADS), list(heads.values()))


def _create_tables() -> None:
    op.create_table('custody_epoch',
    sa.Column('number', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('fingerprint', sa.String(length=16), nullable=False),
    sa.Column('started_at', lims.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('number >= 1', name=op.f('ck_custody_epoch_number')),
    sa.PrimaryKeyConstraint('number', name=op.f('pk_custody_epoch'))
    )
    op.create_table('custody_checkpoint_head',
    sa.Column('checkpoint_number', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('sample_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('mac', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('checkpoint_number', 'sample_id', name=op.f('pk_custody_checkpoint_head'))
    )
    op.create_table('custody_checkpoint',
    sa.Column('number', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', lims.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('epoch', sa.Integer(), nullable=False),
    sa.Column('heads', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('prev_mac', sa.String(length=64), nullable=False),
    sa.Column('mac', sa.String(length=64), nullable=False),
    sa.CheckConstraint('heads >= 0', name=op.f('ck_custody_checkpoint_heads')),
    sa.CheckConstraint('number >= 1', name=op.f('ck_custody_checkpoint_number')),
    sa.ForeignKeyConstraint(['epoch'], ['custody_epoch.number'], name=op.f('fk_custody_checkpoint_epoch_custody_epoch')),
    sa.PrimaryKeyConstraint('number', name=op.f('pk_custody_checkpoint'))
    )
    op.create_table('custody_chain',
    sa.Column('sample_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('mac', sa.String(length=64), nullable=False),
    sa.Column('checkpoint_number', sa.Integer(), nullable=True),
    sa.CheckConstraint('seq >= 1', name=op.f('ck_custody_chain_seq')),
    sa.ForeignKeyConstraint(['checkpoint_number'], ['custody_checkpoint.number'], name=op.f('fk_custody_chain_checkpoint_number_custody_checkpoint')),
    sa.ForeignKeyConstraint(['sample_id'], ['sample.id'], name=op.f('fk_custody_chain_sample_id_sample')),
    sa.PrimaryKeyConstraint('sample_id', name=op.f('pk_custody_chain'))
    )
    with op.batch_alter_table('custody_chain', schema=None) as batch_op:
        batch_op.create_index('ix_custody_chain_unanchored', ['checkpoint_number', 'sample_id'], unique=False)


def _create_events_table() -> None:
    op.create_table('custody_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('epoch', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('at', lims.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('site_code', sa.String(length=10), nullable=True),
    sa.Column('from_location', sa.Text(), nullable=True),
    sa.Column('to_location', sa.Text(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('corrects_id', sa.Integer(), nullable=True),
    sa.Column('prev_mac', sa.String(length=64), nullable=False),
    sa.Column('mac', sa.String(length=64), nullable=False),
    sa.CheckConstraint(ACTION_CHECK, name=op.f('ck_custody_event_action')),
    sa.CheckConstraint('seq >= 1', name=op.f('ck_custody_event_seq')),
    sa.ForeignKeyConstraint(['corrects_id'], ['custody_event.id'], name=op.f('fk_custody_event_corrects_id_custody_event')),
    sa.ForeignKeyConstraint(['sample_id'], ['sample.id'], name=op.f('fk_custody_event_sample_id_sample')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_custody_event_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_custody_event')),
    sa.UniqueConstraint('sample_id', 'seq', name=op.f('uq_custody_event_sample_id_seq'))
    )


def _create_old_events_table() -> None:
    op.create_table('custody_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('at', lims.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('site_code', sa.String(length=10), nullable=True),
    sa.Column('from_location', sa.Text(), nullable=True),
    sa.Column('to_location', sa.Text(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('corrects_id', sa.Integer(), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.CheckConstraint(ACTION_CHECK, name=op.f('ck_custody_event_action')),
    sa.CheckConstraint('seq >= 1', name=op.f('ck_custody_event_seq')),
    sa.ForeignKeyConstraint(['corrects_id'], ['custody_event.id'], name=op.f('fk_custody_event_corrects_id_custody_event')),
    sa.ForeignKeyConstraint(['sample_id'], ['sample.id'], name=op.f('fk_custody_event_sample_id_sample')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_custody_event_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_custody_event')),
    sa.UniqueConstraint('hash', name=op.f('uq_custody_event_hash')),
    sa.UniqueConstraint('prev_hash', name=op.f('uq_custody_event_prev_hash')),
    sa.UniqueConstraint('seq', name=op.f('uq_custody_event_seq'))
    )
    with op.batch_alter_table('custody_event', schema=None) as batch_op:
        batch_op.create_index('ix_custody_event_sample_seq', ['sample_id', 'seq'], unique=False)


def _guard_for(dialect: str) -> list[str]:
    return _sqlite_guard() if dialect == "sqlite" else _postgres_guard() if dialect == "postgresql" else []


def upgrade() -> None:
    bind = op.get_bind()
    _drop_guards(new=False)
    keyring = _keyring_for_existing_events(bind)
    _create_tables()
    _hold_events()
    _create_events_table()
    if keyring is not None:
        _reseal(bind, keyring)
    _restore_ids()
    op.drop_table('custody_head')
    _guard(_guard_for(bind.dialect.name))


def _unseal(bind: sa.Connection) -> None:
    """Rebuild the old global SHA-256 chain, in the order events were written (id)."""
    hold = _events(HOLD, "epoch", "prev_mac", "mac")
    columns = ", ".join(c for c in COMMON if c != "seq")
    op.execute(f"INSERT INTO custody_event ({columns}, seq, prev_hash, hash) "
               f"SELECT {columns}, id, 'p' || id, 'h' || id FROM {HOLD}")
    prev, seq, last = "0" * 64, 0, 0
    while True:
        rows = bind.execute(sa.select(hold).where(hold.c.id > last).order_by(hold.c.id).limit(BATCH)).all()
        if not rows:
            break
        updates = []
        for row in rows:
            seq += 1
            digest = _old_hash(row, prev, seq)
            updates.append({"row_id": row.id, "new_seq": seq, "new_prev": prev, "new_hash": digest})
            prev = digest
        bind.execute(sa.update(OLD_EVENTS).where(OLD_EVENTS.c.id == sa.bindparam("row_id")).values(
            seq=sa.bindparam("new_seq"), prev_hash=sa.bindparam("new_prev"), hash=sa.bindparam("new_hash")),
            updates)
        last = rows[-1].id
    if seq:
        bind.execute(sa.insert(OLD_HEAD), [{"id": 1, "seq": seq, "hash": prev}])


def downgrade() -> None:
    bind = op.get_bind()
    _drop_guards(new=True)
    op.create_table('custody_head',
    sa.Column('id', sa.INTEGER(), nullable=False),
    sa.Column('seq', sa.INTEGER(), nullable=False),
    sa.Column('hash', sa.VARCHAR(length=64), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_custody_head_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_custody_head'))
    )
    _hold_events()
    _create_old_events_table()
    _unseal(bind)
    _restore_ids()
    with op.batch_alter_table('custody_chain', schema=None) as batch_op:
        batch_op.drop_index('ix_custody_chain_unanchored')
    op.drop_table('custody_chain')
    op.drop_table('custody_checkpoint')
    op.drop_table('custody_checkpoint_head')
    op.drop_table('custody_epoch')
    _guard(_guard_for(bind.dialect.name)[:2 if bind.dialect.name == "sqlite" else 3])
