"""Rate limits per address and per account (Flask-Limiter), counted where every worker sees the same counts.

They replace the old per-account lockout, which let anyone who knew a user name lock that user out: a
failed login is counted per address, per account *from that address*, and per account from any address
(a much higher ceiling that only a spread-out attack reaches). Only failures count against an account, so
the real user, from their own address, keeps logging in while someone else guesses.

Storage (``LIMS_RATELIMIT_STORAGE_URI``):

- default with SQLite: ``trialbank+sqlite:///<instance>/ratelimits.db``, a table in a file of its own, so
  that counting never waits on the main database's single writer (a request holding its write lock while
  counting a failed signature would otherwise wait for itself);
- default with PostgreSQL: ``trialbank+<database URL>``: the ``rate_limit_counter`` table of the database;
- ``redis://host:6379`` (pip install redis): Redis through the ``limits`` library;
- ``memory://`` counts per process and is refused outside tests: gunicorn's workers would each count alone.
"""

from __future__ import annotations

import math
import random
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, current_app, has_app_context, has_request_context, request
from flask_limiter import Limiter
from limits import parse_many
from limits.storage import Storage
from sqlalchemy import Engine, case, delete, select
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from lims.accounts.models import RateLimitCounter
from lims.core.database import make_engine
from lims.core.errors import DomainError

DEFAULTS: dict[str, Any] = {
    "RATELIMIT_LOGIN_ADDRESS": "30 per minute; 300 per hour",  # login attempts from one address
    "RATELIMIT_LOGIN_ACCOUNT": "5 per 15 minutes",  # failures for one account from one address
    "RATELIMIT_ACCOUNT": "50 per hour",  # failures for one account from any address
    "RATELIMIT_SECOND_FACTOR": "5 per 5 minutes",  # wrong second-factor codes for one account
    "RATELIMIT_SIGNATURE": "5 per 15 minutes",  # wrong signature passwords for one account
    "RATELIMIT_RESET": "10 per hour",  # password-reset link attempts from one address
    "RATELIMIT_TOKEN": "20 per minute",  # refused API tokens from one address
    "RATELIMIT_HEADERS_ENABLED": True,
    "PROXY_HOPS": 0,  # reverse proxies in front of the app whose X-Forwarded-For may be trusted
}
SCHEME = "trialbank+"


class TooManyAttempts(DomainError):
    """A rate limit was reached: the attempt was not even checked."""

    status = 429


class SQLStorage(Storage):
    """A fixed-window counter table for the ``limits`` library, in any database SQLAlchemy speaks."""

    # the limits library reads the schemes from this class attribute
    STORAGE_SCHEME = [SCHEME + "sqlite", SCHEME + "postgresql", SCHEME + "postgresql+psycopg"]  # noqa: RUF012

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        url = (uri or "").removeprefix(SCHEME)
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = make_engine(url, **({} if url.startswith("sqlite") else {"pool_size": 2}))
        # Close the pooled connections when the storage goes away (an app that is dropped, in tests).
        weakref.finalize(self, self.engine.dispose)
        if url.startswith("sqlite"):
            # A file of its own: nobody else creates the table. In the main database the migration does, and
            # starting the app never touches the main schema.
            self._create_table()
        self._calls = 0

    def _create_table(self) -> None:
        # Every gunicorn worker starts at once and may try this together: a new SQLite file answers "locked"
        # to all but one of them (even before busy_timeout applies), so try again for a while.
        for attempt in range(100):
            try:
                RateLimitCounter.__table__.create(self.engine, checkfirst=True)
                return
            except OperationalError:
                if attempt == 99:
                    raise
                self.engine.dispose()
                time.sleep(0.05 + random.random() * 0.1)  # noqa: S311 - jitter, not a secret

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add ``amount`` to the key's window (a new window once the old one expired); return the count."""
        table = RateLimitCounter.__table__
        now = time.time()
        dialect = self.engine.dialect.name
        from sqlalchemy.dialects import postgresql, sqlite

        insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
        values = insert.values(key=key, count=amount, expires_at=now + expiry)
        expired = table.c.expires_at <= now
        stmt = values.on_conflict_do_update(index_elements=[table.c.key], set_={
            "count": case((expired, amount), else_=table.c.count + amount),
            "expires_at": case((expired, now + expiry), else_=table.c.expires_at),
        }).returning(table.c.count)
        with self.engine.begin() as conn:
            count = conn.execute(stmt).scalar_one()
            self._calls += 1
            if self._calls % 200 == 0:  # forget long-expired windows now and then
                conn.execute(delete(table).where(table.c.expires_at < now - 3600))
        return int(count)

    def get(self, key: str) -> int:
        """Return the count of the key's current window (0 if none)."""
        table = RateLimitCounter.__table__
        with self.engine.connect() as conn:
            count = conn.scalar(select(table.c.count)
                                .where(table.c.key == key, table.c.expires_at > time.time()))
        return int(count or 0)

    def get_expiry(self, key: str) -> float:
        """Return when the key's window ends (seconds since the epoch)."""
        table = RateLimitCounter.__table__
        with self.engine.connect() as conn:
            expires = conn.scalar(select(table.c.expires_at).where(table.c.key == key))
        return float(expires) if expires and expires > time.time() else time.time()

    def check(self) -> bool:
        """Tell whether the database answers."""
        try:
            with self.engine.connect() as conn:
                conn.scalar(select(1))
            return True
        except SQLAlchemyError:
            return False

    def reset(self) -> int | None:
        """Forget every counter."""
        with self.engine.begin() as conn:
            return conn.execute(delete(RateLimitCounter.__table__)).rowcount

    def clear(self, key: str) -> None:
        """Forget one counter."""
        with self.engine.begin() as conn:
            conn.execute(delete(RateLimitCounter.__table__).where(RateLimitCounter.__table__.c.key == key))


def default_storage_uri(app: Flask) -> str:
    """Return the storage the limits use unless configured: see the module's documentation."""
    url = app.config["DATABASE_URL"]
    if url.startswith("sqlite"):
        return f"{SCHEME}sqlite:///{Path(app.instance_path) / 'ratelimits.db'}"
    return SCHEME + url


def address() -> str:
    """Return the client's address (behind ``PROXY_HOPS`` trusted proxies, the forwarded one)."""
    return (request.remote_addr or "unknown") if has_request_context() else "cli"


def _submitted_account() -> str:
    return (request.form.get("username") or "").strip().lower()[:80]


def init_app(app: Flask) -> Limiter:
    """Create the app's limiter (one per app) and check that its storage is shared between workers."""
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    app.config.setdefault("RATELIMIT_STORAGE_URI", default_storage_uri(app))
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "lims")
    uri = app.config["RATELIMIT_STORAGE_URI"]
    if uri.startswith("memory://") and app.config.get("RATELIMIT_ENABLED", True) and not app.testing:
        raise RuntimeError("LIMS_RATELIMIT_STORAGE_URI=memory:// counts per process, so gunicorn's workers "
                           "would each allow the full limit; use the default (the database) or redis://")
    hops = int(app.config["PROXY_HOPS"])
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    limiter = Limiter(key_func=address, app=app, strategy="fixed-window")
    app.extensions["lims_limiter"] = limiter
    return limiter


def _setting(name: str) -> Callable[[], str]:
    return lambda: current_app.config[name]


def _failed(response: Response) -> bool:
    return response.status_code in (401, 403)


def limit_login(limiter: Limiter, view: Callable[..., Any]) -> Callable[..., Any]:
    """Limit a password login view: per address, per account from that address, per account overall."""
    view = limiter.limit(_setting("RATELIMIT_LOGIN_ACCOUNT"), methods=["POST"], deduct_when=_failed,
                         key_func=lambda: f"account:{_submitted_account()}@{address()}",
                         error_message="Too many failed logins for this account from your address; wait and "
                                       "try again (the account itself is not locked)")(view)
    view = limiter.limit(_setting("RATELIMIT_ACCOUNT"), methods=["POST"], deduct_when=_failed,
                         key_func=lambda: f"account:{_submitted_account()}",
                         error_message="Too many failed logins for this account; wait and try again")(view)
    return limiter.limit(_setting("RATELIMIT_LOGIN_ADDRESS"), methods=["POST"],
                         error_message="Too many login attempts from your address; wait a minute")(view)


def limit_address(limiter: Limiter, view: Callable[..., Any], setting: str, message: str, *,
                  failures_only: bool = False) -> Callable[..., Any]:
    """Limit POSTs to a view per address (only failed ones with ``failures_only``)."""
    return limiter.limit(_setting(setting), methods=["POST"], deduct_when=_failed if failures_only else None,
                         key_func=lambda: f"{setting.lower()}:{address()}", error_message=message)(view)


def _strategy() -> Any:
    if not has_app_context():
        return None
    limiter = current_app.extensions.get("lims_limiter")
    if limiter is None or not limiter.enabled or not getattr(limiter, "initialized", False):
        return None
    return limiter.limiter


def guard(setting: str, *keys: str, what: str = "attempts") -> None:
    """Refuse (TooManyAttempts) when the ``setting`` limit of ``keys`` is used up; count nothing."""
    strategy = _strategy()
    if strategy is None:
        return
    for item in parse_many(current_app.config[setting]):
        if not strategy.test(item, setting, *keys):
            reset = strategy.get_window_stats(item, setting, *keys).reset_time
            minutes = max(1, math.ceil((reset - time.time()) / 60))
            raise TooManyAttempts(f"too many failed {what} ({item}); try again in {minutes} minute(s)")


def count_failure(setting: str, *keys: str) -> None:
    """Count one failure against the ``setting`` limit of ``keys``."""
    strategy = _strategy()
    if strategy is None:
        return
    for item in parse_many(current_app.config[setting]):
        strategy.hit(item, setting, *keys)


def close(app: Flask) -> None:
    """Close the connections of the app's rate-limit storage (tests that build many apps)."""
    limiter = app.extensions.get("lims_limiter")
    storage = getattr(limiter, "_storage", None) if limiter is not None else None
    if isinstance(storage, SQLStorage):
        storage.engine.dispose()
