"""Engine and sessions. SQLite is the embedded default (WAL, foreign keys on); PostgreSQL works the
same through ``GROUNDCREW_DATABASE_URL``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlmodel import Session, create_engine

from server.config import Settings

# JSON columns are parsed with orjson: the standard library's json.loads was ~5 % of a list request's CPU on
# PostgreSQL (psycopg parses JSON columns itself; SQLAlchemy hands it this function). Writing stays json.dumps.
JSON_COLUMNS = {"json_deserializer": orjson.loads}


def make_engine(settings: Settings) -> Engine:
    """Create the engine for the configured database, preparing the SQLite file's folder."""
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        db_path = url.removeprefix("sqlite:///")
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
            # Customers' data: readable by the server's user only (SQLite gives its -wal/-shm files the same mode).
            if "?" not in db_path and not db_path.startswith("file:"):
                _create_private(Path(db_path))
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=20, max_overflow=20,
            **JSON_COLUMNS,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "savepoint")
        def _sqlite_savepoint(connection, _name) -> None:  # type: ignore[no-untyped-def]
            # pysqlite begins a transaction lazily, just before the first write, so reads never hold a
            # snapshot that a later write would find stale ("database is locked" without waiting). But then
            # a SAVEPOINT issued first would become the outer transaction and RELEASE would commit it: begin
            # explicitly there. IMMEDIATE takes the write lock up front, waiting with the busy timeout.
            raw = connection.connection.dbapi_connection
            if raw is not None and not raw.in_transaction:
                connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    engine = create_engine(url, pool_size=20, max_overflow=20, **JSON_COLUMNS)
    event.listen(engine, "checkout", _refuse_dead_connection)
    return engine


def _create_private(db_path: Path) -> None:
    """Create the database file with mode 0600, or tighten an existing one's mode without opening it.

    Opening and closing a descriptor of a file SQLite has open in this process would release every POSIX lock the
    process holds on it (https://sqlite.org/howtocorrupt.html, 2.2): another process would then take the database
    for unused, and on closing its last connection delete the -wal and -shm files under this one ("disk I/O
    error"). The server makes engines while one is open (a worker thread's, the city hook's), so only a file that
    does not exist yet, which nobody can have open, is opened here."""
    with suppress(FileExistsError):
        os.close(os.open(db_path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    os.chmod(db_path, 0o600)


def _refuse_dead_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Hand out no pooled PostgreSQL connection the server has closed (a restart, an idle timeout, a DBA's kill):
    the pool then replaces it and tries again, so no request meets a dead one.

    Checked locally rather than by a ping (``pool_pre_ping``): the server says goodbye and closes the socket, so
    reading whatever already arrived (libpq's non-blocking ``PQconsumeInput``) finds the connection closed. A ping
    was a round trip before every request's own work, and a tenth of a simple read's CPU in the load mix."""
    pgconn = getattr(dbapi_connection, "pgconn", None)
    if pgconn is None:  # not psycopg: nothing to look at
        return
    from psycopg.pq import ConnStatus  # psycopg is the PostgreSQL extra's: imported where it is in use
    try:
        # The first read takes in the server's parting message (if any), the second meets the closed socket.
        pgconn.consume_input()
        pgconn.consume_input()
    except Exception as exc:  # psycopg.OperationalError: "server closed the connection unexpectedly"
        raise DisconnectionError(str(exc)) from exc
    if pgconn.status != ConnStatus.OK:
        raise DisconnectionError(f"connection status {pgconn.status.name}")


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error (no half-written records)."""
    with Session(engine) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
