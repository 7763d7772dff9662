"""A real API process (uvicorn) on loopback for fault tests: requests cross a socket and run in the server's own
thread pool, so concurrency and client time-outs behave as in production."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlmodel import Session, create_engine

from server.auth import service as auth_service
from server.auth.models import Role, UserCreate

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """``uvicorn server.app:create_app --factory`` with GROUNDCREW_* settings from ``env``."""

    def __init__(self, database_url: str, data_dir: Path, env: dict[str, str] | None = None, workers: int = 1) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.database_url = database_url
        self.env = {**os.environ, "GROUNDCREW_DATABASE_URL": database_url, "GROUNDCREW_DATA_DIR": str(data_dir),
                    "GROUNDCREW_SECRET_KEY": "faults-secret-" + "k" * 32, "GROUNDCREW_LOAD_CITY": "false",
                    "GROUNDCREW_DISPATCH_BACKGROUND": "false", "GROUNDCREW_DISPATCH_MORNING_AT": "",
                    "GROUNDCREW_LOG_LEVEL": "WARNING", **(env or {})}
        self.workers = workers
        self.log = data_dir / f"uvicorn-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> ServerProcess:
        cmd = [sys.executable, "-m", "uvicorn", "server.app:create_app", "--factory", "--host", "127.0.0.1",
               "--port", str(self.port), "--workers", str(self.workers), "--log-level", "warning"]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.base + "/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server did not start: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)

    def engine(self):  # type: ignore[no-untyped-def]
        return create_engine(self.database_url)

    def add_user(self, username: str, role: Role, technician_id: int | None = None) -> None:
        engine = self.engine()
        with Session(engine) as session:
            auth_service.create(session=session, user_in=UserCreate(
                username=username, role=role, password=PASSWORD, technician_id=technician_id))
            session.commit()
        engine.dispose()

    def headers(self, username: str) -> dict[str, str]:
        r = httpx.post(self.base + "/auth/token", data={"username": username, "password": PASSWORD}, timeout=30)
        r.raise_for_status()
        return {"Authorization": f"Bearer {r.json()['access_token']}"}
