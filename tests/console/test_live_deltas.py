"""Live updates as deltas: a technician's position ping moves their marker on an open console and reloads nothing
(before, each ping made every console download the whole job list again and redraw it)."""

from __future__ import annotations

import time
from typing import Any

from tests.console.conftest import LiveServer, sign_in

PINGS = "Number(document.querySelector('#dispatch-map').dataset.pings || 0)"
ANA = ".leaflet-marker-icon.tech-icon[title^='Ana']"


def _marker_centre(page: Any) -> tuple[float, float]:
    box = page.locator(ANA).bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def test_a_position_ping_moves_the_marker_without_reloading_jobs(live_server: LiveServer, page_factory: Any) -> None:
    page = page_factory()
    sign_in(page, live_server, "dispatcher")
    page.wait_for_selector("#dispatch-map[data-streets][data-jobs]")
    token = live_server.token("ana")

    def ping(lat: float, lon: float) -> None:
        status, body = live_server.request("POST", "/technicians/me/location", token=token,
                                           body={"lat": lat, "lon": lon, "accuracy_m": 10})
        assert status == 202, body

    deadline = time.monotonic() + 60  # until the page's event socket is open: pings sent before are not seen
    while page.evaluate(PINGS) < 1 and time.monotonic() < deadline:
        ping(39.2900, -76.5800)
        page.wait_for_timeout(1500)
    assert page.evaluate(PINGS) >= 1
    page.wait_for_timeout(1000)  # any reload the first ping started (it should start none) is over
    seen = page.evaluate(PINGS)
    first = _marker_centre(page)
    assert page.locator(ANA).get_attribute("title").endswith("live position")
    reloads: list[str] = []
    page.on("request", lambda r: reloads.append(r.url) if "/jobs" in r.url or "/plans/current" in r.url else None)
    ping(39.2950, -76.5700)
    ping(39.2960, -76.5690)
    deadline = time.monotonic() + 30  # polled from here: the page's CSP forbids the eval wait_for_function uses
    while page.evaluate(PINGS) < seen + 2 and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert page.evaluate(PINGS) >= seen + 2
    page.wait_for_timeout(1000)  # a reload, had one been scheduled, would have started (400 ms debounce)
    assert reloads == []
    last = _marker_centre(page)
    assert abs(last[0] - first[0]) + abs(last[1] - first[1]) > 5  # ~800 m north-east: the marker moved


def test_a_job_created_elsewhere_appears_in_the_queue_without_a_reload(live_server: LiveServer,
                                                                       page_factory: Any) -> None:
    """Before, a job made through the API (or by another dispatcher) raised no event: an open console showed it only
    at its next reload. Now the event carries the job and the console patches it in."""
    page = page_factory()
    sign_in(page, live_server, "dispatcher")
    page.wait_for_selector("#dispatch-map[data-streets][data-jobs]")
    page.wait_for_selector(".queue-item")
    page.wait_for_timeout(1500)  # the event socket is open and the first load is over
    reloads: list[str] = []
    page.on("request", lambda r: reloads.append(r.url) if "/jobs" in r.url or "/plans/current" in r.url else None)
    token = live_server.token("dispatcher")
    status, job = live_server.request("POST", "/jobs", token=token, body={
        "title": "Fallen sign <b>bold</b>", "category": "streetlight", "required_skills": {"nobody_has": 1},
        "duration_min": 30, "priority": 4, "lat": 39.2905, "lon": -76.5800})
    assert status == 201, job
    item = page.locator(f".queue-item[data-job-id='{job['id']}']")
    item.wait_for(timeout=30_000)
    assert "Fallen sign <b>bold</b>" in item.inner_text()  # text, never markup
    assert reloads == []
