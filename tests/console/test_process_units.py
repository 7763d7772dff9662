"""`make test` runs the suite in two processes; the files that share the console's one live server must stay in one
(see `tests.conftest.process_unit`)."""

from __future__ import annotations

import pytest

from tests.conftest import process_unit


def test_every_file_on_the_shared_live_server_runs_in_one_process(request: pytest.FixtureRequest) -> None:
    """A new file that uses the session's live server but lies outside `SHARED_LIVE_SERVER_FILES` would meet a
    server whose state depends on which files that process ran before it."""
    users = set()
    for item in request.session.items:
        info = getattr(item, "_fixtureinfo", None)
        defs = info.name2fixturedefs.get("live_server") if info is not None else None
        if defs and defs[-1].scope == "session":
            users.add(item.nodeid.split("::", 1)[0])
    if not users:
        pytest.skip("no test on the console's live server was collected in this run")
    assert {f: process_unit(f) for f in users} == dict.fromkeys(users, "console live server")
