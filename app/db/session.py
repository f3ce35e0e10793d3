"""Engines and sessions.

SQLite allows one writer at a time. Left alone, concurrent writers spin in SQLite's busy handler
and the loser gets "database is locked" after the timeout, which once killed the scheduler's
thread. So for SQLite the app keeps its writers in line itself: a connection takes a process-wide
writer lock right before its first write and gives it back when its transaction ends. Readers
never wait (WAL), and a writer that cannot get its turn within `WRITER_WAIT` seconds fails with
`DatabaseBusyError`, which the API answers with 503 + Retry-After.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

# How long a writer queues for its turn (the app lock), and SQLite's own busy wait behind it
# (other processes, e.g. `growthguard migrate`, take SQLite's lock without ours).
WRITER_WAIT = 10.0
SQLITE_BUSY_MS = 5000
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")
_HOLDS = "gg_writer_lock"


class DatabaseBusyError(Exception):
    """Another writer kept the database for too long; try again shortly."""


class InvalidDatabaseUrlError(ValueError):
    """GG_DATABASE_URL cannot be used."""


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys, threads and the one-writer lock."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InvalidDatabaseUrlError(
            f"GG_DATABASE_URL: {url!r} is not a database URL "
            "(e.g. sqlite:///./var/growthguard.db or postgresql+psycopg://user@host/db)"
        ) from None
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    sqlite = parsed.get_backend_name() == "sqlite"
    if sqlite:
        # Worker threads share the engine; our writer lock serialises writers.
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": SQLITE_BUSY_MS / 1000}
    ensure_sqlite_folder(url)
    try:
        engine = create_engine(url, **kwargs)
    except (ArgumentError, ImportError) as error:
        raise InvalidDatabaseUrlError(f"GG_DATABASE_URL: cannot be used: {error}") from None
    if sqlite:
        install_writer_lock(engine)
    return engine


def ensure_sqlite_folder(url: str) -> None:
    """SQLite creates the file but not its folder (e.g. the default var/)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    # WAL with NORMAL sync is durable across application crashes (not power loss of the OS).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def install_writer_lock(engine: Engine) -> threading.Lock:
    """Serialise this engine's writers (SQLite): one transaction writes at a time."""
    # Not an RLock: a request's transaction may begin in one worker thread and commit in
    # another. A second writer nested in the same thread waits and fails, as it would in SQLite.
    lock = threading.Lock()

    def before_execute(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if conn.info.get(_HOLDS) or not statement.lstrip().upper().startswith(_WRITES):
            return
        if not lock.acquire(timeout=WRITER_WAIT):
            raise DatabaseBusyError(
                f"the database stayed busy for {WRITER_WAIT:g}s (another write is running)"
            )
        conn.info[_HOLDS] = True

    def release(conn: Any, *_: Any) -> None:
        if conn.info.pop(_HOLDS, False):
            lock.release()

    def release_record(record: Any) -> None:
        if record is not None and record.info.pop(_HOLDS, False):
            lock.release()

    def on_reset(dbapi_connection: Any, connection_record: Any, reset_state: Any) -> None:
        release_record(connection_record)

    def on_invalidate(dbapi_connection: Any, connection_record: Any, exception: Any) -> None:
        release_record(connection_record)

    def on_close(dbapi_connection: Any, connection_record: Any) -> None:
        release_record(connection_record)

    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "before_cursor_execute", before_execute)
    event.listen(engine, "commit", release)
    event.listen(engine, "rollback", release)
    # A connection that goes back to the pool (or dies) without commit/rollback frees it too.
    event.listen(engine, "reset", on_reset)
    event.listen(engine, "invalidate", on_invalidate)
    event.listen(engine, "close", on_close)
    return lock


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (rows are returned to callers)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on error. Tasks and requests use this."""
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
