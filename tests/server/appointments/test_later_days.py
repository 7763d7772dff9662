"""Offers for a later day read who works that day: a technician on recorded leave is not offered, and the planning
horizon's tentative visits of that day are work the technician already has (a day it fills has no room)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlmodel import Session

from server.horizon.models import HorizonRun, HorizonVisit
from server.jobs.models import Job
from tests.server.appointments.conftest import SITES, later_day_slots, water_job

LATER = date(2026, 12, 9)  # a Wednesday




def test_a_technician_on_leave_that_day_is_not_offered(client, auth, app, settings, day) -> None:
    ana, marcus, _lee = day["technicians"]
    job = water_job(client, day["dispatcher"])
    assert ana in {s.technician_id for s in later_day_slots(app, settings, job, LATER)}  # she lives nearest
    r = client.post(f"/technicians/{ana}/absences", headers=day["dispatcher"],
                    json={"first_day": LATER.isoformat(), "last_day": LATER.isoformat()})
    assert r.status_code == 201
    assert {s.technician_id for s in later_day_slots(app, settings, job, LATER)} == {marcus}


def test_a_day_the_horizon_fills_has_no_room(client, auth, app, settings, day) -> None:
    ana, marcus, _lee = day["technicians"]
    job = water_job(client, day["dispatcher"])
    assert ana in {s.technician_id for s in later_day_slots(app, settings, job, LATER)}  # she lives nearest
    # Ana's Wednesday, as the horizon planned it: nine one-hour jobs from 08:00 fill her 08:00-18:00 shift.
    from zoneinfo import ZoneInfo
    tz = ZoneInfo(settings.timezone)
    with Session(app.state.engine) as s:
        run = HorizonRun(days=[LATER.isoformat()])
        s.add(run)
        s.flush()
        for k in range(9):
            lat, lon = SITES[3 + k % 3]
            filler = Job(title=f"backlog {k}", category="general", required_skills={}, duration_min=60, priority=5,
                         lat=lat, lon=lon)
            s.add(filler)
            s.flush()
            start = datetime(2026, 12, 9, 8, tzinfo=tz) + timedelta(minutes=65 * k)
            s.add(HorizonVisit(run_id=run.id or 0, job_id=filler.id or 0, technician_id=ana, day=LATER,
                               sequence=k, start_at=start, end_at=start + timedelta(hours=1)))
        s.commit()
    assert {s.technician_id for s in later_day_slots(app, settings, job, LATER)} == {marcus}
