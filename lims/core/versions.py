"""Data versions: a token per kind of data that changes in the same transaction as any write to it.

Whatever is derived from the clinical records (endpoints, the trial readout) or from the marker results
(analysis frames) is cached in each web worker keyed by the version read from the database at the start of the
request, so a write committed through any worker (or a CLI import, or a job) makes every worker compute
afresh, and a worker never serves what another one has replaced: no behaviour depends on which worker answers.

The one owner of the bumps is this module's session listener: any ORM flush or ``session.execute`` of an
INSERT, UPDATE or DELETE on a table of ``SOURCES`` changes the token of its kind. Writes that go round the
session (raw DB-API ``executemany`` or ``COPY``) call :func:`bump` themselves. A token is random rather than a
counter, so a rolled-back bump (a test's outer transaction, a failed request) can never be reused by a later
write with different data.
"""

from __future__ import annotations

import threading
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from sqlalchemy import Engine, event, inspect, select, update
from sqlalchemy.orm import ORMExecuteState, Session

from lims.core.models import DataVersion

T = TypeVar("T")

_CLINICAL = ("clinical_treatment", "clinical_drug_dose", "clinical_allocation", "clinical_cre",
             "clinical_surgery",
             "clinical_pathology", "clinical_disease_event", "clinical_death", "clinical_last_contact",
             "clinical_adverse_event", "clinical_qol_response", "clinical_subsequent_treatment")
_PROTOCOL = ("consent", "consent_scope", "study", "stratum", "timepoint")
# Kind of data -> table -> the columns whose change changes it (None: any write). A table watched by columns
# is a busy one where most writes do not matter: an insert (a new sample has no results yet, a new participant
# no samples) and an update that sets none of the columns (a sample stored, thawed or received; a visit marked
# collected; schedule anchors) leave the version alone, so those hot write paths never queue on its row.
SOURCES: dict[str, dict[str, frozenset[str] | None]] = {
    "clinical": dict.fromkeys((*_CLINICAL, *_PROTOCOL, "participant")),
    "markers": {**dict.fromkeys(("marker", "marker_result", "sample_type", *_PROTOCOL)),
                "participant": frozenset(("code", "study_id", "site_id", "enrolled_on")),
                "sample": frozenset(("participant_id", "visit_id", "sample_type_id", "collected_at")),
                "visit": frozenset(("participant_id", "timepoint_id"))},
}
_BUMPED = "lims.versions.bumped"
_PAUSED = "lims.versions.paused"
_CACHE_SIZE = 32


def pause(session: Session) -> None:
    """Leave this session's writes unversioned: only for a database at a schema before data versions (a
    migration test writing at an old revision); everything else is versioned."""
    session.info[_PAUSED] = True


def bump(session: Session, *names: str) -> None:
    """Give each named kind of data a new version in the session's transaction (once per transaction)."""
    if session.info.get(_PAUSED):
        return
    done = session.info.setdefault(_BUMPED, set())
    conn = session.connection()
    for name in names:
        if name in done:
            continue
        token = uuid.uuid4().hex
        if conn.execute(update(DataVersion).where(DataVersion.name == name)
                        .values(version=token)).rowcount == 0:
            conn.execute(DataVersion.__table__.insert().values(name=name, version=token))
        done.add(name)


def current(session: Session, *names: str) -> tuple[str, ...]:
    """Return the versions of the named kinds of data, as this transaction sees them ("" = never written)."""
    found = dict(session.execute(select(DataVersion.name, DataVersion.version)
                                 .where(DataVersion.name.in_(names))).all())
    return tuple(found.get(n, "") for n in names)


def _kinds(table: str, write: str, columns: Iterable[str] = ()) -> set[str]:
    """The kinds a write (insert, update setting ``columns``, or delete) to ``table`` changes."""
    kinds = set()
    for kind, tables in SOURCES.items():
        if table not in tables:
            continue
        watched = tables[table]
        if watched is None or write == "delete" or (write == "update" and watched & set(columns)):
            kinds.add(kind)
    return kinds


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _flush_context: Any) -> None:
    kinds: set[str] = set()
    for write, objects in (("insert", session.new), ("delete", session.deleted)):
        for obj in objects:
            table = getattr(obj, "__tablename__", None)
            if table is not None:
                kinds |= _kinds(table, write)
    for obj in session.dirty:
        table = getattr(obj, "__tablename__", None)
        if table is None or not _kinds(table, "delete") - kinds:  # nothing more this table could change
            continue
        state = inspect(obj)
        changed = [prop.columns[0].name for prop in state.mapper.column_attrs
                   if state.attrs[prop.key].history.has_changes()]
        if changed:
            kinds |= _kinds(table, "update", changed)
    if kinds:
        bump(session, *sorted(kinds))


def _set_columns(state: ORMExecuteState) -> list[str] | None:
    """The columns an UPDATE sets (from its VALUES and its executemany parameters); None if unknown."""
    try:
        names = [getattr(c, "key", c) for c in (state.statement._values or {})]  # type: ignore[attr-defined]
    except AttributeError:
        return None
    params = state.parameters
    for row in params if isinstance(params, list) else [params or {}]:
        names.extend(row)
    return [str(n) for n in names]


@event.listens_for(Session, "do_orm_execute")
def _bulk_write(state: ORMExecuteState) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(getattr(state.statement, "table", None), "name", None)
    if table is None or table == DataVersion.__tablename__:
        return
    if state.is_update:
        columns = _set_columns(state)
        kinds = _kinds(table, "delete") if columns is None else _kinds(table, "update", columns)
    else:
        kinds = _kinds(table, "insert" if state.is_insert else "delete")
    if kinds:
        bump(state.session, *sorted(kinds))


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, _transaction: Any) -> None:
    session.info.pop(_BUMPED, None)


class VersionedCache:
    """A small per-process LRU of derived data keyed by the data versions it was computed from.

    The key holds the versions read in the caller's transaction and the database (engine) it came from, so an
    entry is served only while the data it was derived from are unchanged: correct whichever worker answers.
    """

    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._databases: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()

    def get(self, session: Session, kinds: tuple[str, ...], key: tuple[Any, ...],
            compute: Callable[[], T]) -> T:
        """Return ``compute()`` for ``key``, kept while the versions of ``kinds`` stay as they are."""
        engine = session.get_bind()
        engine = getattr(engine, "engine", engine)
        with self._lock:
            database = self._databases.setdefault(engine, uuid.uuid4().hex)  # type: ignore[arg-type]
        full = (database, key, current(session, *kinds))
        with self._lock:
            if full in self._entries:
                self._entries.move_to_end(full)
                return self._entries[full]
        value = compute()
        with self._lock:
            self._entries[full] = value
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        """Forget every entry (tests, memory pressure)."""
        with self._lock:
            self._entries.clear()
