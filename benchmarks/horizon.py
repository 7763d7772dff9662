"""``groundcrew bench horizon``: plan the working days after today for a utility-sized backlog on the demo city (real
311 places, real streets): N technicians x D working days as vehicles of one problem, M open jobs. Prints the time to
build and solve, CPU seconds, how much was planned, and the load average (the machine may be shared); last line JSON.
"""

from __future__ import annotations

import os
import random
import time
from datetime import time as dtime
from typing import Any

from sqlmodel import Session

from server.config import Settings
from server.core.city import load_city
from server.core.db import make_engine
from server.core.migrate import upgrade
from server.dispatch.bench import _places, bench_settings
from server.horizon import service
from server.jobs.models import Job, JobStatus
from server.technicians.models import Technician

SKILLS = ["electrical", "roads", "water", "sanitation", "general"]


def run(*, technicians: int, jobs: int, days: int, solve_s: float, seed: int) -> dict[str, Any]:
    settings = bench_settings(Settings(), "horizon", horizon_days=days, dispatch_background=False)
    upgrade(settings)
    city = load_city(settings)
    rng = random.Random(seed)
    places = _places(city, technicians + jobs, seed)
    engine = make_engine(settings)
    with Session(engine) as session:
        for k in range(technicians):
            lat, lon = places[k]
            skills = {s: rng.randint(1, 3) for s in rng.sample(SKILLS, 2)} | {"general": 2}
            session.add(Technician(name=f"Technician {k + 1}", skills=skills, home_lat=lat, home_lon=lon,
                                   shift_start=dtime(8, 0), shift_end=dtime(16, 30),
                                   breaks=[{"earliest": "11:30", "latest": "13:30", "duration_min": 30}]))
        for k in range(jobs):
            lat, lon = places[technicians + k]
            skill = rng.choice(SKILLS)
            session.add(Job(title=f"Backlog job {k + 1}", category="general", required_skills={skill: 1},
                            duration_min=rng.choice([20, 30, 45, 60, 90]), priority=rng.randint(2, 9),
                            lat=lat, lon=lon, status=JobStatus.unassigned))
        session.commit()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    with Session(engine) as session:
        run = service.plan_horizon(session=session, settings=settings, city=city, time_limit_s=solve_s,
                                   trigger="bench")
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    return {"technicians": technicians, "jobs": jobs, "days": run.days, "vehicles": technicians * len(run.days),
            "solve_s": solve_s, "wall_s": round(wall, 1), "cpu_s_this_process": round(cpu, 1),
            "planned": run.planned, "unassigned": len(run.unassigned), "travel_min": run.travel_min,
            "load_avg_1m": round(os.getloadavg()[0], 2), "cores": os.cpu_count()}
