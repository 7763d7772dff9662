"""A new horizon plan reaches an open board as a live event: the server publishes ``horizon.updated`` when it stores a
horizon, and the dispatcher's board reads ``GET /horizon`` again (and nothing else) and draws the new tentative
visit on its later day, without a reload. Before, the board read the horizon only on a full reload."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.conftest import WORKING_TZ
from tests.console.conftest import LiveServer, sign_in
from tests.console.test_board_week_browser import plan_horizon, show_day

pytestmark = [pytest.mark.browser, pytest.mark.timeout(400)]


def test_a_new_horizon_plan_reaches_an_open_board_without_a_reload(live_server: LiveServer, page_factory: Any) -> None:
    token = live_server.token("dispatcher")
    page = page_factory()
    sign_in(page, live_server, "dispatcher")
    page.wait_for_selector(".tl-row")
    page.wait_for_selector("#dispatch-map[data-streets]")
    reads: list[str] = []
    page.on("request", lambda r: reads.append(r.url))

    # A job wanted two working days from now, 10:00-12:00 on the service area's clock: the horizon's business.
    tz = ZoneInfo(WORKING_TZ)
    today = datetime.now(tz).date()
    later = [d for d in (today + timedelta(days=k) for k in range(1, 10)) if d.isoweekday() <= 5][1]
    _, jobs = live_server.request("GET", "/jobs?status=unassigned&limit=20", token=token)
    model = jobs["items"][0]
    start = datetime(later.year, later.month, later.day, 10, 0, tzinfo=tz)
    status, job = live_server.request("POST", "/jobs", token=token, body={
        "title": "Inspect the hydrant (booked two days ahead)", "category": model["category"],
        "required_skills": model["required_skills"], "lat": model["lat"], "lon": model["lon"],
        "address": model["address"], "priority": 6, "duration_min": 30,
        "time_windows": [{"start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat()}]})
    assert status == 201, job
    horizon = plan_horizon(live_server, token)
    visit = next((v for v in horizon["visits"] if v["job_id"] == job["id"]), None)
    assert visit is not None, horizon["unassigned"]

    tab = page.locator(f".board-days button[data-day='{visit['day']}']")
    expect(tab).to_be_visible(timeout=30_000)
    show_day(page, visit["day"])
    expect(page.locator(f".tl-bar.tentative[data-job-id='{job['id']}']")).to_have_count(1, timeout=30_000)
    assert any(re.search(r"/horizon$", u) for u in reads)  # the horizon read again...
    assert not [u for u in reads if re.search(r"/jobs\?", u)]  # ...and no job list: no reload
