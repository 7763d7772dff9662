"""Pooled PostgreSQL connections that died (server restart, idle timeout, a DBA's kill) are replaced before use: the
engine pings each connection it hands out, so no request meets a dead one."""

from __future__ import annotations

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from server.app import create_app
from server.auth import service
from server.auth.models import Role, UserCreate
from server.config import Settings
from tests.conftest import PG_ADMIN_URL

pytestmark = pytest.mark.postgres


def _kill_app_connections(dbname: str) -> int:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        return len(conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                                "AND pid <> pg_backend_pid()", (dbname,)).fetchall())


@pytest.fixture
def pg_client(postgres_factory, tmp_path):  # type: ignore[no-untyped-def]
    if postgres_factory is None:
        pytest.skip("PostgreSQL not reachable")
    url = postgres_factory.new_url()
    app = create_app(Settings(database_url=url, data_dir=tmp_path, secret_key="s" * 40, load_city=False))
    with Session(app.state.engine) as session:
        service.create(session=session, user_in=UserCreate(username="dana", role=Role.dispatcher,
                                                           password="long-enough-1"))
        session.commit()
    with TestClient(app) as client:
        token = client.post("/auth/token", data={"username": "dana", "password": "long-enough-1"}).json()
        client.headers["Authorization"] = f"Bearer {token['access_token']}"
        yield client, url.rsplit("/", 1)[1]
    app.state.engine.dispose()


def test_pooled_connections_killed_by_the_server_are_replaced_before_use(pg_client):
    client, dbname = pg_client
    assert [client.get("/jobs").status_code for _ in range(3)] == [200, 200, 200]
    assert _kill_app_connections(dbname) >= 1
    assert [client.get("/jobs").status_code for _ in range(3)] == [200, 200, 200]  # never a 503
