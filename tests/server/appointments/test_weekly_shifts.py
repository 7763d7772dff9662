"""Later-day offers read that weekday's shift from the technician's weekly pattern (issue 30): a technician off on
Fridays is not offered on a Friday, and a short Friday bounds the windows offered with them."""

from __future__ import annotations

from datetime import date, time
from zoneinfo import ZoneInfo

from sqlmodel import Session

from server.appointments import service
from server.core.city import load_city
from server.jobs.models import Job
from tests.server.appointments.conftest import SITES

FRIDAY = date(2026, 12, 11)


def _water_job(client, dispatcher) -> int:  # type: ignore[no-untyped-def]
    lat, lon = SITES[0]
    r = client.post("/jobs", headers=dispatcher, json={
        "title": "no water", "category": "no_water", "required_skills": {"water": 1}, "duration_min": 60,
        "priority": 6, "lat": lat + 0.001, "lon": lon})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _slots(app, settings, job_id: int) -> list[service.Slot]:  # type: ignore[no-untyped-def]
    with Session(app.state.engine) as s:
        return service._later_day_slots(s, settings, load_city(settings), s.get(Job, job_id), FRIDAY, [])


def test_a_technician_off_on_fridays_is_not_offered_on_a_friday(client, auth, app, settings, day) -> None:
    ana, marcus, _lee = day["technicians"]
    job = _water_job(client, day["dispatcher"])
    assert ana in {s.technician_id for s in _slots(app, settings, job)}  # she lives nearest
    r = client.patch(f"/technicians/{ana}", headers=day["dispatcher"], json={"weekly_shifts": {"5": "off"}})
    assert r.status_code == 200, r.text
    assert {s.technician_id for s in _slots(app, settings, job)} == {marcus}


def test_a_short_friday_bounds_the_windows_offered(client, auth, app, settings, day) -> None:
    ana, marcus, _lee = day["technicians"]
    job = _water_job(client, day["dispatcher"])
    tz = ZoneInfo(settings.timezone)
    assert any(s.end.astimezone(tz).time() > time(12) for s in _slots(app, settings, job))  # 08:00-18:00: afternoons
    for tech in (ana, marcus):
        r = client.patch(f"/technicians/{tech}", headers=day["dispatcher"],
                         json={"weekly_shifts": {"5": {"start": "08:00", "end": "12:00"}}})
        assert r.status_code == 200, r.text
    slots = _slots(app, settings, job)
    assert slots and all(s.end.astimezone(tz).time() <= time(12) for s in slots)
