"""Windows booked with customers on the dispatcher's schedule board, in Debian's Chromium against the real demo server
(issue 30, item 4): a booked job shows its window as a band behind its bar, labelled; a move that makes the
technician arrive after it is warned about in words in the cost preview ("Breaks the booked window of <customer>
(…): new arrival …"), and Confirm asks a second time before the change is made. Screenshots go to docs/screenshots/."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, create_engine

import server.models  # noqa: F401  (every table: the appointment's foreign keys name them)
from server.appointments.models import Appointment, AppointmentStatus
from server.conversations.models import Conversation
from server.customers.models import Customer
from server.jobs.models import Job
from tests.conftest import ROOT
from tests.console.conftest import LiveServer, sign_in
from tests.console.test_board import ensure_plan, local_hhmm

pytestmark = [pytest.mark.browser, pytest.mark.timeout(400)]

SHOTS = ROOT / "docs" / "screenshots"
#: A customer name with markup in it: the console shows it as text.
CUSTOMER = "Jo <i>Bloggs</i>"


def book(server: LiveServer, job_id: int, start: datetime, end: datetime) -> None:
    """A booked appointment written as server/appointments leaves one (the window on the appointment, and on the job
    as its hard time window), straight into the live server's database."""
    engine = create_engine(f"sqlite:///{server.data_dir / 'groundcrew.db'}")
    try:
        with Session(engine) as session:
            customer = Customer(display_name=CUSTOMER)
            session.add(customer)
            session.flush()
            conversation = Conversation(customer_id=customer.id or 0, subject="booked visit")
            session.add(conversation)
            session.flush()
            session.add(Appointment(job_id=job_id, customer_id=customer.id, conversation_id=conversation.id or 0,
                                    status=AppointmentStatus.booked, window_start=start, window_end=end,
                                    booked_at=start))
            job = session.get(Job, job_id)
            assert job is not None
            job.time_windows = [{"start": start.isoformat(), "end": end.isoformat()}]
            job.version += 1
            session.add(job)
            session.commit()
    finally:
        engine.dispose()


def a_day_to_reorder(server: LiveServer, token: str, plan: dict[str, Any]) -> tuple[int, list[int]]:
    """A technician with three or more planned jobs, none started or pinned, whose first job can go last (every rule
    but a booking holds: the server's own preview)."""
    _, jobs = server.request("GET", "/jobs?status=assigned&limit=500", token=token)
    free = {j["id"] for j in jobs["items"] if not j["pinned"] and not j.get("booked_start")}
    days: dict[int, list[int]] = {}
    for stop in sorted(plan["stops"], key=lambda s: s["sequence"]):
        days.setdefault(stop["technician_id"], []).append(stop["job_id"])
    for tech, day in sorted(days.items(), key=lambda kv: -len(kv[1])):
        if len(day) < 3 or not set(day) <= free:
            continue
        status, preview = server.request("POST", "/dispatch/overrides/preview", token=token, body={
            "action": "reorder", "technician_id": tech, "job_ids": [*day[1:], day[0]]})
        if status == 200 and preview["feasible"]:
            return tech, day
    pytest.skip("no technician's day to reorder")


def test_a_booked_window_on_the_board_and_a_move_that_breaks_it_is_confirmed_twice(
    live_server: LiveServer, page_factory: Any
) -> None:
    token = live_server.token("dispatcher")
    plan = ensure_plan(live_server, token)
    tech, day = a_day_to_reorder(live_server, token, plan)
    first = next(s for s in plan["stops"] if s["job_id"] == day[0])
    arrival = datetime.fromisoformat(first["arrival_at"])
    start, end = arrival - timedelta(minutes=40), arrival + timedelta(minutes=20)
    book(live_server, day[0], start, end)
    _, listed = live_server.request("GET", f"/jobs/{day[0]}", token=token)
    assert datetime.fromisoformat(listed["booked_end"]) == end

    page = page_factory()
    sign_in(page, live_server, "dispatcher")
    page.wait_for_selector("#dispatch-map[data-streets]")
    band = page.locator(f".tl-row[data-tech-id='{tech}'] .tl-booked[data-job-id='{day[0]}']")
    band.wait_for()
    window = f"{local_hhmm(start.isoformat())}–{local_hhmm(end.isoformat())}"
    # The window is today's: its label has no date. Its band spans the hour it covers, behind the job's bar.
    assert band.inner_text() == f"booked {window}"
    bar = page.locator(f".tl-bar[data-job-id='{day[0]}']")
    assert f"booked {window}" in bar.inner_text()
    band_box, bar_box = band.bounding_box(), bar.bounding_box()
    assert abs(band_box["width"] - 120 * 1.0) <= 4  # 60 minutes at 120 px an hour
    assert band_box["x"] - 1 <= bar_box["x"] <= band_box["x"] + band_box["width"]
    assert "booked" in (bar.get_attribute("class") or "") and "off-booking" not in (bar.get_attribute("class") or "")
    # The label is not under the bar: the bar sits below it.
    label_box = band.locator(".tl-booked-label").bounding_box()
    assert label_box["y"] + label_box["height"] <= bar_box["y"] + 1
    bar.scroll_into_view_if_needed()
    page.locator(".timeline-pane").screenshot(path=SHOTS / "board-booked-window.png")

    # Her first job moved after her last: she would arrive after the booked window.
    version = int(page.locator("#plan-version").get_attribute("data-version"))
    bar.click()
    bar.press("m")
    page.locator("#move-tech").select_option(str(tech))
    page.locator("#move-when").select_option(str(len(day) - 1))  # after the last job
    page.locator("#move-preview").click()
    warning = page.locator("#preview-booked")
    warning.wait_for()
    text = warning.inner_text()
    _, preview = live_server.request("POST", "/dispatch/overrides/preview", token=token, body={
        "action": "assign", "job_id": day[0], "technician_id": tech, "position": len(day) - 1})
    [check] = [b for b in preview["booked_windows"] if b["job_id"] == day[0]]
    assert check["breaks"]
    new_arrival = local_hhmm(check["eta"])
    assert f"Breaks the booked window of {CUSTOMER} ({window}): new arrival {new_arrival}." in text  # text, not markup
    assert page.locator("#preview-booked i").count() == 0
    page.locator(".preview").screenshot(path=SHOTS / "preview-breaks-booked-window.png")

    confirm = page.locator("#confirm-assign")
    assert confirm.is_enabled()
    confirm.click()  # the first press asks again and changes nothing
    page.locator("#confirm-again").wait_for()
    assert confirm.get_attribute("data-asked") == "true"
    assert confirm.inner_text().startswith("Yes, break the booked window")
    page.wait_for_timeout(500)
    _, current = live_server.request("GET", "/plans/current", token=token)
    assert current["version"] == version
    confirm.click()
    deadline = time.monotonic() + 60
    while int(page.locator("#plan-version").get_attribute("data-version")) <= version and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    _, current = live_server.request("GET", "/plans/current", token=token)
    mine = [s["job_id"] for s in sorted(current["stops"], key=lambda s: s["sequence"]) if s["technician_id"] == tech]
    assert mine[-1] == day[0]
    # The booking was let go (the customer is offered new windows): no band any more.
    deadline = time.monotonic() + 30
    while band.count() and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert band.count() == 0
    _, job = live_server.request("GET", f"/jobs/{day[0]}", token=token)
    assert job["booked_start"] is None
