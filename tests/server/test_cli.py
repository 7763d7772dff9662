"""The ``groundcrew`` command as a user runs it: real processes, a real server on a free port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
GROUNDCREW = [sys.executable, "-m", "server.cli"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GROUNDCREW_")}
    env.update({"GROUNDCREW_DATA_DIR": str(tmp_path), "GROUNDCREW_LOAD_CITY": "false", **extra})
    return env


def _run(args: list[str], tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(GROUNDCREW + args, cwd=ROOT, env=_env(tmp_path, **extra), capture_output=True,
                          text=True, timeout=300)


def test_help_lists_the_commands(tmp_path):
    result = _run(["--help"], tmp_path)
    assert result.returncode == 0
    for command in ("serve", "demo", "db", "user", "bench", "eval"):
        assert command in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["user", "add", "xy", "--role", "boss", "--password", "long-enough"], "--role must be one of"),
        (["user", "add", "xy", "--role", "agent", "--password", "short"], "password: String should have at least 8"),
        (["user", "add", "xy", "--role", "technician", "--password", "long-enough", "--technician-id", "5"],
         "technician 5 does not exist"),
        (["demo", "--password", "short"], "at least 8 characters"),
    ],
)
def test_user_mistakes_are_one_clear_line(tmp_path, args, message):
    result = _run(args, tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_database_url_is_one_line(tmp_path):
    result = _run(["db", "upgrade"], tmp_path, GROUNDCREW_DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/x")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "cannot use the database" in result.stderr


def test_bad_session_concurrency_is_one_line_naming_the_setting(tmp_path):
    result = _run(["serve", "--port", "1"], tmp_path, GROUNDCREW_SESSION_CONCURRENCY="0")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "session_concurrency: Input should be greater than or equal to 1" in result.stderr
    shown = subprocess.run([sys.executable, "-c", "import server.core.deps as d; print(d.SESSION_CONCURRENCY)"],
                           cwd=ROOT, env=_env(tmp_path, GROUNDCREW_SESSION_CONCURRENCY="5"), capture_output=True,
                           text=True, timeout=120)
    assert shown.stdout.strip() == "5", shown.stderr


def test_db_upgrade_and_user_add(tmp_path):
    assert "Database at revision" in _run(["db", "upgrade"], tmp_path).stdout
    added = _run(["user", "add", "dana", "--role", "dispatcher", "--password", "long-enough-1"], tmp_path)
    assert added.returncode == 0 and "Created user dana" in added.stdout
    again = _run(["user", "add", "dana", "--role", "dispatcher", "--password", "long-enough-1"], tmp_path)
    assert again.returncode == 1 and "already taken" in again.stderr


def test_demo_is_idempotent(tmp_path):
    first = _run(["demo", "--password", "demo-pass-1", "--max-jobs", "20"], tmp_path)
    assert first.returncode == 0, first.stderr
    assert "dispatcher" in first.stdout and "20 jobs created" in first.stdout
    second = _run(["demo", "--password", "demo-pass-1", "--max-jobs", "20"], tmp_path)
    assert second.returncode == 0
    assert "0 technicians, 0 complaints imported" in second.stdout and "0 jobs created" in second.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_answers_health_and_docs_then_stops_on_ctrl_c(tmp_path):
    port = _free_port()
    proc = subprocess.Popen([*GROUNDCREW, "serve", "--port", str(port)], cwd=ROOT, env=_env(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError(proc.stdout.read() if proc.stdout else "server did not start") from None
                time.sleep(0.3)
        assert {k: health.json()[k] for k in ("status", "database")} == {"status": "ok", "database": "ok"}
        assert isinstance(health.json()["warnings"], list)
        assert httpx.get(f"http://127.0.0.1:{port}/docs", timeout=5).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
    assert code == 0
