"""Stopping a running search from outside, and hearing its best plan so far while it runs.

Why: a caller (the server) runs one long solve per plan and must be able to cancel it within about a second and
show how it is going, without cutting it into short warm-started calls (each cut costs plan quality: a warm start
runs a weaker search). Every search loop here already runs in short steps (compiled SISR batches of ~20-50 ms,
OR-Tools' own limit checks between moves), so between two steps it asks ``stopped()`` and, now and then, offers its
best routes with ``offer()``.

A control belongs to the thread that runs the search: the portfolio's worker processes join the parent's control
through the pool initializer (a shared event, a queue back to the parent); an in-process search gets one from
``solve`` itself. With no control (benchmarks, tests) both calls cost one attribute lookup.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

#: How often a search offers its best routes (s). The caller evaluates each offer (a schedule per route), so offers
#: are rare next to the search's own steps.
OFFER_EVERY_S = 1.0
#: How often an in-process search asks the caller whether to stop (s): the caller's check may read a database.
ASK_EVERY_S = 0.2


class _Flag(Protocol):
    def is_set(self) -> bool: ...


class SearchControl:
    """``flag``: set when the search must stop. ``sink(worker, cost, routes)``: where offers go (the parent's queue
    in a worker process, the parent's handler in process). ``worker``: which search trajectory this is."""

    def __init__(self, flag: _Flag, sink: Callable[[int, int, list[list[int]]], None] | None, worker: int = 0) -> None:
        self.flag = flag
        self.sink = sink
        self.worker = worker
        self.last_offer = time.monotonic()
        self.best_offered: int | None = None

    def stopped(self) -> bool:
        return self.flag.is_set()

    def offer(self, cost: int, routes: Callable[[], list[list[int]]], *, force: bool = False) -> None:
        """Offer the search's best routes (problem job indices per technician) when they improved and the last offer
        is old enough; ``routes`` is called only then."""
        if self.sink is None or (self.best_offered is not None and cost >= self.best_offered):
            return
        now = time.monotonic()
        if not force and now - self.last_offer < OFFER_EVERY_S:
            return
        self.last_offer, self.best_offered = now, cost
        self.sink(self.worker, int(cost), routes())


class CallbackFlag:
    """A stop flag from a caller's ``should_stop()``, asked at most every ``ASK_EVERY_S``; once True, stays True."""

    def __init__(self, should_stop: Callable[[], bool] | None) -> None:
        self.should_stop = should_stop
        self.next_ask = 0.0
        self.set_ = False
        self.lock = threading.Lock()

    def set(self) -> None:
        self.set_ = True

    def is_set(self) -> bool:
        if self.set_ or self.should_stop is None:
            return self.set_
        now = time.monotonic()
        if now < self.next_ask:
            return False
        with self.lock:
            self.next_ask = now + ASK_EVERY_S
            if self.should_stop():
                self.set_ = True
        return self.set_


_local = threading.local()


def join(control: SearchControl | None) -> None:
    """Make ``control`` this thread's (None: leave)."""
    _local.control = control


def current() -> SearchControl | None:
    return getattr(_local, "control", None)


def stopped() -> bool:
    """Whether this thread's search has been asked to stop."""
    control = getattr(_local, "control", None)
    return control is not None and control.stopped()


def offer(cost: int, routes: Callable[[], list[list[int]]], *, force: bool = False) -> None:
    """Offer this thread's best routes so far (see ``SearchControl.offer``)."""
    control = getattr(_local, "control", None)
    if control is not None:
        control.offer(cost, routes, force=force)


class OrToolsHooks:
    """What an OR-Tools model needs to obey a control: a search limit that trips when the control is stopped, and a
    callback that offers improving solutions. Kept alive with the model (OR-Tools holds only weak references to
    Python callables)."""

    def __init__(self, built: Any, control: SearchControl) -> None:
        self.built, self.control = built, control
        routing = built.routing
        self.limit = routing.solver().CustomLimit(control.stopped)
        routing.AddSearchMonitor(self.limit)
        routing.AddAtSolutionCallback(self.at_solution)

    def at_solution(self) -> None:
        routing = self.built.routing
        cost = routing.CostVar().Value()
        self.control.offer(cost, self._routes)

    def _routes(self) -> list[list[int]]:
        routing, built = self.built.routing, self.built
        routes = []
        for v in range(routing.vehicles()):
            seq = []
            idx = routing.NextVar(routing.Start(v)).Value()
            while not routing.IsEnd(idx):
                seq.append(built.jobs[built.manager.IndexToNode(idx)])
                idx = routing.NextVar(idx).Value()
            routes.append(seq)
        return routes
