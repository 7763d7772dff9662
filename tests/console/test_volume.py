"""The dispatcher's queue and map at volume, in Debian's Chromium against the real demo server: search, filters,
grouping, dead-end jobs apart, bulk re-prioritise and cancel through the per-job API, map clustering, dates and
names instead of ids. A 5,000-job list (served in place of GET /jobs, over the demo's real technicians, plan and
streets) measures the time to a usable queue and checks the list and the map stay small in the page.
Screenshots at 1366×768 go to docs/screenshots/."""

from __future__ import annotations

import json
import random
import re
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import ROOT
from tests.console.conftest import LiveServer, assignable, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

SHOTS = ROOT / "docs" / "screenshots"
QUEUE_PAGE = 100  # web/src/views/dispatch.ts QUEUE_PAGE


def queue_ids(page: Any) -> list[int]:
    return [int(x) for x in page.locator(".queue-item").evaluate_all("els => els.map(e => e.dataset.jobId)")]


def matched(page: Any) -> int:
    return int(page.locator("#queue-count").get_attribute("data-matched"))


def wait_matched(page: Any, n: int) -> None:
    """Until the queue says it matches ``n`` jobs (predicates are functions: the console's CSP forbids eval)."""
    page.wait_for_function("n => document.querySelector('#queue-count').dataset.matched === String(n)", arg=n)


def wait_items(page: Any, n: int) -> None:
    page.wait_for_function("n => document.querySelectorAll('.queue-item').length === n", arg=n)


def wait_only(page: Any, job_id: int) -> None:
    """Until the queue shows exactly this one job (the search is debounced: the previous list stays a moment)."""
    page.wait_for_function("id => { const items = [...document.querySelectorAll('.queue-item')];"
                           " return items.length === 1 && items[0].dataset.jobId === String(id)"
                           " && document.querySelector('#queue-count').dataset.matched === '1'; }", arg=job_id)


def all_jobs(server: LiveServer, token: str) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = []
    while True:
        _, body = server.request("GET", f"/jobs?limit=500&offset={len(jobs)}", token=token)
        jobs += body["items"]
        if len(jobs) >= body["total"] or not body["items"]:
            return jobs


def skilled(server: LiveServer, token: str) -> set[str]:
    _, techs = server.request("GET", "/technicians?limit=500", token=token)
    return {s for t in techs["items"] for s in t["skills"]}


def test_search_filter_group_and_dead_ends_apart(live_server: LiveServer, page_factory: Any, output_dir: Path) -> None:
    token = live_server.token("dispatcher")
    # A job nobody can do (a skill no technician has), urgent and past its SLA: it must not sit on top.
    sample = all_jobs(live_server, token)[0]
    status, body = live_server.request("POST", "/jobs", token=token, body={
        "title": "Gas main leak survey", "category": "gas", "required_skills": {"gas_fitting": 2}, "priority": 9,
        "lat": sample["lat"], "lon": sample["lon"], "address": "1 Test Gasworks Row",
        "sla_due_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat()})
    assert status == 201, body
    # and one the search below can find by a word of its address, whatever other tests left in the queue
    status, found = live_server.request("POST", "/jobs", token=token, body={
        "title": "Hydrant check", "category": sample["category"], "required_skills": sample["required_skills"],
        "priority": 4, "lat": sample["lat"] + 0.0004, "lon": sample["lon"], "address": "2100 Eastern Avenue"})
    assert status == 201, found
    # and a reported job back in the queue (the search by a reporter's name below), whatever other tests planned
    queued = [j for j in all_jobs(live_server, token) if j["status"] == "unassigned" and j["reporter_count"]]
    planned = [j for j in all_jobs(live_server, token) if j["status"] == "assigned" and j["reporter_count"]]
    for reported_job in planned[:max(0, 2 - len(queued))]:  # two: the search target below may be one of them
        status, out = live_server.request("POST", "/dispatch/overrides/commit", token=token,
                                          body={"action": "unassign", "job_id": reported_job["id"]})
        assert status == 200, out
    jobs = all_jobs(live_server, token)
    skills = skilled(live_server, token)
    unassigned = [j for j in jobs if j["status"] == "unassigned"]
    dead = {j["id"] for j in unassigned if not set(j["required_skills"]) <= skills}
    page = page_factory()
    sign_in(page, live_server, "dispatcher")
    page.wait_for_selector(".queue-item")
    assert matched(page) == len(unassigned)
    # Dead-end jobs (a skill nobody has) come after every job a plan can take, in a group of their own.
    ids = queue_ids(page)
    assert body["id"] in dead
    first_dead = min(i for i, job_id in enumerate(ids) if job_id in dead)
    assert set(ids[first_dead:]) == dead and not dead & set(ids[:first_dead])
    assert page.locator(".queue-group.dead-end").count() == 1
    assert "Nobody can do these" in page.locator(".queue-group.dead-end").inner_text()
    last = page.locator(f".queue-item[data-job-id='{body['id']}']").inner_text()
    assert "no technician with the required skill" in last and "Gas fitting level 2" in last

    # Search: by words of the address, by job id.
    target = next(j for j in unassigned if j["address"])
    word = max(re.findall(r"[A-Za-z]{4,}", target["address"]), key=len)
    page.get_by_label("Search jobs").fill(word)
    expected = {j["id"] for j in unassigned if word.lower() in (j["address"] or "").lower() + j["title"].lower()}
    wait_matched(page, len(expected))
    assert expected <= set(queue_ids(page)) and target["id"] in queue_ids(page)
    page.get_by_label("Search jobs").fill(f"#{target['id']}")
    wait_only(page, target["id"])
    # A customer's name finds the jobs they reported (names live with the customers: the console asks the server).
    reported = next(j for j in unassigned if j["reporter_count"] and j["id"] != target["id"])
    _, reports = live_server.request("GET", f"/jobs/{reported['id']}/reports", token=token)
    admin = live_server.token("admin")
    status, body = live_server.request("PATCH", f"/customers/{reports[0]['customer_id']}", token=admin,
                                       body={"display_name": "Wilhelmina Quartermaine"})
    assert status == 200, body
    page.get_by_label("Search jobs").fill("quartermaine")
    wait_only(page, reported["id"])
    page.get_by_label("Search jobs").fill("no such job anywhere zzzz")
    page.wait_for_selector("#queue-list .empty-note")
    page.get_by_label("Search jobs").fill("")

    # Filters: service and priority, each the same set the API holds.
    category = max({j["category"] for j in unassigned}, key=lambda c: sum(j["category"] == c for j in unassigned))
    page.get_by_label("Filter by service").select_option(category)
    want = {j["id"] for j in unassigned if j["category"] == category}
    wait_matched(page, len(want))
    assert set(queue_ids(page)) == want
    page.get_by_label("Filter by service").select_option("")
    page.get_by_label("Filter by status").select_option("all")
    page.get_by_label("Filter by priority").select_option("urgent")
    urgent = {j["id"] for j in jobs if j["priority"] >= 8}
    wait_matched(page, len(urgent))
    assert set(queue_ids(page)) <= urgent
    page.get_by_label("Filter by priority").select_option("")

    # Grouping by service: one header per service (the dead-end group apart), each with its count.
    page.get_by_label("Filter by status").select_option("unassigned")
    page.get_by_label("Group by").select_option("service")
    page.wait_for_selector(".queue-group")
    headers = page.locator(".queue-group:not(.dead-end) .group-toggle").all_inner_texts()
    live_categories = {j["category"] for j in unassigned if j["id"] not in dead}
    assert len(headers) == len(live_categories)
    toggles = page.locator(".queue-group .group-toggle").all_inner_texts()
    counts = sum(int(re.search(r"\((\d+)\)", t).group(1)) for t in toggles)
    assert counts == len(unassigned)
    page.screenshot(path=SHOTS / "console-queue-grouped.png")
    # On a tablet the panes stack; the search and filters still fit without sideways scrolling.
    page.set_viewport_size({"width": 1024, "height": 768})
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1
    page.locator(".queue-pane").scroll_into_view_if_needed()
    page.screenshot(path=SHOTS / "console-queue-tablet.png")
    page.set_viewport_size({"width": 1366, "height": 768})
    # A group folds away to its header.
    first = page.locator(".queue-group .group-toggle").first
    n_before = page.locator(".queue-item").count()
    n_group = int(re.search(r"\((\d+)\)", first.inner_text()).group(1))
    first.click()
    wait_items(page, n_before - n_group)
    assert first.get_attribute("aria-expanded") == "false"

    # Views: a built-in one sets the filters and grouping; one saved here comes back after a reload.
    page.get_by_label("Saved view").select_option(label="Open jobs by technician")
    assert page.get_by_label("Filter by status").input_value() == "open"
    page.wait_for_selector(".queue-group .group-toggle:has-text('Nobody yet')")
    page.get_by_label("Filter by service").select_option(category)
    page.locator("#save-view").click()
    page.locator("#view-name").fill("My service view")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_selector("dialog", state="detached")
    page.reload()
    page.wait_for_selector(".queue-item")
    assert page.get_by_label("Filter by service").input_value() == ""
    page.get_by_label("Saved view").select_option(label="My service view")
    assert page.get_by_label("Filter by service").input_value() == category
    assert page.get_by_label("Group by").input_value() == "technician"
    assert page.get_by_label("Filter by status").input_value() == "open"
    want_open = {j["id"] for j in jobs if j["category"] == category
                 and j["status"] in ("unassigned", "assigned", "en_route", "on_site")}
    wait_matched(page, len(want_open))


def test_the_area_filter_follows_the_map(live_server: LiveServer, page_factory: Any) -> None:
    """"In the map's view": the queue holds the open jobs inside what the map shows, and follows a zoom."""
    token = live_server.token("dispatcher")
    jobs = [j for j in all_jobs(live_server, token) if j["status"] in ("unassigned", "assigned", "en_route", "on_site")]
    page = page_factory()
    sign_in(page, live_server, "dispatcher")
    page.wait_for_selector(".queue-item")
    page.wait_for_selector("#dispatch-map[data-streets]")
    page.get_by_label("Filter by status").select_option("open")
    wait_matched(page, len(jobs))
    page.get_by_label("Filter by area").select_option("map")

    def inside() -> set[int]:
        south, west, north, east = map(float, page.locator("#dispatch-map").get_attribute("data-view").split(","))
        return {j["id"] for j in jobs if south <= j["lat"] <= north and west <= j["lon"] <= east}

    the_map = page.locator("#dispatch-map")
    expect(the_map).to_have_attribute("data-view", re.compile(r"^-?[\d.]+(,-?[\d.]+){3}$"))  # filtered by the view
    before = the_map.get_attribute("data-view")
    page.locator(".leaflet-control-zoom-in").click()
    expect(the_map).not_to_have_attribute("data-view", before)  # the zoom's end redrew the queue for the new view
    want = inside()
    assert 0 < len(want) < len(jobs), "a zoomed-in map shows part of the demo's jobs"
    wait_matched(page, len(want))
    assert set(queue_ids(page)) <= want
    page.get_by_label("Filter by area").select_option("")
    wait_matched(page, len(jobs))


def test_bulk_reprioritise_and_cancel(live_server: LiveServer, page_factory: Any, output_dir: Path) -> None:
    token = live_server.token("dispatcher")
    jobs = all_jobs(live_server, token)
    skills = skilled(live_server, token)
    unassigned = [j for j in jobs if j["status"] == "unassigned"]
    page = page_factory()
    sign_in(page, live_server, "dispatcher")
    page.wait_for_selector(".queue-item")
    # Re-prioritise three jobs at once (ones that are not priority 2 yet).
    chosen = [j for j in unassigned if j["priority"] != 2 and set(j["required_skills"]) <= skills][:3]
    assert len(chosen) == 3
    for j in chosen:
        page.get_by_label(f"Select job {j['id']}: {j['title']}").check()
    assert page.locator("#selected-count").get_attribute("data-count") == "3"
    page.screenshot(path=SHOTS / "console-bulk-selected.png")
    page.get_by_label("New priority").select_option("2")
    page.locator("#bulk-apply-priority").click()
    page.wait_for_selector(".notice-ok:has-text('Priority 2: 3 jobs done')")
    for j in chosen:
        _, after = live_server.request("GET", f"/jobs/{j['id']}", token=token)
        assert after["priority"] == 2 and after["version"] == j["version"] + 1
    # Each change is in the audit trail, as one from the single-job form would be.
    admin = live_server.token("admin")
    for j in chosen:
        status, audit = live_server.request("GET", f"/audit?entity=job&entity_id={j['id']}", token=admin)
        assert status == 200, audit
        assert any(a["action"] == "update" and a["actor"] == "dispatcher" for a in audit["items"]), audit
    page.wait_for_selector("#bulk-bar:not(:has(#selected-count))")  # done jobs leave the selection

    # Cancel two jobs: ones nobody can do first (the demo may have none: then others).
    chosen_ids = {j["id"] for j in chosen}
    nobody = [j for j in unassigned if not set(j["required_skills"]) <= skills]
    dead = (nobody + [j for j in reversed(unassigned) if j not in nobody and j["id"] not in chosen_ids])[:2]
    for j in dead:
        page.get_by_label(f"Select job {j['id']}: {j['title']}").check()
    page.locator("#bulk-cancel").click()
    page.wait_for_selector("#confirm-bulk-cancel")
    page.get_by_label("Reason (kept in each job's history)").fill("duplicate of an open job")
    page.screenshot(path=SHOTS / "console-bulk-cancel.png")
    page.locator("#confirm-bulk-cancel").click()
    page.wait_for_selector(".notice-ok:has-text('Cancel: 2 jobs done')")
    for j in dead:
        _, after = live_server.request("GET", f"/jobs/{j['id']}", token=token)
        assert after["status"] == "cancelled"
        _, events = live_server.request("GET", f"/jobs/{j['id']}/events", token=token)
        assert events[-1]["reason"] == "duplicate of an open job" and events[-1]["actor"] == "dispatcher"
        page.wait_for_selector(f".queue-item[data-job-id='{j['id']}']", state="detached")


def test_names_and_words_not_ids(live_server: LiveServer, page_factory: Any, output_dir: Path) -> None:
    token = live_server.token("dispatcher")
    job_id, tech_id = assignable(live_server, token)
    _, tech = live_server.request("GET", f"/technicians/{tech_id}", token=token)
    page = page_factory()
    sign_in(page, live_server, "dispatcher")
    page.get_by_label("Search jobs").fill(f"#{job_id}")
    wait_only(page, job_id)
    page.locator(f".queue-item[data-job-id='{job_id}']").get_by_role("button", name="Assign…").click()
    page.wait_for_selector("#recommendations .rec", timeout=60_000)
    recs = page.locator("#recommendations").inner_text()
    assert "cost +" not in recs and not re.search(r"technician \d", recs)
    assert "could start" in recs and "driving" in recs
    page.locator("#recommendations .rec").first.click()
    page.wait_for_selector("#confirm-assign", timeout=60_000)
    words = page.locator("#preview-words").inner_text()
    assert "Giving it to" in words and "driving" in words and "arrival time" in words
    assert not re.search(r"technician \d", page.locator("#assign-preview").inner_text())
    assert tech["name"] in page.locator("#assign-preview").inner_text()
    page.screenshot(path=SHOTS / "console-assign-words.png")


def _fixture_jobs(server: LiveServer, token: str, n: int) -> list[dict[str, Any]]:
    """``n`` jobs spread over the demo's service area: real technicians, the demo's services and skills, SLAs from
    two days ago to three days ahead (so dates show), a tenth assigned, a few needing a skill nobody has."""
    _, area = server.request("GET", "/map/service-area", token=token)
    west, south, east, north = area["properties"]["bbox"]
    _, techs = server.request("GET", "/technicians?limit=500", token=token)
    tech_ids = [t["id"] for t in techs["items"]]
    categories = ["roads", "water", "sanitation", "electrical", "housing", "general"]
    rng = random.Random(29)
    now = datetime.now(UTC)
    out = []
    for i in range(n):
        category = rng.choice(categories)
        assigned = rng.random() < 0.1
        due = now + timedelta(minutes=rng.randint(-2 * 24 * 60, 3 * 24 * 60))
        out.append({
            "id": 900_000 + i, "title": f"{category.title()} issue {i}", "description": "", "category": category,
            "required_skills": {"gas": 1} if i % 250 == 0 else {category: 1},
            "duration_min": rng.choice([20, 30, 45, 60]),
            "priority": rng.randint(1, 10), "sla_due_at": due.isoformat(),
            "lat": rng.uniform(south, north), "lon": rng.uniform(west, east),
            "address": f"{rng.randint(1, 4000)} Test Street",
            "location_kind": "address", "location_confidence": 0.9, "status": "assigned" if assigned else "unassigned",
            "assigned_technician_id": rng.choice(tech_ids) if assigned else None, "pinned": False, "eta_at": None,
            "created_at": now.isoformat(), "updated_at": now.isoformat(), "version": 1, "reporter_count": 1,
            "time_windows": [], "geometry": None, "must_not_drop": False,
        })
    return out


def test_five_thousand_jobs(live_server: LiveServer, page_factory: Any, output_dir: Path) -> None:
    token = live_server.token("dispatcher")
    jobs = _fixture_jobs(live_server, token, 5000)
    bodies: dict[tuple[int, int], bytes] = {}

    def serve(route: Any) -> None:
        query = urllib.parse.parse_qs(urllib.parse.urlparse(route.request.url).query)
        offset, limit = int(query.get("offset", ["0"])[0]), int(query.get("limit", ["50"])[0])
        key = (offset, limit)
        if key not in bodies:
            bodies[key] = json.dumps({"items": jobs[offset:offset + limit], "total": len(jobs), "offset": offset,
                                      "limit": limit}).encode()
        route.fulfill(status=200, content_type="application/json", body=bodies[key])

    page = page_factory()
    page.route(re.compile(r".*/jobs\?.*"), serve)
    # Main-thread tasks over 50 ms while the console loads (the Long Tasks API).
    page.add_init_script("window.__long = []; new PerformanceObserver((l) => { for (const e of l.getEntries())"
                         " window.__long.push(e.duration); }).observe({ type: 'longtask', buffered: true });")
    sign_in(page, live_server, "dispatcher")
    page.wait_for_selector(".queue-item")
    page.reload()
    page.wait_for_function("() => !!(document.querySelector('.queue-item')"
                           " && document.querySelector('#dispatch-map[data-clusters]'))",
                           polling="raf", timeout=60_000)
    usable_ms = page.evaluate("performance.now()")
    page.wait_for_selector("#dispatch-map[data-streets]")
    long_tasks = page.evaluate("window.__long")
    unassigned = sum(j["status"] == "unassigned" for j in jobs)
    assert matched(page) == unassigned
    # Only a page of the list is in the document, and the map draws clusters, not 5,000 markers.
    assert page.locator(".queue-item").count() == QUEUE_PAGE
    the_map = page.locator("#dispatch-map")
    assert int(the_map.get_attribute("data-jobs")) == len(jobs)
    clusters, points = int(the_map.get_attribute("data-clusters")), int(the_map.get_attribute("data-points"))
    assert clusters > 0 and clusters + points < 300
    big = page.locator(".cluster-icon").evaluate_all("els => els.map(e => Number(e.textContent.replace('k', '000')))")
    assert max(big) >= 50
    # Scrolling to the end of the list draws the next page.
    page.locator("#show-more").scroll_into_view_if_needed()
    wait_items(page, 2 * QUEUE_PAGE)
    # Searching 5,000 jobs: by job id, and by a word.
    t0 = page.evaluate("performance.now()")
    page.get_by_label("Search jobs").fill(f"#{jobs[4321]['id']}")
    page.wait_for_function("() => document.querySelector('#queue-count').dataset.matched === '1'", polling="raf")
    search_ms = page.evaluate("performance.now()") - t0
    page.get_by_label("Search jobs").fill("")
    # The map can follow the filters: only the matching jobs are clustered.
    page.get_by_label("Filter by service").select_option("water")
    n_water = sum(j["category"] == "water" and j["status"] == "unassigned" for j in jobs)
    wait_matched(page, n_water)
    page.get_by_label("Map shows only the matching jobs").check()
    page.wait_for_function("n => document.querySelector('#dispatch-map').dataset.jobs === String(n)", arg=n_water)
    page.get_by_label("Map shows only the matching jobs").uncheck()
    page.wait_for_function("n => document.querySelector('#dispatch-map').dataset.jobs === String(n)", arg=len(jobs))
    page.get_by_label("Filter by service").select_option("")
    # The dead-end jobs (a skill nobody has) are the last group, not on top.
    page.get_by_label("Group by").select_option("technician")
    page.get_by_label("Filter by status").select_option("open")
    page.wait_for_selector(".queue-group")
    assert page.locator(".queue-group .group-toggle").first.inner_text().startswith("▾ Nobody yet")
    page.screenshot(path=SHOTS / "console-5000-jobs.png")
    # With "Nobody yet" folded, the dead-end group (the fixture's gas jobs) is the one left, with its count.
    dead_n = sum(j["status"] == "unassigned" and "gas" in j["required_skills"] for j in jobs)
    page.get_by_label("Filter by technician").select_option("none")
    page.locator(".queue-group .group-toggle").first.click()
    page.wait_for_selector(".queue-group.dead-end")
    assert f"({dead_n})" in page.locator(".queue-group.dead-end .group-toggle").inner_text()
    assert len(queue_ids(page)) == dead_n
    page.get_by_label("Filter by technician").select_option("")
    # Clicking a cluster zooms into it.
    zoom = page.evaluate("() => document.querySelectorAll('.cluster-icon').length")
    page.locator(".cluster-icon").first.click()
    page.wait_for_function("n => document.querySelectorAll('.cluster-icon').length !== n"
                           " || Number(document.querySelector('#dispatch-map').dataset.points) > 0", arg=zoom)
    print(f"\n5,000 jobs: usable queue and clustered map {usable_ms:.0f} ms after navigation; "
          f"{clusters} clusters + {points} single markers; "
          f"search by job id {search_ms:.0f} ms (incl. 150 ms debounce); "
          f"long tasks during load: {len(long_tasks)}, longest {max(long_tasks, default=0):.0f} ms")
