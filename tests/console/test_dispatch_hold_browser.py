"""A job the dispatcher unassigned by hand waits in the queue as held (the re-plan after the override no longer puts it
back), says so, and goes back to the planner with one button. Debian's Chromium against the real demo server;
screenshot docs/screenshots/console-held-job.png."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import ROOT
from tests.console.conftest import LiveServer, assignable, sign_in
from tests.console.test_board import ensure_plan

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


def test_a_held_job_says_so_and_is_released_to_the_planner(live_server: LiveServer, page_factory: Any) -> None:
    token = live_server.token("dispatcher")
    ensure_plan(live_server, token)
    _, assigned = live_server.request("GET", "/jobs?status=assigned&limit=200", token=token)
    job = next((j for j in assigned["items"] if not j.get("booked_start")), None)
    if job is None:  # earlier tests in the session may have taken every planned job: plan one
        job_id, tech_id = assignable(live_server, token)
        status, body = live_server.request("POST", "/dispatch/overrides/commit", token=token,
                                           body={"action": "assign", "job_id": job_id, "technician_id": tech_id})
        assert status == 200, body
        job = {"id": job_id}
    status, body = live_server.request("POST", "/dispatch/overrides/commit", token=token,
                                       body={"action": "unassign", "job_id": job["id"]})
    assert status == 200, body
    replan = body["replan_solve_id"]
    deadline = time.monotonic() + 120
    while replan:  # the re-plan the override asked for has run, and left the job where the dispatcher put it
        _, solve = live_server.request("GET", f"/dispatch/solves/{replan}", token=token)
        if solve["status"] not in ("queued", "running"):
            break
        assert time.monotonic() < deadline, solve
        time.sleep(0.3)
    _, held = live_server.request("GET", f"/jobs/{job['id']}", token=token)
    assert (held["status"], held["dispatch_hold"]) == ("unassigned", True), held

    page = page_factory()
    sign_in(page, live_server, "dispatcher")
    page.locator("#queue-search").fill(f"#{job['id']}")
    card = page.locator(f".queue-item[data-job-id='{job['id']}']")
    expect(card.locator(".qi-why")).to_contain_text("Held by a dispatcher", timeout=30_000)
    release = card.get_by_role("button", name="Release to planner")
    expect(release).to_be_visible()
    page.screenshot(path=ROOT / "docs" / "screenshots" / "console-held-job.png")
    release.click()
    expect(card.get_by_role("button", name="Release to planner")).to_have_count(0, timeout=30_000)
    _, after = live_server.request("GET", f"/jobs/{job['id']}", token=token)
    assert after["dispatch_hold"] is False, after
