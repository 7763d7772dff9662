"""The schedule board's later days in Debian's Chromium against the real demo server (issue 30, the console part): the
horizon's working days are tabs on the board; each technician's lane shows that day's shift from their weekly pattern
(a technician who works 12:00-20:00 on Wednesdays gets a band of eight hours on Wednesday, nine on the other days), a
return visit's tentative bar says what it returns for, and its details link to the original job and back; a
multi-day visit's bars say which day of how many they are. Screenshot: docs/screenshots/board-week-shifts.png."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, datetime
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, create_engine

import server.models  # noqa: F401  (every table: the job's foreign keys name them)
from server.jobs.models import Job, JobStatus
from tests.conftest import ROOT, WORKING_TZ
from tests.console.conftest import LiveServer, demo_server, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.timeout(500)]

SHOTS = ROOT / "docs" / "screenshots"
HOUR_PX = 120  # web/src/timeline.ts: pixels per hour of a lane
WEDNESDAY = {"start": "12:00", "end": "20:00"}


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The demo on its own server: this module changes a technician's week and plans the horizon, which the other
    console tests' shared server should not see."""
    with demo_server(tmp_path_factory.mktemp("board-week-server"), GROUNDCREW_APPOINTMENT_SWEEP="false") as server:
        yield server


def write_job(server: LiveServer, job_id: int, **fields: Any) -> None:
    """Set job fields the API does not take (a return visit is opened by the technician's app, a multi-day visit's
    parts by the field work) straight in the live server's database, as server/fieldwork leaves them."""
    engine = create_engine(f"sqlite:///{server.data_dir / 'groundcrew.db'}")
    try:
        with Session(engine) as session:
            job = session.get(Job, job_id)
            assert job is not None
            for name, value in fields.items():
                setattr(job, name, value)
            job.version += 1
            session.add(job)
            session.commit()
    finally:
        engine.dispose()


def plan_horizon(server: LiveServer, token: str) -> dict[str, Any]:
    """A new horizon plan (POST /horizon plans on a side thread), once GET /horizon shows it."""
    _, before = server.request("GET", "/horizon", token=token)
    status, body = server.request("POST", "/horizon?time_limit_s=5", token=token)
    assert status == 202, body
    deadline = time.monotonic() + 180
    while True:
        status, horizon = server.request("GET", "/horizon", token=token)
        # Busy or rate-limited is an answer to wait on (once, a read here got neither a plan nor a reason we saw);
        # anything else must be the horizon.
        assert status in (200, 429, 503), (status, horizon)
        if status == 200 and horizon["run_id"] is not None and horizon["run_id"] != before["run_id"]:
            return horizon
        assert time.monotonic() < deadline, "the horizon was not planned within 180 s"
        time.sleep(0.5)


def lane_band(page: Any, tech_id: int) -> tuple[float, float]:
    """The working part of a technician's lane on the day shown, in pixels: from the right edge of the shading before
    the shift to the left edge of the shading after it (the lane's edges where there is none)."""
    return page.locator(f".tl-lane[data-tech-id='{tech_id}']").evaluate("""lane => {
        const r = lane.getBoundingClientRect();
        const offs = [...lane.querySelectorAll('.tl-off')].map(e => e.getBoundingClientRect());
        const before = offs.filter(o => Math.abs(o.left - r.left) < 1);
        const after = offs.filter(o => Math.abs(o.right - r.right) < 1 && o.left > r.left + 1);
        return [before.length ? before[0].right - r.left : 0, after.length ? after[0].left - r.left : r.width];
    }""")


def show_day(page: Any, iso: str) -> None:
    page.locator(f".board-days button[data-day='{iso}']").click()
    for _ in range(100):
        if page.locator("#board-date").get_attribute("data-date") == iso:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"the board did not show {iso}")


def test_a_weeks_shifts_and_return_visits_on_the_board(live_server: LiveServer, page_factory: Any) -> None:
    admin = live_server.token("admin")
    token = live_server.token("dispatcher")
    _, techs = live_server.request("GET", "/technicians?limit=100", token=token)
    on_shift = [t for t in techs["items"] if t["availability"] == "on_shift" and not t["weekly_shifts"]]
    assert len(on_shift) >= 3, "the demo needs three technicians on their everyday shift"
    ana, other, away = on_shift[0], on_shift[1], on_shift[2]
    status, body = live_server.request("PATCH", f"/technicians/{ana['id']}", token=admin,
                                       body={"weekly_shifts": {"3": WEDNESDAY, "5": "off"}})
    assert status == 200, body

    # A return visit to a job Ana could not finish (the part arrives on Wednesday), Ana preferred; and a job of two
    # working days' work (a multi-day visit), both made from a demo job's place and skills.
    tz = ZoneInfo(WORKING_TZ)
    today = datetime.now(tz).date()
    _, horizon = live_server.request("GET", "/horizon", token=token)
    _, jobs = live_server.request("GET", "/jobs?status=unassigned&limit=50", token=token)
    model = next(j for j in jobs["items"] if all(ana["skills"].get(k, 0) >= v for k, v in j["required_skills"].items()))

    def new_job(title: str, **over: Any) -> dict[str, Any]:
        status, job = live_server.request("POST", "/jobs", token=token, body={
            "title": title, "category": model["category"], "required_skills": model["required_skills"],
            "lat": model["lat"], "lon": model["lon"], "address": model["address"], "priority": 9, **over})
        assert status == 201, job
        return job

    original = new_job("Pump controller replaced (part on order)", duration_min=60)
    follow = new_job("Pump controller replaced (part on order)", duration_min=60)
    big = new_job("Rewire the pump station", duration_min=15 * 60)
    days_ahead = [d for d in (today.fromordinal(today.toordinal() + k) for k in range(1, 10)) if d.isoweekday() <= 5]
    wednesday = next(d for d in days_ahead if d.isoweekday() == 3)
    friday = next(d for d in days_ahead if d.isoweekday() == 5)
    status, body = live_server.request("POST", f"/technicians/{away['id']}/absences", token=admin, body={
        "first_day": wednesday.isoformat(), "last_day": wednesday.isoformat(), "reason": "training"})
    assert status == 201, body
    write_job(live_server, original["id"], status=JobStatus.unable, follow_ups=[follow["id"]])
    write_job(live_server, follow["id"], follow_up_of=original["id"], preferred_technician_id=ana["id"],
              earliest_at=datetime.combine(wednesday, clock_time(0), tz),
              description=f"Return visit for job {original['id']}: part on order")
    horizon = plan_horizon(live_server, token)
    visits = {(v["job_id"], v["part"]): v for v in horizon["visits"]}
    assert (follow["id"], 1) in visits, f"the return visit was not planned: {horizon['unassigned']}"
    follow_day = visits[(follow["id"], 1)]["day"]
    assert date.fromisoformat(follow_day) >= wednesday  # not before its part arrives
    assert wednesday.isoformat() in horizon["days"]
    shifts = {(s["technician_id"], s["day"]): s for s in horizon["shifts"]}
    assert (shifts[(ana["id"], wednesday.isoformat())]["start"], shifts[(ana["id"], wednesday.isoformat())]["end"]) \
        == ("12:00", "20:00")

    page = page_factory()
    sign_in(page, live_server, "dispatcher")
    page.wait_for_selector(".board-days button[data-day]", timeout=60_000)  # the first load reads every job
    # Wednesday: Ana's band is eight hours, 12:00-20:00; the other technician's is the everyday nine.
    show_day(page, wednesday.isoformat())
    assert page.locator(f".tl-lane[data-tech-id='{ana['id']}']").get_attribute("data-shift") == "12:00-20:00"
    start, end = lane_band(page, ana["id"])
    assert end - start == pytest.approx(8 * HOUR_PX, abs=1.5)
    o_start, o_end = lane_band(page, other["id"])
    assert o_end - o_start == pytest.approx(9 * HOUR_PX, abs=1.5)
    assert start - o_start == pytest.approx(4 * HOUR_PX, abs=1.5)  # she starts four hours later than 08:00
    assert "12:00–20:00" in page.locator(f".tl-row[data-tech-id='{ana['id']}'] .tl-shift").inner_text()
    # A recorded absence greys that day's lane, with its reason.
    absent = page.locator(f".tl-lane[data-tech-id='{away['id']}']")
    assert "absent" in (absent.get_attribute("class") or "") and absent.get_attribute("data-shift") == "absence"
    assert absent.locator(".tl-absent-label").inner_text() == "Absent: training"
    # Friday, her weekly day off: the lane greyed and saying so, and nothing planned on it.
    if friday.isoformat() in horizon["days"]:
        show_day(page, friday.isoformat())
        off = page.locator(f".tl-lane[data-tech-id='{ana['id']}']")
        assert "absent" in (off.get_attribute("class") or "") and off.get_attribute("data-shift") == "day off"
        assert off.locator(".tl-absent-label").inner_text() == "Day off"
        assert off.locator(".tl-bar").count() == 0
    # Another working day: her everyday shift again.
    monday_or_so = next(d for d in days_ahead if d.isoweekday() != 3 and d.isoformat() in horizon["days"])
    show_day(page, monday_or_so.isoformat())
    start, end = lane_band(page, ana["id"])
    assert end - start == pytest.approx(9 * HOUR_PX, abs=1.5)

    # The multi-day visit: a bar on each of its days, saying which.
    parts = sorted((v for v in horizon["visits"] if v["job_id"] == big["id"]), key=lambda v: v["part"])
    assert len(parts) >= 2 and parts[-1]["parts"] == len(parts), horizon["unassigned"]
    show_day(page, parts[-1]["day"])
    bar = page.locator(f".tl-bar.tentative[data-job-id='{big['id']}']")
    assert f"Day {len(parts)} of {len(parts)}" in bar.inner_text()

    # The return visit's day: its tentative bar says it returns for the original job, with the part's day.
    show_day(page, follow_day)
    bar = page.locator(f".tl-bar.tentative[data-job-id='{follow['id']}']")
    bar.scroll_into_view_if_needed()
    assert f"Return #{original['id']}" in bar.inner_text()
    arrives = f"{wednesday.strftime('%a')} {wednesday.day} {wednesday.strftime('%b')}"
    assert f"Return visit for job #{original['id']} (part arrives {arrives})" in (bar.get_attribute("title") or "")
    # The picture: Wednesday's shifts (and the return visit on them, where the horizon put it: it is due that day).
    show_day(page, wednesday.isoformat())
    page.locator(".board-scroll").evaluate("e => { e.scrollLeft = 0; }")
    page.wait_for_selector("#dispatch-map[data-streets]", timeout=60_000)
    page.screenshot(path=SHOTS / "board-week-shifts.png")
    show_day(page, follow_day)
    bar.click()
    page.wait_for_selector(f"#selection-text[data-job-id='{follow['id']}']")
    assert f"Return visit for job #{original['id']}" in page.locator("#selection-text").inner_text()

    # Its details link to the original job, whose details link back.
    page.locator("#details-selected").click()
    dialog = page.locator("dialog[open]")
    said = dialog.locator("#detail-follow-up-of").inner_text()
    assert f"Return visit for job #{original['id']}" in said and f"part arrives {arrives}" in said
    assert ana["name"] in dialog.locator("#detail-preferred").inner_text()
    assert f"Job {follow['id']}:" in dialog.locator("#dialog-title").inner_text()
    dialog.locator(f".job-link[data-job-id='{original['id']}']").click()
    page.locator("dialog[open] #detail-follow-ups").wait_for()
    assert page.locator("dialog[open] #dialog-title").inner_text().startswith(f"Job {original['id']}:")
    page.locator(f"dialog[open] .job-link[data-job-id='{follow['id']}']").click()
    page.locator("dialog[open] #detail-follow-up-of").wait_for()
    assert page.locator("dialog[open] #dialog-title").inner_text().startswith(f"Job {follow['id']}:")
