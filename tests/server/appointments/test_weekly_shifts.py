"""Later-day offers read that weekday's shift from the technician's weekly pattern (issue 30): a technician off on
Fridays is not offered on a Friday, and a short Friday bounds the windows offered with them."""

from __future__ import annotations

from datetime import date, time
from zoneinfo import ZoneInfo

from tests.server.appointments.conftest import later_day_slots, water_job

FRIDAY = date(2026, 12, 11)




def test_a_technician_off_on_fridays_is_not_offered_on_a_friday(client, auth, app, settings, day) -> None:
    ana, marcus, _lee = day["technicians"]
    job = water_job(client, day["dispatcher"])
    assert ana in {s.technician_id for s in later_day_slots(app, settings, job, FRIDAY)}  # she lives nearest
    r = client.patch(f"/technicians/{ana}", headers=day["dispatcher"], json={"weekly_shifts": {"5": "off"}})
    assert r.status_code == 200, r.text
    assert {s.technician_id for s in later_day_slots(app, settings, job, FRIDAY)} == {marcus}


def test_a_short_friday_bounds_the_windows_offered(client, auth, app, settings, day) -> None:
    ana, marcus, _lee = day["technicians"]
    job = water_job(client, day["dispatcher"])
    tz = ZoneInfo(settings.timezone)
    friday = later_day_slots(app, settings, job, FRIDAY)
    assert any(s.end.astimezone(tz).time() > time(12) for s in friday)  # 08:00-18:00: afternoons
    for tech in (ana, marcus):
        r = client.patch(f"/technicians/{tech}", headers=day["dispatcher"],
                         json={"weekly_shifts": {"5": {"start": "08:00", "end": "12:00"}}})
        assert r.status_code == 200, r.text
    slots = later_day_slots(app, settings, job, FRIDAY)
    assert slots and all(s.end.astimezone(tz).time() <= time(12) for s in slots)
