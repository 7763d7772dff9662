"""Scale-out fixtures: a throwaway PostgreSQL database, an empty Redis database, and helpers to start and
stop real Celery workers and API processes (uvicorn) against them. Skips loudly when either is unreachable."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, _pg_admin, pg_url, postgres_available

CITY_CACHE = Path("/tmp/groundcrew-geodata-cache")
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
BIN = Path(sys.executable).parent


def _redis_db() -> int | str:
    try:
        import redis

        for db in range(15, 7, -1):
            client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db, socket_connect_timeout=2)
            # Claimed atomically: two test processes that both see it empty do not both take it.
            if client.dbsize() == 0 and client.set("groundcrew-test-claim", "1", nx=True):
                return db
        return "no empty Redis database among 8..15"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


@pytest.fixture(scope="module")
def scale_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    reason = postgres_available()
    db = _redis_db()
    if reason or isinstance(db, str):
        message = f"SCALE TESTS SKIPPED: PostgreSQL: {reason or 'ok'}; Redis: {db if isinstance(db, str) else 'ok'}"
        print("\n" + "!" * 20 + " " + message, file=sys.stderr)
        pytest.skip(message)
    name = f"gc_scale_{uuid.uuid4().hex[:8]}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    data_dir = tmp_path_factory.mktemp("scale")
    env = {
        **os.environ,
        "GROUNDCREW_DATABASE_URL": pg_url(name),
        "GROUNDCREW_BROKER_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}",
        "GROUNDCREW_DATA_DIR": str(data_dir),
        "GROUNDCREW_CACHE_DIR": str(CITY_CACHE),
        "GROUNDCREW_SECRET_KEY": "scale-test-" + "k" * 40,
        "GROUNDCREW_CELERY_VISIBILITY_TIMEOUT_S": "6",
        "GROUNDCREW_DISPATCH_MORNING_AT": "", "GROUNDCREW_HORIZON_ROLL_AT": "",
        "GROUNDCREW_DISPATCH_COALESCE_S": "0",
        "GROUNDCREW_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    from server.config import Settings
    from server.core.migrate import upgrade

    upgrade(Settings(database_url=env["GROUNDCREW_DATABASE_URL"], data_dir=data_dir, load_city=False))
    try:
        yield env
    finally:
        import redis

        redis.Redis.from_url(env["GROUNDCREW_BROKER_URL"]).flushdb()
        with _pg_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Processes:
    """Started processes, each in its own process group; stopped (and killed if need be) at the end."""

    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        self.env, self.logdir = env, logdir
        self.procs: list[subprocess.Popen] = []

    def _start(self, args: list[str], name: str) -> subprocess.Popen:
        log = open(self.logdir / f"{name}-{len(self.procs)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(args, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                start_new_session=True)
        self.procs.append(proc)
        return proc

    def worker(self, concurrency: int = 1) -> subprocess.Popen:
        return self._start([str(BIN / "celery"), "-A", "server.workers.celery_app", "worker",
                            "-Q", "groundcrew,groundcrew.regions", "-c", str(concurrency), "--pool", "prefork",
                            "-l", "INFO", "-n", f"w{len(self.procs)}@%h", "--without-gossip", "--without-mingle"],
                           "worker")

    def api(self) -> str:
        port = _free_port()
        self._start([str(BIN / "uvicorn"), "server.app:create_app", "--factory", "--host", "127.0.0.1",
                     "--port", str(port), "--log-level", "warning"], "api")
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"API process on {url} did not start (see {self.logdir})")

    def kill(self, proc: subprocess.Popen) -> None:
        """SIGKILL the whole process group (the worker and its pool children): a crash, not a shutdown."""
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=10)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def processes(scale_env: dict[str, str], tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(scale_env, tmp_path)
    try:
        yield procs
    finally:
        procs.stop_all()


def wait_for(predicate: Callable[[], object], timeout_s: float, what: str) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
