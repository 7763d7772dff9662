"""Where the technician is: plyer's GPS on a phone; on the desktop a fixed position (``--position``) or,
with ``--simulate``, a position that drives toward the next stop. Positions go to the server every 30 s."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from kivy.clock import Clock
from kivy.utils import platform

if TYPE_CHECKING:
    from mobile_app.controller import Controller

log = logging.getLogger("groundcrew.mobile")
PING_EVERY_S = 30.0


class PositionSource:
    def __init__(self, controller: Controller, *, fixed: tuple[float, float] | None = None,
                 simulate: bool = False) -> None:
        self.controller = controller
        self.fixed = fixed
        self.simulate = simulate
        self.latest: tuple[float, float] | None = fixed or controller.state.position
        self.accuracy_m: float | None = None  # the GPS fix's stated accuracy (m); None for fixed or simulated
        self._event = None
        self._gps = False

    def start(self) -> None:
        if self._event is not None:
            return
        if platform == "android":
            try:
                from plyer import gps

                gps.configure(on_location=self._on_gps)
                gps.start(minTime=10_000, minDistance=10)
                self._gps = True
            except Exception as exc:  # permission refused or no GPS: the app still works without it
                log.warning("GPS unavailable: %s", exc)
        self._event = Clock.schedule_interval(lambda _dt: self.ping(), PING_EVERY_S)
        Clock.schedule_once(lambda _dt: self.ping(), 0.5)

    def stop(self) -> None:
        if self._event is not None:
            self._event.cancel()
            self._event = None
        if self._gps:
            from plyer import gps

            gps.stop()

    def _on_gps(self, **kwargs: float) -> None:
        """plyer's callback: lat, lon, speed, bearing, altitude and accuracy (m) on Android."""
        self.latest = (float(kwargs["lat"]), float(kwargs["lon"]))
        accuracy = kwargs.get("accuracy")
        self.accuracy_m = float(accuracy) if accuracy is not None and float(accuracy) > 0 else None

    def ping(self) -> None:
        if self.simulate:
            self._drive()
        if self.latest is not None:
            self.controller.report_position(*self.latest, accuracy_m=self.accuracy_m)

    def _drive(self, step: float = 0.25) -> None:
        """Move a quarter of the way to the next job (desktop demo)."""
        job = self.controller.state.next_job
        if job is None:
            return
        if self.latest is None:
            self.latest = (job["lat"] + 0.006, job["lon"] - 0.006)
            return
        lat, lon = self.latest
        self.latest = (lat + (job["lat"] - lat) * step, lon + (job["lon"] - lon) * step)
