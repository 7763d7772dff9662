"""The SQLite engine keeps the locks that tell other processes the database is in use.

SQLite's own warning ("How To Corrupt An SQLite Database File", §2.2, https://sqlite.org/howtocorrupt.html):
closing *any* file descriptor of the database file releases every POSIX lock the process holds on it. A process
that has lost its locks looks gone to the others, and the next one to close its last connection believes it is
the last user: it checkpoints and deletes the -wal and -shm files under the open database, whose next query then
fails with "disk I/O error". The server makes a second engine on the same file while its first is open (a worker
thread's `server.core.tasks.engine_for`, the city hook that teaches stored address points), so making an engine
must not open and close the file itself."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from server.config import Settings
from server.core.db import make_engine

# Another process (a CLI, a test, a Celery worker) opens the database, writes and closes: the last connection
# SQLite sees removes -wal and -shm only when no other process holds a lock on the file.
_OTHER_PROCESS = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute("PRAGMA journal_mode=WAL")
con.execute("INSERT INTO note (body) VALUES ('from another process')")
con.commit()
con.close()
"""


def test_a_second_engine_in_the_process_leaves_the_first_ones_locks(tmp_path: Path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'groundcrew.db'}", data_dir=tmp_path, load_city=False)
    first = make_engine(settings)
    try:
        with first.begin() as connection:
            connection.execute(text("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)"))
            connection.execute(text("INSERT INTO note (body) VALUES ('first')"))
        held = first.connect()  # the server's pool keeps connections open between requests
        assert held.execute(text("SELECT count(*) FROM note")).scalar_one() == 1
        assert (tmp_path / "groundcrew.db-shm").exists()

        second = make_engine(settings)  # as a worker thread does while the app's engine is open
        second.dispose()
        subprocess.run([sys.executable, "-c", _OTHER_PROCESS, str(tmp_path / "groundcrew.db")], check=True)

        assert (tmp_path / "groundcrew.db-shm").exists(), "another process took this one for gone and removed -shm"
        held.rollback()
        assert held.execute(text("SELECT count(*) FROM note")).scalar_one() == 2
        held.close()
    finally:
        first.dispose()
    with sqlite3.connect(tmp_path / "groundcrew.db") as check:
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_new_database_file_is_readable_by_its_owner_only(tmp_path: Path):
    db = tmp_path / "data" / "groundcrew.db"
    engine = make_engine(Settings(database_url=f"sqlite:///{db}", data_dir=tmp_path, load_city=False))
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE note (id INTEGER PRIMARY KEY)"))
    finally:
        engine.dispose()
    assert db.stat().st_mode & 0o777 == 0o600
