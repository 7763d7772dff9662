"""Pooled PostgreSQL connections that died (server restart, idle timeout, a DBA's kill) are replaced before use: the
engine looks at each connection it hands out (has the server closed it?), so no request meets a dead one."""

from __future__ import annotations

import os
import time

import psycopg
import pytest

from server.auth.models import Role
from tests.conftest import PG_ADMIN_URL


def _kill_app_connections(dbname: str) -> int:
    """Terminate every connection to the database and wait until their server processes are gone (the kill is a
    signal: it returns before the process has said goodbye and closed its socket)."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        pids = [pid for (pid,) in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s "
                                               "AND pid <> pg_backend_pid()", (dbname,)).fetchall()]
        for pid in pids:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        for _ in range(500):
            if not conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)).fetchall():
                break
            time.sleep(0.01)
    # A backend leaves pg_stat_activity before its process exits and the kernel closes its socket: wait for the
    # processes themselves (the server runs here), or a checkout in between still finds the socket open (seen once
    # in a full run: a 503).
    for _ in range(500):
        if not [pid for pid in pids if _alive(pid)]:
            break
        time.sleep(0.01)
    return len(pids)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process (postgres): it exists
        pass
    return True


@pytest.mark.parametrize("database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_pooled_connections_killed_by_the_server_are_replaced_before_use(client, auth, settings):
    headers = auth(Role.dispatcher)
    assert [client.get("/jobs", headers=headers).status_code for _ in range(3)] == [200, 200, 200]
    assert _kill_app_connections(settings.resolved_database_url.rsplit("/", 1)[1]) >= 1
    assert [client.get("/jobs", headers=headers).status_code for _ in range(3)] == [200, 200, 200]  # never a 503
