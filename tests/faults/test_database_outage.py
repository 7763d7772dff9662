"""The database goes away and comes back: requests fail fast with 503 and a clear message, then the
same server process recovers without a restart. Uses a throwaway PostgreSQL cluster of its own."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.auth.models import Role
from server.config import Settings
from server.core.migrate import upgrade

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    """A PostgreSQL cluster in a temp dir, run as the postgres user, that a test can stop and start."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="gc-pg-"))
        self.port = _free_port()
        shutil.chown(self.dir, "postgres", "postgres")
        self._as_postgres([str(PG_BIN / "initdb"), "-A", "trust", "-U", "postgres", "-D", str(self.dir / "data")])

    def _as_postgres(self, args: list[str]) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self._as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.dir / "data"), "-w", "-l", str(self.dir / "log"),
                           "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1", "start"])

    def stop(self) -> None:
        self._as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.dir / "data"), "-w", "-m", "immediate", "stop"])

    def url(self, db: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{db}"

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    if os.geteuid() != 0 or not (PG_BIN / "initdb").exists() or shutil.which("runuser") is None:
        pytest.skip("needs root and PostgreSQL 15 server binaries to run a throwaway cluster")
    instance = Cluster()
    instance.start()
    yield instance
    instance.destroy()


def test_requests_get_503_while_the_database_is_down_then_recover(cluster, tmp_path):
    import psycopg

    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres", autocommit=True) as conn:
        conn.execute("CREATE DATABASE gc")
    settings = Settings(database_url=cluster.url("gc"), data_dir=tmp_path, secret_key="s" * 40, load_city=False)
    upgrade(settings)
    app = create_app(settings)
    from sqlmodel import Session

    from server.auth import service
    from server.auth.models import UserCreate

    with Session(app.state.engine) as session:
        service.create(session=session, user_in=UserCreate(username="dana", role=Role.dispatcher,
                                                           password="long-enough-1"))
        session.commit()
    with TestClient(app) as client:
        token = client.post("/auth/token", data={"username": "dana", "password": "long-enough-1"}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        assert client.get("/jobs", headers=headers).status_code == 200

        cluster.stop()
        down = client.get("/jobs", headers=headers)
        assert down.status_code == 503
        assert down.json()["detail"] == "the database is unavailable; try again shortly"
        health = client.get("/health")
        assert health.status_code == 503 and health.json()["status"] == "error"
        write = client.post("/jobs", headers=headers, json={"title": "t", "lat": 39.28, "lon": -76.58})
        assert write.status_code == 503

        cluster.start()
        health = client.get("/health").json()
        assert (health["status"], health["database"]) == ("ok", "ok")
        back = client.get("/jobs", headers=headers)
        assert back.status_code == 200 and back.json()["total"] == 0
        created = client.post("/jobs", headers=headers, json={"title": "t", "lat": 39.28, "lon": -76.58})
        assert created.status_code == 201
    app.state.engine.dispose()
