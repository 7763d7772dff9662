"""The background loop both the dispatch watcher and the appointment sweep run on."""

from __future__ import annotations

import logging
import threading

from server.core.periodic import Periodic


def test_a_failing_tick_is_logged_and_the_loop_goes_on_until_closed(caplog) -> None:  # type: ignore[no-untyped-def]
    calls: list[int] = []
    third = threading.Event()

    def tick() -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            raise RuntimeError("the database went away")
        if len(calls) == 3:
            third.set()

    loop = Periodic("test-loop", 0.01, tick, logging.getLogger("test.periodic"))
    with caplog.at_level(logging.ERROR, logger="test.periodic"):
        loop.start()
        assert third.wait(30), "the loop stopped after the failing tick"
        loop.close()
    assert not loop.thread.is_alive()
    after = len(calls)
    threading.Event().wait(0.05)
    assert len(calls) == after  # closed: no tick runs again
    assert any("test-loop: tick failed" in r.getMessage() for r in caplog.records)
