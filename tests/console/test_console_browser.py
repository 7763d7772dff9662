"""The web console in Debian's Chromium against a real server with the demo city: dispatcher and agent
journeys, and the bad paths (expired session, a conflicting edit, server errors). Screenshots go to the
``output_dir`` of each test."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest

from tests.console.conftest import LiveServer, assignable, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


def test_dispatcher_sees_jobs_streets_and_queue(live_server: LiveServer, page_factory: Any, output_dir: Path) -> None:
    # The demo plans every job, and other tests leave theirs in the queue: two jobs with SLAs give the order to check.
    token = live_server.token("dispatcher")
    _, planned = live_server.request("GET", "/jobs?status=assigned&limit=2", token=token)
    for k, model in enumerate(planned["items"]):
        due = (datetime.now(UTC) + timedelta(hours=3 + 5 * k)).isoformat()
        status, body = live_server.request("POST", "/jobs", token=token, body={
            "title": f"Queue order {k + 1}", "category": model["category"], "required_skills": model["required_skills"],
            "priority": 5, "duration_min": 30, "lat": model["lat"] + 0.0003, "lon": model["lon"],
            "address": model["address"], "sla_due_at": due})
        assert status == 201, body
    page = page_factory()
    sign_in(page, live_server, "dispatcher")
    page.wait_for_selector("#dispatch-map[data-streets][data-jobs]")
    the_map = page.locator("#dispatch-map")
    assert int(the_map.get_attribute("data-streets")) > 1000  # our own street GeoJSON, no tile server
    token = live_server.token("dispatcher")
    _, jobs = live_server.request("GET", "/jobs?limit=500", token=token)
    open_jobs = [j for j in jobs["items"] if j["status"] in ("unassigned", "assigned", "en_route", "on_site")]
    assert int(the_map.get_attribute("data-jobs")) == len(open_jobs)
    assert "OpenStreetMap" in page.locator(".leaflet-control-attribution").inner_text()
    # The queue holds exactly the unassigned jobs, least SLA slack first, each with a reason.
    page.wait_for_selector(".queue-item")
    ids = [int(x) for x in page.locator(".queue-item").evaluate_all("els => els.map(e => e.dataset.jobId)")]
    unassigned = {j["id"]: j for j in jobs["items"] if j["status"] == "unassigned"}
    assert set(ids) == set(unassigned)
    due = [unassigned[i]["sla_due_at"] for i in ids if unassigned[i]["sla_due_at"]]
    # Jobs nobody can do (a skill no technician has) are grouped apart at the end: the SLA order is of the others.
    plannable = [int(x) for x in page.locator(".queue-item:not(.dead-end)")
                 .evaluate_all("els => els.map(e => e.dataset.jobId)")]
    slack = [(j["sla_due_at"], j["duration_min"]) for j in (unassigned[i] for i in plannable) if j["sla_due_at"]]
    assert due and slack == sorted(slack, key=lambda d: (time.mktime(time.strptime(d[0][:19], "%Y-%m-%dT%H:%M:%S"))
                                                        - d[1] * 60))
    assert "Why unassigned:" in page.locator(".queue-item").first.inner_text()
    page.wait_for_selector(".tl-row[data-tech-id]")
    assert page.locator(".tl-row[data-tech-id]").count() == 8
    page.screenshot(path=output_dir / "dispatcher-map.png")


def test_dispatcher_assigns_with_preview_and_sees_the_route_change(
    live_server: LiveServer, page_factory: Any, output_dir: Path
) -> None:
    if not live_server.has("post", "/dispatch/overrides/preview"):
        pytest.skip("the server has no POST /dispatch/overrides/preview yet")
    token = live_server.token("dispatcher")
    status, plan = live_server.request("GET", "/plans/current", token=token)
    before = plan["version"] if status == 200 else 0
    # Both jobs before the page loads (a job made for the test reaches an open page only with its next reload).
    job_id, _ = assignable(live_server, token)
    other_id, _ = assignable(live_server, token, exclude=frozenset({job_id}))
    page = page_factory()
    sign_in(page, live_server, "dispatcher")
    page.wait_for_selector(f"#plan-version[data-version='{before}']")
    page.wait_for_selector("#dispatch-map[data-streets]")
    page.screenshot(path=output_dir / "1-plan-before.png")
    page.locator(f".queue-item[data-job-id='{job_id}']").get_by_role("button", name="Assign…").click()
    page.wait_for_selector("#recommendations .rec", timeout=60_000)
    choice = page.locator("#recommendations .rec").first  # the cheapest recommendation
    tech_id = int(choice.get_attribute("data-tech-id"))
    choice.click()
    page.wait_for_selector("#confirm-assign", timeout=60_000)
    preview = page.locator("#assign-preview").inner_text()
    assert "Added travel" in preview and "Feasible" in preview
    page.screenshot(path=output_dir / "2-assign-preview.png")
    page.locator("#confirm-assign").click()
    page.wait_for_selector(".notice-ok")
    # The technician's row in the day timeline now holds the job, and the route on the map follows.
    page.wait_for_selector(f".tl-row[data-tech-id='{tech_id}'] .tl-hit[data-job-id='{job_id}']", timeout=30_000)
    assert page.locator(f".queue-item[data-job-id='{job_id}']").count() == 0
    _, job = live_server.request("GET", f"/jobs/{job_id}", token=token)
    assert job["status"] == "assigned" and job["assigned_technician_id"] == tech_id
    _, routes = live_server.request("GET", "/map/routes", token=token)
    mine = [f for f in routes["features"] if f["properties"]["technician_id"] == tech_id]
    assert mine and job_id in mine[0]["properties"]["job_ids"]
    page.wait_for_function(f"Number(document.querySelector('#plan-version').dataset.version) > {before}")
    page.wait_for_selector("#dispatch-map[data-routes]")
    # The first plan has no previous one to diff against: no "N moved" chip (read in one go: a later plan may land).
    version, has_diff = page.evaluate(
        "() => [document.querySelector('#plan-version').dataset.version, !!document.querySelector('#plan-diff')]")
    if version == "1":
        assert not has_diff
    page.screenshot(path=output_dir / "3-after-assign.png")

    # Live: another dispatcher assigns a job through the API; this page updates with no reload.
    _, why = live_server.request("GET", f"/dispatch/jobs/{other_id}/explain", token=token)
    if why.get("alternatives"):
        other_tech = why["alternatives"][0]["technician_id"]
    else:
        # The first assignment took the room the second job needed: build one that fits, and reload so the page
        # knows it (creating a job sends no live event). The assignment below still reaches the page live.
        other_id, other_tech = assignable(live_server, token, exclude=frozenset({job_id, other_id}))
        page.reload()
        page.wait_for_selector("#dispatch-map[data-streets]")
    page.wait_for_selector(f".queue-item[data-job-id='{other_id}']")
    status, body = live_server.request("POST", "/dispatch/overrides/commit", token=token,
                                       body={"action": "assign", "job_id": other_id, "technician_id": other_tech})
    assert status == 200, body
    page.wait_for_selector(f".queue-item[data-job-id='{other_id}']", state="detached", timeout=30_000)
    page.wait_for_selector("#plan-diff", timeout=30_000)  # a later plan shows what moved since the previous one
    assert "moved" in page.locator("#plan-diff").inner_text()
    page.screenshot(path=output_dir / "4-after-live-assign.png")


def test_agent_opens_customer_and_hands_off_a_case(
    live_server: LiveServer, page_factory: Any, output_dir: Path
) -> None:
    token = live_server.token("agent")
    _, cases = live_server.request("GET", "/cases?status=open&limit=200", token=token)
    case = next(c for c in cases["items"] if c["lat"] is not None and c["job_id"] is None)
    page = page_factory()
    sign_in(page, live_server, "agent")
    page.wait_for_selector(".inbox-row")
    page.screenshot(path=output_dir / "1-inbox.png")
    page.goto(f"{live_server.url}/#/inbox/{case['conversation_id']}")
    page.wait_for_selector("#case-panel")
    assert page.locator("#case-panel").get_attribute("data-case-id") == str(case["id"])
    page.wait_for_selector("#customer-360 h2")
    assert "Identities" in page.locator("#customer-360").inner_text()
    page.get_by_role("button", name="Hand off to field…").click()
    page.wait_for_selector("#handoff-map .pin-icon")
    page.wait_for_selector("#handoff-map[data-streets]")
    pin = page.locator("#handoff-map .pin-icon").bounding_box()
    x, y = pin["x"] + pin["width"] / 2, pin["y"] + pin["height"] - 4
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 40, y + 25, steps=8)
    page.mouse.up()
    page.wait_for_selector("#handoff-map[data-lat]")
    lat = float(page.locator("#handoff-map").get_attribute("data-lat"))
    lon = float(page.locator("#handoff-map").get_attribute("data-lon"))
    assert (lat, lon) != (case["lat"], case["lon"]) and lat < case["lat"] and lon > case["lon"]
    page.screenshot(path=output_dir / "2-handoff-pin-moved.png")
    page.locator("#confirm-handoff").click()
    page.wait_for_selector(".notice-ok, #handoff-error .inline-error")
    page.screenshot(path=output_dir / "3-after-handoff.png")
    if not live_server.has("post", "/cases/{case_id}/handoff"):
        text = page.locator("#handoff-error").inner_text()
        assert "does not offer POST /cases/" in text
        pytest.skip("the server has no POST /cases/{case_id}/handoff yet: the page says so (see the screenshot)")
    _, after = live_server.request("GET", f"/cases/{case['id']}", token=token)
    assert after["status"] == "handed_off" and after["job_id"]
    _, job = live_server.request("GET", f"/jobs/{after['job_id']}", token=token)
    assert abs(job["lat"] - lat) < 1e-4 and abs(job["lon"] - lon) < 1e-4


def test_reply_escapes_hostile_text(live_server: LiveServer, page_factory: Any, output_dir: Path) -> None:
    token = live_server.token("agent")
    hostile = "<img src=x onerror=\"window.__pwned=1\"><b>bold</b>"
    status, msg = live_server.request("POST", "/conversations/inbound", token=token, body={
        "channel": "webform", "external_id": "console-test-1", "author_handle": "mallory@example.org",
        "author_name": "<script>window.__pwned=2</script>Mallory", "text": hostile})
    assert status in (200, 201), msg
    page = page_factory()
    sign_in(page, live_server, "agent")
    page.goto(f"{live_server.url}/#/inbox/{msg['conversation_id']}")
    page.wait_for_selector(".msg-text")
    assert hostile in page.locator(".msg-text").first.inner_text()
    assert page.locator(".msg img, .msg b, .msg script").count() == 0
    assert page.evaluate("window.__pwned") is None
    page.get_by_label(re.compile("^Reply to")).fill("Thanks — a crew is on the way.")
    page.get_by_role("button", name=re.compile("^Send on")).click()
    page.wait_for_selector(".msg-outbound")
    page.screenshot(path=output_dir / "reply.png")


def test_expired_session_asks_to_sign_in_again(live_server: LiveServer, page_factory: Any, output_dir: Path) -> None:
    page = page_factory()
    sign_in(page, live_server, "dispatcher")
    page.wait_for_selector(".queue-item")
    secret = (live_server.data_dir / "secret_key").read_text().strip()
    past = int(time.time()) - int(timedelta(days=30).total_seconds())

    def expired(kind: str) -> str:
        return jwt.encode({"sub": "2", "role": "dispatcher", "typ": kind, "iat": past, "exp": past + 60}, secret,
                          algorithm="HS256")

    page.evaluate("([a, r]) => { const s = JSON.parse(sessionStorage.getItem('groundcrew.session'));"
                  " s.access_token = a; s.refresh_token = r; sessionStorage.setItem('groundcrew.session',"
                  " JSON.stringify(s)); }", [expired("access"), expired("refresh")])
    page.get_by_role("link", name="Operations").click()
    page.wait_for_selector("#signin-reason")
    assert "session has expired" in page.locator("#signin-reason").inner_text()
    page.screenshot(path=output_dir / "expired.png")
    sign_in(page, live_server, "dispatcher")  # and signing in again works
    page.wait_for_selector(".queue-item")


def test_conflicting_edit_is_refused_with_an_explanation(
    live_server: LiveServer, page_factory: Any, output_dir: Path
) -> None:
    page = page_factory()
    sign_in(page, live_server, "dispatcher")
    item = page.locator(".queue-item").first
    job_id = int(item.get_attribute("data-job-id"))
    item.get_by_role("button", name="Edit…").click()
    page.get_by_label("Priority (1–10)").fill("9")
    # Meanwhile another dispatcher saves the same job.
    token = live_server.token("admin")
    _, job = live_server.request("GET", f"/jobs/{job_id}", token=token)
    status, theirs = live_server.request("PATCH", f"/jobs/{job_id}", token=token,
                                         body={"description": "changed by the other dispatcher",
                                               "version": job["version"]})
    assert status == 200, theirs
    page.get_by_role("button", name="Save").click()
    page.wait_for_selector("#edit-error [role=alert]")
    text = page.locator("#edit-error").inner_text()
    assert "Not saved" in text and "someone else" in text
    page.screenshot(path=output_dir / "conflict.png")
    _, after = live_server.request("GET", f"/jobs/{job_id}", token=token)
    assert after["description"] == "changed by the other dispatcher" and after["priority"] == job["priority"]
    page.get_by_role("button", name="Load their version").click()
    page.wait_for_selector("#edit-description")
    assert page.locator("#edit-description").input_value() == "changed by the other dispatcher"


def test_server_errors_become_clear_messages(live_server: LiveServer, page_factory: Any, output_dir: Path) -> None:
    page = page_factory()
    page.route(re.compile(r".*/jobs\?.*"), lambda route: route.fulfill(
        status=500, content_type="application/json", body='{"detail":"database error"}'))
    sign_in(page, live_server, "dispatcher")
    alert = page.locator(".notice-error").first
    alert.wait_for()
    assert "could not complete GET /jobs" in alert.inner_text() and "database error" in alert.inner_text()
    page.screenshot(path=output_dir / "server-error.png")
    page.unroute(re.compile(r".*/jobs\?.*"))
    # A server that cannot be reached at all.
    page.route(re.compile(r".*/(console/)?inbox\?.*"), lambda route: route.abort())
    page.get_by_role("link", name="Inbox").click()
    page.wait_for_selector("text=Cannot reach the server")


def test_tablet_layout_and_keyboard(live_server: LiveServer, page_factory: Any, output_dir: Path) -> None:
    page = page_factory(width=1024, height=768)
    page.goto(live_server.url + "/")
    # Keyboard only: the sign-in form, then reach a queue item's Assign button.
    page.keyboard.type("dispatcher")
    page.keyboard.press("Tab")
    page.keyboard.type("console-pass-1")
    page.keyboard.press("Enter")
    page.wait_for_selector(".queue-item")
    for width, height, name in ((1024, 768, "tablet-landscape"), (768, 1024, "tablet-portrait")):
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(300)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{name}: {overflow}px of horizontal scrolling"
        page.screenshot(path=output_dir / f"{name}.png")
    # Every form control has a label; every button has a name.
    unlabeled = page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')]
        .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.outerHTML)""")
    assert not unlabeled
    nameless = page.evaluate("""() => [...document.querySelectorAll('button')]
        .filter(b => !(b.innerText.trim() || b.getAttribute('aria-label') || b.title)).length""")
    assert nameless == 0
    page.locator(".queue-item").first.get_by_role("button", name="Assign…").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("dialog[open]")
    page.keyboard.press("Escape")
    page.wait_for_selector("dialog", state="detached")


def test_operations_view_draws_charts(live_server: LiveServer, page_factory: Any, output_dir: Path) -> None:
    page = page_factory()
    sign_in(page, live_server, "agent")
    page.get_by_role("link", name="Operations").click()
    for card in ("status", "breaches"):
        page.wait_for_selector(f"#chart-{card}")
        assert page.locator(f"#chart-{card}").get_attribute("aria-label")  # a text summary beside each picture
    # A chart was really painted: the canvas has non-blank pixels.
    painted = page.evaluate("""() => { const c = document.querySelector('#chart-status');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }""")
    assert painted > 500
    for card in ("response", "travel", "utilization"):
        page.wait_for_selector(f"#card-{card}")
    page.screenshot(path=output_dir / "operations.png", full_page=True)


def test_drag_a_job_onto_a_technician_opens_the_preview(
    live_server: LiveServer, page_factory: Any, output_dir: Path
) -> None:
    job_id, tech_id = assignable(live_server, live_server.token("dispatcher"))
    page = page_factory()
    sign_in(page, live_server, "dispatcher")
    job = page.locator(f".queue-item[data-job-id='{job_id}']")
    lane = page.locator(f".tl-row[data-tech-id='{tech_id}'] .tl-lane")
    name = page.locator(f".tl-row[data-tech-id='{tech_id}'] .tl-tech").inner_text()
    # The same DragEvents a mouse drag fires (dragstart on the job, dragover and drop on the row), with one
    # DataTransfer carrying the job id between them.
    transfer = page.evaluate_handle("() => new DataTransfer()")
    job.dispatch_event("dragstart", {"dataTransfer": transfer})
    lane.dispatch_event("dragover", {"dataTransfer": transfer})
    lane.dispatch_event("drop", {"dataTransfer": transfer})
    page.wait_for_selector("#confirm-assign", timeout=60_000)
    assert f"Dropped on {name}" in page.locator("#recommendations").inner_text()
    assert "Added travel" in page.locator("#assign-preview").inner_text()
    page.screenshot(path=output_dir / "dropped.png")
    page.get_by_role("button", name="Cancel").click()
    page.wait_for_selector("dialog", state="detached")


def test_pin_and_lock_from_the_timeline(live_server: LiveServer, page_factory: Any, output_dir: Path) -> None:
    token = live_server.token("dispatcher")
    _, jobs = live_server.request("GET", "/jobs?status=assigned&limit=1", token=token)
    if not jobs["items"]:
        job_id, tech_id = assignable(live_server, token)
        status, body = live_server.request("POST", "/dispatch/overrides/commit", token=token, body={
            "action": "assign", "job_id": job_id, "technician_id": tech_id})
        assert status == 200, body
    page = page_factory()
    sign_in(page, live_server, "dispatcher")
    stop = page.locator(".tl-hit").first
    job_id = int(stop.get_attribute("data-job-id"))
    tech_id = int(stop.evaluate("e => e.closest('.tl-row').dataset.techId"))
    _, before = live_server.request("GET", f"/jobs/{job_id}", token=token)
    stop.click()  # selects it on the board (and the map); its details are one button away
    page.locator("#details-selected").click()
    page.wait_for_selector("dialog[open]")
    # An assignment made by a dispatcher is pinned already; either way the dialog offers the other state.
    page.get_by_role("button", name=re.compile("^Unpin" if before["pinned"] else "^Pin to ")).click()
    page.wait_for_selector(".notice-ok")
    _, job = live_server.request("GET", f"/jobs/{job_id}", token=token)
    assert job["pinned"] is not before["pinned"] and job["assigned_technician_id"] == tech_id
    lock = page.locator(f".tl-row[data-tech-id='{tech_id}'] button.lock")
    lock.click()
    page.wait_for_selector(f".tl-row[data-tech-id='{tech_id}'] button.lock[aria-pressed='true']", timeout=30_000)
    page.screenshot(path=output_dir / "pinned-and-locked.png")
    page.locator(f".tl-row[data-tech-id='{tech_id}'] button.lock").click()  # unlock again for the other tests
    page.wait_for_selector(f".tl-row[data-tech-id='{tech_id}'] button.lock[aria-pressed='false']", timeout=30_000)
