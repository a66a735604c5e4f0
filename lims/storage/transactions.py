"""The request boundary's commit, retried when SQLite reports a write collision.

SQLite allows one writer. A transaction that has read (every request reads: the user, the sample)
and then writes after another writer committed cannot upgrade its snapshot: SQLite answers
"database is locked" at once (SQLITE_BUSY_SNAPSHOT; ``busy_timeout`` only helps writers that have not
read yet). ``BEGIN IMMEDIATE`` would avoid it but must be chosen before the first read, which happens
in the login loader long before a handler knows it will write. So the boundary runs its unit of work
again from the start: the second run reads the new state and either succeeds or meets the real rule
(position taken, sample already moved). PostgreSQL never needs this: row locks and the unique index
make the second writer wait and then fail with a constraint error, which services turn into Conflict.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

T = TypeVar("T")
ATTEMPTS = 8


def is_write_collision(exc: BaseException) -> bool:
    """Tell whether an error is SQLite's 'database is locked' / 'busy' (safe to run again)."""
    text = str(getattr(exc, "orig", exc)).lower()
    return isinstance(exc, OperationalError) and ("database is locked" in text or "database is busy" in text)


def commit_with_retry(session: Session, work: Callable[[], T], *, attempts: int = ATTEMPTS) -> T:
    """Run ``work`` (which loads what it needs) and commit; on a write collision roll back and run it again."""
    for attempt in range(1, attempts + 1):
        try:
            result = work()
            session.commit()
            return result
        except OperationalError as exc:
            session.rollback()
            if not is_write_collision(exc) or attempt == attempts:
                raise
            # Back off a little, with jitter, so the colliding writers do not meet again at once.
            time.sleep(random.uniform(0, 0.005 * 2**attempt))
        except BaseException:
            session.rollback()
            raise
    raise AssertionError("unreachable")
