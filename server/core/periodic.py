"""A background loop of one API process: a daemon thread that calls ``tick`` every ``interval_s`` seconds until
closed. A failing tick is logged and the loop goes on (the next tick retries; ticks are idempotent)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable


class Periodic:
    """``tick`` every ``interval_s`` (seconds, first call after one interval) on a thread named ``name``."""

    def __init__(self, name: str, interval_s: float, tick: Callable[[], None], log: logging.Logger) -> None:
        self.interval_s, self._tick, self._log = interval_s, tick, log
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        """Stop after the tick under way (waits up to 5 s for it)."""
        self.stop.set()
        self.thread.join(timeout=5)

    def _loop(self) -> None:
        while not self.stop.wait(self.interval_s):
            try:
                self._tick()
            except Exception:
                self._log.exception("%s: tick failed", self.thread.name)
