"""Wait times for the load benchmark's simulated users (no locust import: gevent patches whoever imports it)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def paced(period_s: float, clock: Callable[[], float] = time.perf_counter) -> Callable[[Any], float]:
    """A wait_time: each turn one period after the user's previous turn (after a late turn, one period after it:
    no catch-up burst).

    Unlike locust's ``constant_pacing``, which counts from the moment the user was spawned, this keeps the random
    phase a user sleeps into in ``on_start``: locust spawns each second's batch of users at one instant."""

    def wait(user: Any) -> float:
        now = clock()
        due = max(now, getattr(user, "_due", now) + period_s)
        user._due = due  # type: ignore[attr-defined]
        return due - now

    return wait
