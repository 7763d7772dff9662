"""App state as a plain observable class: screens bind to it, the sync engine writes to it.

No Kivy here, so it is unit-tested without a window. Listeners are called with the set of field
names that changed, on the thread that made the change; the Kivy app hops to its main thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

CLOSED = ("completed", "unable", "cancelled")
URGENT_PRIORITY = 8  # jobs at or above this priority (1..10) alert the technician when they arrive

Listener = Callable[[set[str]], None]


@dataclass
class Alert:
    kind: str  # "urgent" | "reassigned" | "error" | "warning" | "info"
    text: str
    job_id: int | None = None
    at: float = field(default_factory=time.time)


def parse_time(value: str | None) -> datetime | None:
    """An ISO-8601 string from the server as an aware datetime (naive values are UTC)."""
    if not value:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def is_urgent(job: dict[str, Any]) -> bool:
    return int(job.get("priority") or 0) >= URGENT_PRIORITY


class AppState:
    """Everything the screens show. Change it with ``update``; read attributes directly."""

    FIELDS = ("server_url", "username", "full_name", "technician_id", "signed_in", "online", "pending",
              "jobs", "route", "coming", "alerts", "status_text", "last_sync_at", "position", "busy", "sign_in_error")

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.RLock()
        self.server_url = ""
        self.username = ""
        self.full_name = ""
        self.technician_id: int | None = None
        self.signed_in = False
        self.online = False
        self.pending = 0
        self.jobs: list[dict[str, Any]] = []
        self.route: dict[str, Any] | None = None
        self.coming: list[dict[str, Any]] = []  # tentative visits after today (GET /horizon/mine)
        self.alerts: list[Alert] = []
        self.status_text = ""
        self.last_sync_at: float | None = None
        self.position: tuple[float, float] | None = None
        self.busy = False
        self.sign_in_error = ""

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(changed_fields)`` after every change; returns an unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def update(self, **changes: Any) -> None:
        unknown = set(changes) - set(self.FIELDS)
        if unknown:
            raise AttributeError(f"AppState has no field(s) {sorted(unknown)}")
        with self._lock:
            changed = {k for k, v in changes.items() if getattr(self, k) != v}
            for key in changed:
                setattr(self, key, changes[key])
        if changed:
            for listener in list(self._listeners):
                listener(changed)

    # ---- derived views ------------------------------------------------------------------------------
    def job(self, job_id: int) -> dict[str, Any] | None:
        return next((j for j in self.jobs if j["id"] == job_id), None)

    @property
    def open_jobs(self) -> list[dict[str, Any]]:
        return [j for j in self.jobs if j.get("status") not in CLOSED]

    @property
    def next_job(self) -> dict[str, Any] | None:
        """The job to do now: one already started, else the first open job in route order."""
        started = [j for j in self.open_jobs if j.get("status") in ("en_route", "on_site")]
        return (started or self.open_jobs or [None])[0]

    # ---- alerts -------------------------------------------------------------------------------------
    def alert(self, kind: str, text: str, job_id: int | None = None) -> Alert:
        item = Alert(kind, text, job_id)
        self.update(alerts=[*self.alerts, item])
        return item

    def dismiss_alert(self, item: Alert | None = None) -> None:
        """Dismiss one alert (the oldest when none is given)."""
        if not self.alerts:
            return
        target = item or self.alerts[0]
        self.update(alerts=[a for a in self.alerts if a is not target])
