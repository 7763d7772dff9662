"""The job board from memory while no job changed (PostgreSQL).

The job board is what every dispatcher console reads most (in the load mix: a quarter of all requests), and jobs
change far less often than it is read. Each API process keeps the answers it read, tagged with a *version* of the
jobs, and answers again from memory while the version has not moved:

- The database tells every process when jobs change: triggers on ``job`` and ``job_report`` (migration 0005)
  ``NOTIFY groundcrew_jobs`` with the job's id, which PostgreSQL delivers only once the writing transaction has
  committed. Each process LISTENs on a connection of its own (``JobsFeed``) and reads what arrived, without
  waiting, each time a request asks for the version: a notification moves the board's version and that job's.
- A write committed through this process moves it at once too (``_jobs_written``), not when the notification comes
  back, so a client that changed a job and reads the board next sees its change.
- The version is taken before the read starts, so an answer is never tagged newer than what it saw: a change that
  lands while the read runs leaves the answer tagged with the old version, and the next request reads again.
- While the listening connection is down (a restart, an outage), nothing is answered from memory; when it is back
  the version moves, since notifications may have been missed meanwhile.

A change committed by another process is seen once its notification has arrived (on an idle machine here: median
0.013 ms after the writer's commit returned, longest 2 ms in 300 tries), as if the read had started that much
earlier. SQLite (one process, the embedded default) reads every
time. Authorization stays per request: the key names what the caller's role changes (a technician's own id), and
one job's visibility is checked on the cached row."""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

from fastapi import Request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from server.core.shared_reads import copy_answer, shared_read

log = logging.getLogger(__name__)
T = TypeVar("T")
CHANNEL = "groundcrew_jobs"
#: Answers kept per process (the board's pages and filters, single jobs); the least recently used go first.
MAX_ENTRIES = 512
RECONNECT_S = 1.0


class JobsFeed:
    """This process's view of the job notifications. ``tag(job_id)`` names the state of the board (``None``) or of
    one job as far as this process knows: it changes whenever that may have changed, and is None while the process
    cannot tell (then nothing may be answered from memory).

    A notification names the job it is about (row-level triggers), so one job's change leaves the other jobs'
    answers in memory; the board moves with any change. A change of unknown jobs (the listener reconnected, a
    table was truncated) moves everything: the ``epoch``."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._conn: Any = None  # a psycopg connection that LISTENs; read only by the thread that asks for tags
        self._board = 0
        self._epoch = 0
        self._jobs: dict[int, int] = {}  # job id -> changes seen since the epoch began
        self._lock = threading.Lock()
        self._connecting = False
        self._next_attempt = 0.0
        self._closed = False
        #: (tag, answer) by key; used only on the event loop (``cached_read``).
        self.answers: collections.OrderedDict[Hashable, tuple[tuple[int, int], Any]] = collections.OrderedDict()
        _FEEDS.add(self)

    def tag(self, job_id: int | None = None) -> tuple[int, int] | None:
        conn = self._conn
        if conn is None:
            self._connect_soon()
            return None
        from psycopg.pq import ConnStatus

        try:
            pgconn = conn.pgconn
            pgconn.consume_input()  # what already arrived (never waits); a closed socket raises on the next read
            changed: list[int | None] = []
            while (note := pgconn.notifies()) is not None:
                changed.append(int(note.extra) if note.extra.isdigit() else None)
            pgconn.consume_input()
            if pgconn.status != ConnStatus.OK:
                raise ConnectionError(f"listening connection status {pgconn.status.name}")
        except Exception as exc:
            log.warning("job notifications lost (%s); jobs are read every time until they are back", exc)
            self._drop(conn)
            return None
        if changed:
            self.moved(None if None in changed else changed)
        with self._lock:
            return (-1, self._board) if job_id is None else (self._epoch, self._jobs.get(job_id, 0))

    def moved(self, job_ids: Iterable[int] | None = None) -> None:
        """These jobs changed (None: any might have). Answers kept for them, and the board, are out of date: each
        is tagged with what it was read at, and is replaced when next asked for or dropped as least recently used."""
        with self._lock:
            self._board += 1
            if job_ids is None:
                self._epoch += 1
                self._jobs.clear()
            else:
                for job_id in job_ids:
                    self._jobs[job_id] = self._jobs.get(job_id, 0) + 1

    def close(self) -> None:
        self._closed = True
        self._drop(self._conn)
        _FEEDS.discard(self)

    def _drop(self, conn: Any) -> None:
        with self._lock:
            if self._conn is conn:
                self._conn = None
        self.moved()
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def _connect_soon(self) -> None:
        """Connect and LISTEN in a thread of its own (a request never waits for it), at most once a second."""
        with self._lock:
            now = time.monotonic()
            if self._closed or self._connecting or now < self._next_attempt:
                return
            self._connecting, self._next_attempt = True, now + RECONNECT_S
        threading.Thread(target=self._connect, daemon=True, name="jobs-feed").start()

    def _connect(self) -> None:
        import psycopg

        try:
            conn = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=3)
            conn.execute(f"LISTEN {CHANNEL}")
        except Exception as exc:
            log.info("cannot listen for job notifications yet: %s", exc)
            with self._lock:
                self._connecting = False
            return
        with self._lock:
            self._connecting = False
            if self._closed:
                conn.close()
                return
            self._conn = conn
        self.moved()  # notifications may have been missed while there was no listener


_FEEDS: set[JobsFeed] = set()


def feed_for(engine: Engine) -> JobsFeed | None:
    """A feed for a PostgreSQL engine (its own connection, same database); None for SQLite."""
    if engine.dialect.name != "postgresql":
        return None
    return JobsFeed(engine.url.set(drivername="postgresql").render_as_string(hide_password=False))


async def cached_read(request: Request, key: Hashable, read: Callable[[Session], T], job_id: int | None = None) -> T:
    """``read`` as ``shared_read`` does it, or the answer read before while nothing it covers has changed since:
    the board (``job_id`` None: any job) or one job. ``read`` must only read jobs and their reports (what the
    notifications cover) and must not depend on the caller beyond what ``key`` names."""
    feed: JobsFeed | None = getattr(request.app.state, "jobs_feed", None)
    version = feed.tag(job_id) if feed is not None else None
    if feed is None or version is None:
        return await shared_read(request, key, read)
    kept = feed.answers.get(key)
    if kept is not None and kept[0] == version:
        feed.answers.move_to_end(key)
        return copy_answer(kept[1])
    answer = await shared_read(request, key, read)
    if feed.tag(job_id) == version:  # nothing changed while it was read: it is the answer at this tag
        feed.answers[key] = (version, answer)
        feed.answers.move_to_end(key)
        while len(feed.answers) > MAX_ENTRIES:
            feed.answers.popitem(last=False)
    return answer


# ------------------------------------------------------------------------------------ writes through this process
_JOB_TABLES = frozenset({"job", "job_report"})


@event.listens_for(Session, "after_flush")
def _note_job_writes(session: Session, _context: Any) -> None:
    """The jobs a flush wrote (their ids are known after it), kept until the transaction ends."""
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(getattr(obj, "__table__", None), "name", None)
        if table in _JOB_TABLES:
            job_id = obj.id if table == "job" else obj.job_id
            session.info.setdefault("jobs_written", set()).add(job_id)


@event.listens_for(Session, "after_commit")
def _jobs_written(session: Session) -> None:
    job_ids = session.info.pop("jobs_written", None)
    if job_ids:
        for feed in list(_FEEDS):
            feed.moved(None if None in job_ids else job_ids)


@event.listens_for(Session, "after_rollback")
def _jobs_not_written(session: Session) -> None:
    session.info.pop("jobs_written", None)
