"""Backups: SQLite's online backup API (consistent while the server runs) and pg_dump/pg_restore for
PostgreSQL. A restore replaces the database's contents with the backup's."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from server.config import Settings
from server.core.errors import Invalid


def _sqlite_path(settings: Settings) -> Path:
    url = make_url(settings.resolved_database_url)
    if not url.database or url.database == ":memory:":
        raise Invalid("database_url: an in-memory SQLite database cannot be backed up")
    return Path(url.database)


def _pg_args(settings: Settings) -> tuple[list[str], dict[str, str]]:
    url = make_url(settings.resolved_database_url)
    args = ["-h", url.host or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "postgres"]
    env = {"PGPASSWORD": url.password} if url.password else {}
    return [*args, "-d", url.database or "postgres"], env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise Invalid(f"{name} is not installed; install the PostgreSQL client tools to back up PostgreSQL")
    return path


def backup(*, settings: Settings, target: Path) -> Path:
    """Write a consistent backup of the configured database to ``target``."""
    import os

    target.parent.mkdir(parents=True, exist_ok=True)
    if settings.is_sqlite:
        source = _sqlite_path(settings)
        if not source.exists():
            raise Invalid(f"database_url: no SQLite database at {source}")
        with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
            src.backup(dst)
        return target
    args, env = _pg_args(settings)
    result = subprocess.run([_tool("pg_dump"), "--format=custom", "--no-owner", "-f", str(target), *args],
                            capture_output=True, text=True, env={**os.environ, **env})
    if result.returncode != 0:
        raise Invalid(f"pg_dump failed: {result.stderr.strip().splitlines()[-1] if result.stderr else 'unknown'}")
    return target


def restore(*, settings: Settings, source: Path) -> None:
    """Replace the configured database's contents with a backup made by ``backup``."""
    import os

    if not source.is_file():
        raise Invalid(f"backup file not found: {source}")
    if settings.is_sqlite:
        with source.open("rb") as handle:
            if handle.read(16) != b"SQLite format 3\x00":
                raise Invalid(f"{source} is not a SQLite backup")
        target = _sqlite_path(settings)
        target.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
            src.backup(dst)
        return
    args, env = _pg_args(settings)
    result = subprocess.run(
        [_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction", *args, str(source)],
        capture_output=True, text=True, env={**os.environ, **env},
    )
    if result.returncode != 0:
        raise Invalid(f"pg_restore failed: {result.stderr.strip().splitlines()[-1] if result.stderr else 'unknown'}")
