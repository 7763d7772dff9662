"""``groundcrew bench offers``: how long one slot offer takes to compute (issue 30: < 300 ms p95 for one job on a
100-technician, 1,000-job day).

A throwaway database on the demo city (real 311 places, real streets): technicians on shift now, 1,000 jobs planned
by the planning service (a real solve, stored as the active plan), a few days' bookings, then jobs whose service needs
the customer present (``no_water``), each timed through ``server.appointments.service.compute_slots`` in its own
session: today's windows by cheapest insertion against the stored plan, later days by the per-day check. The time is
the whole computation as the API runs it (snapshot of the day from the database, travel times, insertions)."""

from __future__ import annotations

import os
import random
import resource
import statistics
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from server.config import Settings
from server.dispatch.bench import SKILLS, _places, bench_settings, bench_shift, percentile, plan_morning


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(*, technicians: int, jobs: int, offers: int, solve_s: float, seed: int, base: Settings,
        echo: Any) -> dict[str, Any]:
    from server.appointments import service as appointments
    from server.core.city import load_city
    from server.core.migrate import upgrade
    from server.core.tasks import engine_for
    from server.jobs.models import Job
    from server.technicians.models import Technician

    # Every weekday has visits here, so that today's windows (checked against the 1,000-job plan) are always asked
    # for, whatever day the bench runs on.
    settings = bench_settings(base, "offers", database_url=base.database_url, dispatch_background=False,
                              appointment_working_days="1,2,3,4,5,6,7")
    upgrade(settings)
    engine = engine_for(settings)
    city = load_city(settings)
    rng = random.Random(seed)
    places = _places(city, technicians + jobs + offers, seed)
    if len(places) < technicians + jobs + offers:
        raise SystemExit(f"the demo city has only {len(places)} usable places")
    now_local = datetime.now(ZoneInfo(settings.timezone))
    start, end, lunch = bench_shift(now_local)
    echo(f"Creating {technicians} technicians (shift {start:%H:%M}-{end:%H:%M}) and {jobs} jobs ...")
    with Session(engine) as session:
        for i in range(technicians):
            lat, lon = places[i]
            skills = {SKILLS[i % len(SKILLS)]: 3, SKILLS[(i + 2) % len(SKILLS)]: 2, "general": 2}
            session.add(Technician(name=f"Tech {i}", skills=skills, home_lat=lat, home_lon=lon, shift_start=start,
                                   shift_end=end, overtime_allowed_min=60, breaks=lunch))
        for k in range(jobs):
            lat, lon = places[technicians + k]
            session.add(Job(title=f"Complaint {k}", category="general", priority=rng.randint(2, 7),
                            required_skills={rng.choice(SKILLS): 1}, duration_min=rng.choice([20, 30, 45]),
                            lat=lat, lon=lon))
        session.commit()
    echo(f"Planning the day ({solve_s:.0f} s solve) ...")
    t0 = time.perf_counter()
    plan_morning(engine=engine, settings=settings, solve_s=solve_s)
    echo(f"  plan stored in {time.perf_counter() - t0:.1f} s")
    present = []
    with Session(engine) as session:
        for k in range(offers):
            lat, lon = places[technicians + jobs + k]
            job = Job(title=f"No water {k}", category="no_water", priority=5, required_skills={"water": 1},
                      duration_min=45, lat=lat, lon=lon)
            session.add(job)
            session.flush()
            present.append(job.id or 0)
        session.commit()
    appointments.compute_slots(session=Session(engine), settings=settings, city=city, job_id=present[0])  # warm-up
    timings, cpu, offered, per_job, today_windows = [], [], 0, [], 0
    today = appointments._local(settings, datetime.now(ZoneInfo(settings.timezone))).date()
    for job_id in present:
        with Session(engine) as session:
            c0, t1 = _cpu_s(), time.perf_counter()
            slots, _notes = appointments.compute_slots(session=session, settings=settings, city=city, job_id=job_id)
            timings.append((time.perf_counter() - t1) * 1000)
            cpu.append((_cpu_s() - c0) * 1000)
        offered += bool(slots)
        today_windows += sum(appointments._local(settings, s.start).date() == today for s in slots)
        per_job.append(len(slots))
        if len(timings) <= 3:
            text = ", ".join(f"{appointments._local(settings, s.start):%a %H:%M} +{s.added_travel_s / 60:.1f} min"
                             for s in slots)
            echo(f"  job {job_id}: {timings[-1]:.0f} ms: {text or 'no window'}")
    result = {
        "benchmark": "appointment_offers", "technicians": technicians, "jobs": jobs, "offers": len(timings),
        "city": "demo (Baltimore central)", "days": settings.appointment_days,
        "window_min": settings.appointment_window_min,
        "offer_ms": {"p50": percentile(timings, 0.5), "p95": percentile(timings, 0.95),
                     "max": round(max(timings), 1), "mean": round(statistics.fmean(timings), 1)},
        "offer_cpu_ms": {"p50": percentile(cpu, 0.5), "p95": percentile(cpu, 0.95)},
        "jobs_with_windows": offered, "windows_per_offer": round(statistics.fmean(per_job), 2),
        "windows_today": today_windows,
        "load_average_1min": round(os.getloadavg()[0], 2), "target": {"offer_ms_p95": 300},
    }
    echo(f"offer computation: p50 {result['offer_ms']['p50']} ms, p95 {result['offer_ms']['p95']} ms "
         f"(CPU p95 {result['offer_cpu_ms']['p95']} ms), {offered}/{len(timings)} jobs got windows; "
         f"load average {result['load_average_1min']}")
    return result
