"""Pooled PostgreSQL connections that died (server restart, idle timeout, a DBA's kill) are replaced before use: the
engine pings each connection it hands out, so no request meets a dead one."""

from __future__ import annotations

import psycopg
import pytest

from server.auth.models import Role
from tests.conftest import PG_ADMIN_URL


def _kill_app_connections(dbname: str) -> int:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        return len(conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                                "AND pid <> pg_backend_pid()", (dbname,)).fetchall())


@pytest.mark.parametrize("database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_pooled_connections_killed_by_the_server_are_replaced_before_use(client, auth, settings):
    headers = auth(Role.dispatcher)
    assert [client.get("/jobs", headers=headers).status_code for _ in range(3)] == [200, 200, 200]
    assert _kill_app_connections(settings.resolved_database_url.rsplit("/", 1)[1]) >= 1
    assert [client.get("/jobs", headers=headers).status_code for _ in range(3)] == [200, 200, 200]  # never a 503
