"""The load benchmark's clients keep their own phase: a burst made by the load generator is not the server's fault."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from benchmarks.load.pacing import paced


def test_paced_users_keep_the_phases_they_started_at() -> None:
    clock = SimpleNamespace(now=0.0)
    wait = paced(0.5, clock=lambda: clock.now)
    turns: dict[float, list[float]] = {}
    # Two users spawned together; one slept 0.1 s into its phase, the other 0.4 s; each task takes 20 ms.
    for phase in (0.1, 0.4):
        user = SimpleNamespace()
        clock.now = phase
        turns[phase] = []
        for _ in range(5):
            turns[phase].append(round(clock.now, 3))
            clock.now += 0.02
            clock.now += wait(user)
    assert turns[0.1] == [0.1, 0.62, 1.12, 1.62, 2.12]
    assert turns[0.4] == [0.4, 0.92, 1.42, 1.92, 2.42]  # still 0.3 s apart: never one shared burst


def test_a_late_user_does_not_catch_up_in_a_burst() -> None:
    clock = SimpleNamespace(now=0.0)
    wait = paced(0.5, clock=lambda: clock.now)
    user = SimpleNamespace()
    assert wait(user) == pytest.approx(0.5)
    clock.now = 3.0  # the next task took 2.5 s
    assert wait(user) == 0  # go now, once
    assert wait(user) == pytest.approx(0.5)  # then the period again, not the missed turns back to back
