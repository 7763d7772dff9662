"""The device's local SQLite store: a cache of jobs, conversations and the route, and the outbox.

Every write is committed at once with ``synchronous=FULL``, so killing the app at any moment loses
no queued action. The outbox is ordered by its autoincrement id; each row carries an idempotency key
(generated when the technician acts) that the server uses to de-duplicate retries.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS job (id INTEGER PRIMARY KEY, data TEXT NOT NULL, seq INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS job_extra (job_id INTEGER PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS conversation (id INTEGER PRIMARY KEY, customer_id INTEGER, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    job_id INTEGER,
    target_id INTEGER,
    payload TEXT NOT NULL,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try_at REAL NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'pending',
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS ix_outbox_state ON outbox(state, id);
"""

PENDING, SENT, REJECTED = "pending", "sent", "rejected"


@dataclass
class OutboxItem:
    id: int
    key: str
    kind: str  # "status" | "message"
    job_id: int | None
    target_id: int | None  # conversation id for messages
    payload: dict[str, Any]
    created_at: float
    attempts: int
    next_try_at: float
    state: str
    last_error: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> OutboxItem:
        return cls(row["id"], row["key"], row["kind"], row["job_id"], row["target_id"], json.loads(row["payload"]),
                   row["created_at"], row["attempts"], row["next_try_at"], row["state"], row["last_error"])


class Store:
    """Thread-safe (one lock) wrapper around one SQLite file; ``path=":memory:"`` for tests."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # ---- key/value --------------------------------------------------------------------------------
    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            row = self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return json.loads(row["value"]) if row else default

    def put(self, key: str, value: Any) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (key, json.dumps(value)))

    # ---- jobs -------------------------------------------------------------------------------------
    def replace_jobs(self, jobs: list[dict[str, Any]]) -> None:
        """The server's current list of our jobs, in route order (``seq``)."""
        with self._tx() as db:
            db.execute("DELETE FROM job")
            db.executemany("INSERT INTO job (id, data, seq) VALUES (?, ?, ?)",
                           [(j["id"], json.dumps(j), i) for i, j in enumerate(jobs)])

    def jobs(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT data FROM job ORDER BY seq, id").fetchall()
        return [json.loads(r["data"]) for r in rows]

    def job(self, job_id: int) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT data FROM job WHERE id = ?", (job_id,)).fetchone()
        return json.loads(row["data"]) if row else None

    def patch_job(self, job_id: int, **changes: Any) -> None:
        with self._tx() as db:
            row = db.execute("SELECT data FROM job WHERE id = ?", (job_id,)).fetchone()
            if row:
                data = {**json.loads(row["data"]), **changes}
                db.execute("UPDATE job SET data = ? WHERE id = ?", (json.dumps(data), job_id))

    def drop_job(self, job_id: int) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM job WHERE id = ?", (job_id,))

    def put_job_extra(self, job_id: int, extra: dict[str, Any]) -> None:
        """Reporters, customers and conversation ids of a job (fetched separately)."""
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO job_extra (job_id, data) VALUES (?, ?)", (job_id, json.dumps(extra)))

    def job_extra(self, job_id: int) -> dict[str, Any]:
        with self._lock:
            row = self._db.execute("SELECT data FROM job_extra WHERE job_id = ?", (job_id,)).fetchone()
        return json.loads(row["data"]) if row else {}

    # ---- conversations ----------------------------------------------------------------------------
    def put_conversation(self, conversation: dict[str, Any]) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO conversation (id, customer_id, data) VALUES (?, ?, ?)",
                       (conversation["id"], conversation.get("customer_id"), json.dumps(conversation)))

    def keep_conversations(self, customer_id: int, keep: set[int]) -> int:
        """Forget this customer's cached threads that are not in ``keep`` (the server no longer shows them to this
        technician: the job went to someone else, or the thread is not tied to their jobs); how many were dropped."""
        with self._tx() as db:
            rows = db.execute("SELECT id FROM conversation WHERE customer_id = ?", (customer_id,)).fetchall()
            gone = [r["id"] for r in rows if r["id"] not in keep]
            db.executemany("DELETE FROM conversation WHERE id = ?", [(i,) for i in gone])
        return len(gone)

    def conversations_of(self, customer_id: int) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT data FROM conversation WHERE customer_id = ? ORDER BY id",
                                    (customer_id,)).fetchall()
        return [json.loads(r["data"]) for r in rows]

    # ---- outbox -----------------------------------------------------------------------------------
    def enqueue(self, kind: str, payload: dict[str, Any], *, job_id: int | None = None,
                target_id: int | None = None, key: str | None = None, now: float | None = None) -> OutboxItem:
        """Queue one action; it is durable when this returns."""
        key = key or uuid.uuid4().hex
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO outbox (key, kind, job_id, target_id, payload, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (key, kind, job_id, target_id, json.dumps(payload), now if now is not None else time.time()),
            )
            row = db.execute("SELECT * FROM outbox WHERE id = ?", (cur.lastrowid,)).fetchone()
        return OutboxItem.from_row(row)

    def pending(self) -> list[OutboxItem]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM outbox WHERE state = ? ORDER BY id", (PENDING,)).fetchall()
        return [OutboxItem.from_row(r) for r in rows]

    def pending_count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM outbox WHERE state = ?", (PENDING,)).fetchone()[0]

    def outbox(self) -> list[OutboxItem]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM outbox ORDER BY id").fetchall()
        return [OutboxItem.from_row(r) for r in rows]

    def mark_sent(self, item_id: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE outbox SET state = ?, last_error = NULL WHERE id = ?", (SENT, item_id))

    def mark_rejected(self, item_id: int, reason: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE outbox SET state = ?, last_error = ? WHERE id = ?", (REJECTED, reason, item_id))

    def update_payload(self, item_id: int, payload: dict[str, Any]) -> None:
        """Rewrite a queued action (e.g. without an attachment the server refused), durably."""
        with self._tx() as db:
            db.execute("UPDATE outbox SET payload = ? WHERE id = ?", (json.dumps(payload), item_id))

    def mark_failed(self, item_id: int, *, error: str, next_try_at: float) -> None:
        with self._tx() as db:
            db.execute("UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_try_at = ? WHERE id = ?",
                       (error, next_try_at, item_id))

    def pending_for_job(self, job_id: int) -> list[OutboxItem]:
        return [i for i in self.pending() if i.job_id == job_id]

    def clear_cache(self) -> None:
        """Forget cached server data (on sign-out of another user); the outbox stays."""
        with self._tx() as db:
            for table in ("job", "job_extra", "conversation"):
                db.execute(f"DELETE FROM {table}")
            db.execute("DELETE FROM kv WHERE key LIKE 'cache.%'")
