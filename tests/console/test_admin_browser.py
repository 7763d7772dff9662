"""The administration screens (issue 29) in Debian's Chromium against a real demo server: a technician created in the
UI (skills with levels from the catalogue's list, shift, a break, a home found with the geotagger) is in the next plan
with jobs; a user created, their role changed and deactivated; bad input shown beside the field it concerns; channel
status, the audit log, a privacy export and a confirmed erasure, the catalogue. Screenshots at 1366×768 and 820×1180
go to docs/screenshots/admin-*.png.

These tests add a technician and users, which the other console tests (which count the demo's eight technicians) must
not see: this module runs its own server."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import ROOT
from tests.console.conftest import PASSWORD, LiveServer, demo_server

pytestmark = [pytest.mark.browser, pytest.mark.timeout(400)]

SHOTS = ROOT / "docs" / "screenshots"
TABLET = {"width": 820, "height": 1180}


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The demo on a live server for this module only (the plan changes only when a test asks for one)."""
    with demo_server(tmp_path_factory.mktemp("admin-server")) as server:
        yield server


def open_admin(page: Any, server: LiveServer, screen: str) -> None:
    """Signed in as the administrator, straight onto one admin screen (the address asks for it before signing in)."""
    if page.locator("header.topbar").count():
        page.goto(f"{server.url}/#/admin/{screen}")
    else:
        page.goto(f"{server.url}/#/admin/{screen}")
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector(f"#admin-{screen} .adm-pane, #admin-{screen} .adm-split")


def solve(server: LiveServer, token: str) -> dict[str, Any]:
    """A plan through the dispatch API (POST /dispatch/solves, then its status until done); the plan it made."""
    status, job = server.request("POST", "/dispatch/solves", token=token,
                                 body={"trigger": "admin test", "time_limit_s": 5})
    assert status == 202, job
    deadline = time.monotonic() + 240
    while job["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, f"the solve did not finish: {job}"
        time.sleep(0.5)
        _, job = server.request("GET", f"/dispatch/solves/{job['id']}", token=token)
    assert job["status"] == "succeeded", job
    _, plan = server.request("GET", "/plans/current", token=token)
    return plan


def a_findable_address(server: LiveServer, token: str) -> str:
    """An address the demo's own jobs were reported at that the geotagger places inside the service area."""
    _, jobs = server.request("GET", "/jobs?limit=200", token=token)
    for job in jobs["items"]:
        text = (job.get("address") or "").strip()
        if len(text) < 5:
            continue
        status, found = server.request("GET", f"/addresses/search?q={text.replace(' ', '%20')}&limit=3", token=token)
        if status == 200 and found and found[0]["inside_service_area"]:
            return text
    pytest.skip("no job address of the demo is found by the geotagger")


def test_technician_created_in_the_ui_is_in_the_next_plan_with_jobs(live_server: LiveServer,
                                                                      page_factory: Any) -> None:
    token = live_server.token("admin")
    _, waiting = live_server.request("GET", "/jobs?status=unassigned&limit=500", token=token)
    needed = Counter(skill for job in waiting["items"] for skill in job["required_skills"])
    skills = [s for s, _ in needed.most_common(3)]
    assert skills, "the demo has no unassigned jobs to plan"
    address = a_findable_address(live_server, token)
    _, before = live_server.request("GET", "/technicians?limit=100", token=token)

    page = page_factory()
    open_admin(page, live_server, "technicians")
    form = page.locator("#technician-form")
    form.get_by_label("Name").fill("Robin Quade")
    # Skills come from the catalogue's list (a select), each with a level.
    for i, skill in enumerate(skills):
        if i:
            page.locator("#add-skill").click()
        page.get_by_label(f"Skill {i + 1}", exact=True).select_option(skill)
        page.get_by_label(f"Level of skill {i + 1}").select_option("5")
    options = page.get_by_label("Skill 1", exact=True).locator("option").all_inner_texts()
    assert any(o.startswith(f"{skills[0]} — ") for o in options)  # each skill says which services need it
    form.get_by_label("Shift starts").fill("07:00")
    form.get_by_label("Shift ends").fill("20:00")
    page.locator("#add-break").click()
    page.get_by_label("Break 1 minutes").fill("20")
    # Home: typed, found with the geotagger, one place chosen; the resolved place and coordinates are shown.
    page.locator("#home-address").fill(address)
    page.locator("#home-address").press("Enter")  # the keyboard path: Enter in the address box looks it up
    page.wait_for_selector("#home-matches input[type=radio]")
    page.locator("#home-matches input[type=radio]").first.check()
    resolved = page.locator("#home-resolved").inner_text()
    lat = float(page.locator("#home-lat").input_value())
    lon = float(page.locator("#home-lon").input_value())
    assert resolved.startswith("Home: ") and f"{lat:.5f}, {lon:.5f}" in resolved
    page.screenshot(path=SHOTS / "admin-technician-form.png")
    page.locator("#save-technician").click()
    row = page.locator("#technicians-table tr", has_text="Robin Quade")
    row.wait_for()
    tech_id = int(row.get_attribute("data-tech-id"))
    page.wait_for_selector(".notice-ok")
    page.screenshot(path=SHOTS / "admin-technicians.png")

    _, tech = live_server.request("GET", f"/technicians/{tech_id}", token=token)
    assert tech["skills"] == dict.fromkeys(skills, 5)
    assert (tech["shift_start"], tech["shift_end"]) == ("07:00:00", "20:00:00")
    assert tech["breaks"] == [{"earliest": "11:30:00", "latest": "13:30:00", "duration_min": 20}]
    assert (tech["home_lat"], tech["home_lon"]) == (pytest.approx(lat), pytest.approx(lon))
    assert tech["availability"] == "on_shift" and len(before["items"]) + 1 == len(
        live_server.request("GET", "/technicians?limit=100", token=token)[1]["items"])

    plan = solve(live_server, token)
    theirs = [s for s in plan["stops"] if s["technician_id"] == tech_id]
    assert theirs, "the technician added in the console got no job in the next plan"
    page.goto(f"{live_server.url}/#/dispatch")
    page.wait_for_selector(f".tl-row[data-tech-id='{tech_id}'] [data-job-id]", timeout=60_000)
    planned = {int(x) for x in page.locator(f".tl-row[data-tech-id='{tech_id}'] [data-job-id]")
               .evaluate_all("els => els.map(e => e.dataset.jobId)")}
    assert planned == {s["job_id"] for s in theirs}

    # Absences by date, on the technician's form (when the server records them): a bad range is refused beside
    # its field; a good one is stored.
    if not live_server.has("post", "/technicians/{technician_id}/absences"):
        return
    page.goto(f"{live_server.url}/#/admin/technicians")
    page.get_by_role("button", name="Edit Robin Quade").click()
    absences = page.locator("#absence-form")
    absences.get_by_label("First day").fill("2031-03-10")
    absences.get_by_label("Last day").fill("2031-03-02")
    page.locator("#add-absence").click()
    bad = page.locator("#absence-form .field[data-field='last_day'] .field-error")
    bad.wait_for()
    assert "on or after first_day" in bad.inner_text()
    absences.get_by_label("Last day").fill("2031-03-14")
    absences.get_by_label("Reason (optional)").fill("annual leave")
    page.locator("#add-absence").click()
    page.wait_for_selector("#absence-list li[data-absence-id]")
    _, stored = live_server.request("GET", f"/technicians/{tech_id}/absences", token=token)
    assert [(a["first_day"], a["last_day"], a["reason"]) for a in stored] == [
        ("2031-03-10", "2031-03-14", "annual leave")]
    page.screenshot(path=SHOTS / "admin-technician-absences.png", full_page=True)


def test_the_weekly_pattern_round_trips_through_the_technician_form(live_server: LiveServer,
                                                                   page_factory: Any) -> None:
    """Seven labelled rows (off, starts, ends): Mon-Thu 07:00-17:30, Fri 07:00-12:00, the weekend off; stored as the
    API's weekly_shifts, summed up in the list, read back into the form; a Friday ending before it starts is
    refused beside the Week group, naming the day's field."""
    token = live_server.token("admin")
    if not live_server.has("get", "/technicians/{technician_id}") or "weekly_shifts" not in live_server.request(
            "GET", "/openapi.json")[1]["components"]["schemas"]["TechnicianCreate"]["properties"]:
        pytest.skip("this server has no weekly shift pattern")
    status, made = live_server.request("POST", "/technicians", token=token, body={
        "name": "Wren Weekly", "skills": {"general": 1}, "home_lat": 39.29, "home_lon": -76.61,
        "shift_start": "08:00", "shift_end": "17:00", "availability": "off"})  # off: no plan of the other tests
    assert status == 201, made
    page = page_factory()
    open_admin(page, live_server, "technicians")
    page.get_by_role("button", name="Edit Wren Weekly").click()
    form = page.locator("#technician-form")
    for day in ("Monday", "Tuesday", "Wednesday", "Thursday"):
        form.get_by_label(f"{day} starts").fill("07:00")
        form.get_by_label(f"{day} ends").fill("17:30")
    form.get_by_label("Friday starts").fill("07:00")
    form.get_by_label("Friday ends").fill("06:00")  # before it starts: refused
    for day in ("Saturday", "Sunday"):  # the keyboard path: focus the box, Space ticks it
        form.get_by_label(f"Off on {day}").focus()
        page.keyboard.press("Space")
        assert form.get_by_label(f"Off on {day}").is_checked() and form.get_by_label(f"{day} starts").is_disabled()
    page.locator("#save-technician").click()
    bad = page.locator("#technician-form .field[data-field='weekly_shifts'] .field-error")
    bad.wait_for()
    assert "weekly_shifts.5.end" in bad.inner_text() and "after start" in bad.inner_text()
    assert live_server.request("GET", f"/technicians/{made['id']}", token=token)[1]["weekly_shifts"] == {}
    form.get_by_label("Friday ends").fill("12:00")
    page.locator("#save-technician").click()
    page.wait_for_selector(".notice-ok")
    row = page.locator("#technicians-table tr", has_text="Wren Weekly")
    # the list is read again after the save: wait for the new row rather than read the old one
    expect(row.locator("td.tech-week")).to_have_text("Mon–Thu 07:00–17:30, Fri 07:00–12:00", timeout=30_000)
    _, tech = live_server.request("GET", f"/technicians/{made['id']}", token=token)
    long_day = {"start": "07:00", "end": "17:30"}
    assert tech["weekly_shifts"] == {"1": long_day, "2": long_day, "3": long_day, "4": long_day,
                                     "5": {"start": "07:00", "end": "12:00"}, "6": "off", "7": "off"}
    page.screenshot(path=SHOTS / "admin-technician-week.png", full_page=True)
    # Read back: the form shows the stored week; clearing Monday's times hands Monday back to the everyday shift.
    page.goto(f"{live_server.url}/#/admin/technicians")
    page.get_by_role("button", name="Edit Wren Weekly").click()
    assert form.get_by_label("Friday ends").input_value() == "12:00"
    assert form.get_by_label("Off on Sunday").is_checked() and not form.get_by_label("Off on Friday").is_checked()
    form.get_by_label("Monday starts").fill("")
    form.get_by_label("Monday ends").fill("")
    page.locator("#save-technician").click()
    for _ in range(100):  # the save lands (no wait_for_function: the page's CSP blocks it)
        week = live_server.request("GET", f"/technicians/{made['id']}", token=token)[1]["weekly_shifts"]
        if "1" not in week:
            break
        page.wait_for_timeout(100)
    assert "1" not in week and week["2"] == long_day
    cell = page.locator("#technicians-table tr", has_text="Wren Weekly").locator("td.tech-week")
    for _ in range(100):  # the list reloads after the save
        if cell.inner_text().startswith("Mon 08:00–17:00"):
            break
        page.wait_for_timeout(100)
    assert cell.inner_text() == "Mon 08:00–17:00, Tue–Thu 07:00–17:30, Fri 07:00–12:00"


def test_admin_creates_a_user_changes_the_role_and_deactivates(live_server: LiveServer, page_factory: Any) -> None:
    token = live_server.token("admin")
    page = page_factory()
    open_admin(page, live_server, "users")
    page.wait_for_selector("#users-table")
    # Your own row cannot be demoted or deactivated from here.
    own = page.locator("#users-table tr[data-username='admin']")
    assert own.get_by_label("Role of admin").is_disabled() and own.get_by_role("button").is_disabled()

    form = page.locator("#user-form")
    form.get_by_label("Username").fill("sam.lead")
    form.get_by_label("Full name").fill("Sam Lead")
    form.get_by_label("Role").select_option("agent")
    form.get_by_label("First password").fill("first-pass-1")
    page.locator("#create-user").click()
    row = page.locator("#users-table tr[data-username='sam.lead']")
    row.wait_for()
    # The form is ready for the next one: back to the least-privileged staff role, no technician link shown.
    assert form.get_by_label("Role").input_value() == "agent"
    assert not page.locator("#user-form .field[data-field='technician_id']").is_visible()
    assert live_server.request("POST", "/auth/token", form={"username": "sam.lead",
                                                             "password": "first-pass-1"})[1]["role"] == "agent"

    row.get_by_label("Role of sam.lead").select_option("dispatcher")
    page.wait_for_selector("#users-status:has-text('sam.lead is now Dispatcher')")
    _, users = live_server.request("GET", "/users?limit=100", token=token)
    assert next(u for u in users["items"] if u["username"] == "sam.lead")["role"] == "dispatcher"
    assert live_server.request("POST", "/auth/token", form={"username": "sam.lead",
                                                             "password": "first-pass-1"})[1]["role"] == "dispatcher"
    page.screenshot(path=SHOTS / "admin-users.png")

    page.locator("#users-table tr[data-username='sam.lead']").get_by_role("button", name="Deactivate sam.lead").click()
    page.wait_for_selector("dialog #confirm-deactivate")
    page.screenshot(path=SHOTS / "admin-users-deactivate.png")
    page.locator("#confirm-deactivate").click()
    page.wait_for_selector("#users-table tr[data-username='sam.lead'].inactive")
    status, _ = live_server.request("POST", "/auth/token", form={"username": "sam.lead", "password": "first-pass-1"})
    assert status == 401

    # Tablet size: the list and the form stack; nothing is wider than the screen.
    tablet = page_factory(**TABLET)
    open_admin(tablet, live_server, "users")
    tablet.wait_for_selector("#users-table")
    assert tablet.evaluate("document.documentElement.scrollWidth") <= TABLET["width"]
    tablet.screenshot(path=SHOTS / "admin-users-tablet.png", full_page=True)


def test_bad_input_is_shown_beside_its_field_and_nothing_is_stored(live_server: LiveServer,
                                                                    page_factory: Any) -> None:
    token = live_server.token("admin")
    _, before = live_server.request("GET", "/technicians?limit=100", token=token)
    page = page_factory(**TABLET)
    open_admin(page, live_server, "technicians")
    form = page.locator("#technician-form")
    form.get_by_label("Name").fill("Backwards Shift")
    page.get_by_label("Skill 1", exact=True).select_option(index=1)
    form.get_by_label("Shift starts").fill("17:00")
    form.get_by_label("Shift ends").fill("08:00")
    form.get_by_label("Latitude").fill("39.2833")
    form.get_by_label("Longitude").fill("-76.5930")
    page.locator("#save-technician").click()
    error = page.locator(".field[data-field='shift_end'] .field-error")
    error.wait_for()
    assert "must be after shift_start" in error.inner_text()
    assert form.get_by_label("Shift ends").get_attribute("aria-invalid") == "true"
    assert page.evaluate("document.activeElement.name") == "shift_end"  # focus goes to the field to fix
    assert page.locator(".field[data-field='name'] .field-error").inner_text() == ""
    page.screenshot(path=SHOTS / "admin-field-error-tablet.png", full_page=True)
    _, after = live_server.request("GET", "/technicians?limit=100", token=token)
    assert len(after["items"]) == len(before["items"])

    # A username with a space and a short password: each error beside its own field.
    open_admin(page, live_server, "users")
    users = page.locator("#user-form")
    users.get_by_label("Username").fill("bad name")
    users.get_by_label("First password").fill("short")
    page.locator("#create-user").click()
    page.wait_for_selector(".field[data-field='username'] .field-error:not(:empty)")
    assert "no spaces" in page.locator(".field[data-field='username'] .field-error").inner_text()
    _, users_now = live_server.request("GET", "/users?limit=100", token=token)
    assert all(u["username"] != "bad name" for u in users_now["items"])
    users.get_by_label("Username").fill("good.name")
    page.locator("#create-user").click()
    page.wait_for_selector(".field[data-field='password'] .field-error:not(:empty)")
    assert "8" in page.locator(".field[data-field='password'] .field-error").inner_text()
    page.set_viewport_size({"width": 1366, "height": 768})
    page.screenshot(path=SHOTS / "admin-field-error.png")


def test_channels_audit_privacy_and_catalogue(live_server: LiveServer, page_factory: Any,
                                              request: pytest.FixtureRequest) -> None:
    token = live_server.token("admin")
    page = page_factory()
    open_admin(page, live_server, "channels")
    page.wait_for_selector("#channels-table")
    rows = page.locator("#channels-table tbody tr")
    channels = sorted(rows.evaluate_all("els => els.map(e => e.dataset.channel)"))
    assert channels == ["email", "facebook", "sms", "twitter"]
    sms = page.locator("#channels-table tr[data-channel='sms']").inner_text()
    assert "TWILIO" in sms  # no provider credentials in the demo: what is missing is named
    page.screenshot(path=SHOTS / "admin-channels.png")

    # Catalogue: every service the server loaded, read-only.
    page.locator(".admin-nav a", has_text="Service catalogue").click()
    page.wait_for_selector("#catalogue-table")
    _, services = live_server.request("GET", "/technicians/catalogue", token=token)
    assert page.locator("#catalogue-table tbody tr").count() == len(services)
    light = page.locator("#catalogue-table tr[data-service='streetlight']").inner_text()
    assert "electrical" in light and " min" in light and " h" in light
    page.screenshot(path=SHOTS / "admin-catalogue.png")

    # Audit log filtered to technicians; then a privacy export and an erasure with its confirmation.
    page.locator(".admin-nav a", has_text="Audit and privacy").click()
    page.wait_for_selector("#audit-table")
    page.get_by_label("What").fill("user")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_function("() => [...document.querySelectorAll('#audit-table tbody th')]"
                           ".every(th => th.textContent.startsWith('user '))")
    _, customers = live_server.request("GET", "/customers?limit=5", token=token)
    customer = customers["items"][0]
    page.get_by_label("Customer name, address or id").fill(str(customer["id"]))
    page.get_by_role("button", name="Find customer").click()
    item = page.locator(f".adm-customers li[data-customer-id='{customer['id']}']")
    item.get_by_role("button", name="Export").click()
    page.wait_for_selector("#export-summary")
    assert "Download the JSON file" in page.locator("#export-summary").inner_text()
    item.get_by_role("button", name="Erase").click()
    page.get_by_label("Reason (kept in the audit log)").fill("request 2026-17 by email")
    page.get_by_label(f"Type the customer id ({customer['id']}) to confirm").fill("999999")
    page.locator("#confirm-erase").click()
    assert "to confirm" in page.locator("dialog .field[data-field='confirm'] .field-error").inner_text()
    assert live_server.request("GET", f"/customers/{customer['id']}", token=token)[1]["display_name"] \
        == customer["display_name"]  # nothing erased without the confirmation
    page.screenshot(path=SHOTS / "admin-privacy-confirm.png")
    page.get_by_label(f"Type the customer id ({customer['id']}) to confirm").fill(str(customer["id"]))
    page.locator("#confirm-erase").click()
    page.wait_for_selector("#erase-summary")
    _, erased = live_server.request("GET", f"/customers/{customer['id']}/export", token=token)
    assert erased["customers"][0]["display_name"] == f"erased customer {customer['id']}"
    assert all(m["text"] == "[erased]" for m in erased["messages"])
    page.get_by_label("What").fill("customer")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_selector("#audit-table tbody tr td:has-text('erase')")
    page.screenshot(path=SHOTS / "admin-audit.png")

    tablet = page_factory(**TABLET)
    open_admin(tablet, live_server, "technicians")
    tablet.wait_for_selector("#technicians-table")
    assert tablet.evaluate("document.documentElement.scrollWidth") <= TABLET["width"]
    tablet.screenshot(path=SHOTS / "admin-technicians-tablet.png", full_page=True)

    # axe-core on the admin screens, when the shared accessibility fixture is there.
    try:
        axe_source = request.getfixturevalue("axe_source")
    except pytest.FixtureLookupError:
        return
    from tests.console.conftest import axe_violations

    for screen in ("technicians", "users", "channels", "audit", "catalogue"):
        page.goto(f"{live_server.url}/#/admin/{screen}")
        page.wait_for_selector(f"#admin-{screen} .adm-table, #admin-{screen} table", timeout=30_000)
        found = axe_violations(page, axe_source)
        assert not found, f"{screen}: {found}"
