"""``groundcrew bench week``: are booked arrival windows kept over a simulated working week (issue 30)?

A throwaway database on the demo city (real streets of central Baltimore, technicians living at real 311 places). A
simulated clock runs over the working day before the week (arrivals only, so Monday has bookings) and ``days``
working days:

- **Arrivals**: real 311 rows of the demo file that lie on the street network, each at its own time of day on the
  simulated day of its own weekday (dates shifted to the week), at its own place. A share of them (``present_share``)
  is a service the catalogue flags ``customer_present`` (no_water for water rows, housing otherwise); the rest are
  ordinary field work. Each arrives as an SMS (a customer, a conversation, a job reported from it).
- **Offers and answers** go through the server's own services with ``now=`` the simulated time:
  ``appointments.compute_slots`` + ``offer`` when the job arrives (what the appointment sweep calls), and
  ``appointments.book`` when the customer answers (what ``answer_offer`` calls once it has read the number), 2-120
  minutes later, picking one of the offered windows at random; some customers never answer. Windows start the next
  working day (``appointment_lead_min`` = a day: the day is executed open-loop, see below, so a window booked into
  today's running plan could not be honoured by the simulation). A window the morning plan cannot keep is re-offered
  (``appointments.reoffer``) and answered the same way.
- **Each morning at 07:00** the day is planned the way the planning service plans it: ``build_snapshot`` of the
  database at that time (booked windows are the jobs' hard time windows), ``routing.solve`` for ``solve_s``, the plan
  stored by the plan writer (which marks the booked windows it could not keep for a re-offer). Not through a solve
  job (``dispatch.service.run_solve_job`` reads the wall clock) and without its warm start from yesterday's plan.
  **Baseline**: the jobs that plan serves, solved again by the same engine with the same time limit with every window
  and pin dropped.
- **Execution** of the stored plan, open-loop (no mid-day re-plan: the server's live re-plan path runs on real-time
  job events this clock does not drive): each leg's travel time and each visit's service time times a lognormal
  factor of mean 1 and log-sd ``noise``; a technician who arrives before a window waits for it; no one works past the
  end of the shift plus the allowed overtime (the rest of the day goes back to the backlog). A booked customer is
  absent with probability ``no_show_rate``: the technician waits ``NO_SHOW_WAIT_S`` and moves on.
- **Each evening at 18:00** the day-before reminders go out (``appointments.remind``) and the planning horizon is
  re-planned (``horizon.plan_horizon``: later days' offers count its tentative visits as work already there).

Every booked window whose day is simulated ends exactly once: **met** (the technician arrived no later than the
window's end, tolerance ``TOLERANCE_S`` = 0, customer there), **no_show** (on time, customer absent: left out of
the met ratio), or **missed** (late; dropped by the morning plan and re-offered; or not reached before the end of the
shift). Bookings for days after the week are counted apart. Printed: one line per day, then one JSON line."""

from __future__ import annotations

import csv
import heapq
import math
import os
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

import routing
from server.config import DEMO_DATA_DIR, Settings
from server.dispatch.bench import _places, bench_settings

#: A booked window is met when the technician arrives no later than its end plus this (s).
TOLERANCE_S = 0
#: How long a technician waits at a booked visit whose customer is not there before moving on (s).
NO_SHOW_WAIT_S = 600
#: The customer's answer comes this many minutes after the offer (uniform).
ANSWER_DELAY_MIN = (2, 120)
#: The first simulated day (a Monday with no US federal holiday in its week): fixed, so two runs with the same seed
#: see the same calendar.
FIRST_DAY = date(2027, 4, 12)
MORNING = dtime(7, 0)
EVENING = dtime(18, 0)
SHIFT = (dtime(8, 0), dtime(16, 30))
LUNCH = [{"earliest": "11:30", "latest": "13:30", "duration_min": 30}]
DURATIONS_MIN = [20, 30, 45, 60]
_BALTIMORE_TIME = "%m/%d/%Y %I:%M:%S %p"


@dataclass
class Booking:
    """One booked window (a re-booking after a re-offer is another one)."""

    appointment_id: int
    job_id: int
    start: datetime
    end: datetime
    day: date
    no_show: bool
    outcome: str | None = None  # met | missed | no_show
    why: str | None = None  # for missed: late | dropped | not_reached
    late_min: float | None = None  # arrival after the window's end (min; negative: that much before it)


@dataclass
class Arrival:
    at: datetime
    lat: float
    lon: float
    kind: str  # the 311 type, for the job's title
    present: bool
    category: str


@dataclass
class Tally:
    arrivals: int = 0
    offered: int = 0
    no_window: int = 0
    answered: int = 0
    never_answered: int = 0
    taken: int = 0
    reoffers: int = 0
    reminders: int = 0
    bookings: list[Booking] = field(default_factory=list)
    days: list[dict[str, Any]] = field(default_factory=list)


def _lognormal(rng: random.Random, sigma: float) -> float:
    """A factor of mean 1 with log-sd ``sigma``."""
    return math.exp(rng.gauss(-sigma * sigma / 2, sigma)) if sigma > 0 else 1.0


def _quantile(values: list[float], q: float) -> float | None:
    """The nearest-rank ``q`` quantile, None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def working_days(first: date, count: int) -> list[date]:
    """``count`` Monday-to-Friday dates from ``first`` on."""
    out, day = [], first
    while len(out) < count:
        if day.isoweekday() <= 5:
            out.append(day)
        day += timedelta(days=1)
    return out


def arrivals(city: Any, days: list[date], per_day: int, present_share: float, seed: int,
             tz: ZoneInfo) -> dict[date, list[Arrival]]:
    """Real 311 rows of the demo file on the street network, ``per_day`` for each day, drawn from the rows created on
    that weekday, at their own time of day and place (rows are reused only when a weekday has too few)."""
    rng = random.Random(seed)
    by_weekday: dict[int, list[tuple[dtime, float, float, str]]] = {}
    with open(DEMO_DATA_DIR / "baltimore_311_demo.csv", newline="", encoding="utf-8") as handle:
        for r in csv.DictReader(handle):
            try:
                created = datetime.strptime(r["CreatedDate"].strip(), _BALTIMORE_TIME)
                lat, lon = float(r["Latitude"]), float(r["Longitude"])
            except (ValueError, KeyError):
                continue
            try:
                city.network.snap(lat, lon)
            except Exception:
                continue
            by_weekday.setdefault(created.isoweekday(), []).append((created.time(), lat, lon, r["SRType"]))
    out: dict[date, list[Arrival]] = {}
    for day in days:
        rows = by_weekday.get(day.isoweekday(), [])
        picked = rng.sample(rows, min(per_day, len(rows))) + rng.choices(rows, k=max(0, per_day - len(rows)))
        items = []
        for at, lat, lon, kind in picked:
            present = rng.random() < present_share
            category = ("no_water" if kind.startswith("WW") else "housing") if present else "general"
            items.append(Arrival(datetime.combine(day, at, tzinfo=tz), lat, lon, kind, present, category))
        out[day] = sorted(items, key=lambda a: a.at)
    return out


def _execute(problem: routing.Problem, plan: routing.Plan, booked: dict[str, Booking], origin: datetime,
             rng: random.Random, noise: float) -> tuple[dict[str, str], int]:
    """Drive the plan with noisy travel and service times: job key -> done | not_reached | no_show, and the travel
    driven (s). Marks the outcome of each booking visited."""
    tt = problem.travel_time_s
    result: dict[str, str] = {}
    driven = 0
    for route in plan.routes:
        if not route.stops:
            continue
        tech = problem.technician(route.technician_id)
        cutoff = tech.shift_end_s + tech.max_overtime_s
        t = route.start_s
        pos = tech.current_location if tech.current_location is not None else tech.start_location
        breaks = sorted(route.breaks, key=lambda b: b.start_s)
        stopped = False
        for stop in route.stops:
            job = problem.job(stop.job_id)
            if stopped:
                result[stop.job_id] = "not_reached"
                continue
            while breaks and breaks[0].start_s <= stop.arrival_s:  # the break planned before this visit
                b = breaks.pop(0)
                t = max(t, b.start_s) + (b.end_s - b.start_s)
            leg = int(tt[pos, job.location] * _lognormal(rng, noise))
            arrival = t + leg
            if arrival > cutoff:
                stopped = True
                result[stop.job_id] = "not_reached"
                continue
            driven += leg
            pos = job.location
            windows = job.time_windows
            t = max(arrival, windows[0].start_s) if windows else arrival
            booking = booked.get(stop.job_id)
            if booking is not None:
                end_s = int((booking.end - origin).total_seconds())
                booking.late_min = round((arrival - end_s) / 60, 1)
                late = arrival > end_s + TOLERANCE_S
                if late:
                    booking.outcome, booking.why = "missed", "late"
                elif booking.no_show:
                    booking.outcome = "no_show"
                else:
                    booking.outcome = "met"
                if booking.no_show:
                    t += NO_SHOW_WAIT_S
                    result[stop.job_id] = "no_show"
                    continue
            t += int((stop.end_s - stop.start_s) * _lognormal(rng, noise))
            result[stop.job_id] = "done"
        driven += int(tt[pos, tech.end_loc] * _lognormal(rng, noise))  # home (the plan's travel counts it too)
    return result, driven


def run(*, technicians: int = 20, days: int = 5, per_day: int = 150, seed: int = 1, solve_s: float = 8.0,
        no_show_rate: float = 0.05, noise: float = 0.3, present_share: float = 0.3, answer_rate: float = 0.85,
        horizon: bool = True, base: Settings | None = None,
        echo: Callable[[str], None] = print) -> dict[str, Any]:
    from server.appointments import service as appointments
    from server.appointments.models import Appointment, AppointmentStatus
    from server.conversations import service as conversations
    from server.conversations.models import InboundMessage
    from server.core.city import load_city
    from server.core.db import make_engine
    from server.core.migrate import upgrade
    from server.dispatch.problem import build_snapshot, job_key, parse_key
    from server.horizon import service as horizon_service
    from server.jobs.models import Job, JobReport, JobStatus
    from server.plans import writer
    from server.technicians.models import Technician

    wall0 = time.perf_counter()
    settings = bench_settings(base or Settings(), "week", dispatch_background=False, dispatch_auto_replan=False,
                              appointment_sweep=False, appointment_lead_min=24 * 60,
                              appointment_working_days="1,2,3,4,5", horizon_weekdays="1-5",
                              horizon_holidays_country=None, horizon_closed_dates="")
    upgrade(settings)
    engine = make_engine(settings)
    city = load_city(settings)
    tz = ZoneInfo(settings.timezone)
    all_days = working_days(FIRST_DAY - timedelta(days=3), days + 1)  # the Friday before, then the week
    week = all_days[1:]
    arriving = arrivals(city, all_days, per_day, present_share, seed, tz)
    homes = _places(city, technicians, seed + 1000)
    rng = random.Random(seed)
    exec_rng = random.Random(seed + 1)
    with Session(engine) as session:
        for k, (lat, lon) in enumerate(homes):
            session.add(Technician(name=f"Technician {k + 1}", skills={"general": 2}, home_lat=lat, home_lon=lon,
                                   shift_start=SHIFT[0], shift_end=SHIFT[1], breaks=LUNCH, overtime_allowed_min=30))
        session.commit()

    tally = Tally()
    events: list[tuple[datetime, int, str, Any]] = []
    seq = 0

    def at(when: datetime, kind: str, payload: Any = None) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (when.astimezone(UTC), seq, kind, payload))

    for day in all_days:
        for a in arriving[day]:
            at(a.at, "arrive", a)
    for day in week:
        at(datetime.combine(day, MORNING, tzinfo=tz), "morning", day)
    day = all_days[0]
    while day <= week[-1]:  # every evening, weekends too: a Monday window is reminded on the Sunday
        at(datetime.combine(day, EVENING, tzinfo=tz), "evening", day)
        day += timedelta(days=1)

    def ask(appointment_id: int, now: datetime) -> None:
        """The customer reads the offer: answers later with one of its numbers, or never."""
        if rng.random() >= answer_rate:
            tally.never_answered += 1
            return
        at(now + timedelta(minutes=rng.uniform(*ANSWER_DELAY_MIN)), "answer", appointment_id)

    def answer(appointment_id: int, now: datetime) -> None:
        with Session(engine) as session:
            appt = session.get(Appointment, appointment_id)
            if appt is None or appt.status != AppointmentStatus.offered or not appt.options:
                return
            choice = rng.randint(1, len(appt.options))
            outcome = appointments.book(session=session, settings=settings, city=city, appointment=appt,
                                        choice=choice, now=now)
            session.commit()
            tally.answered += 1
            if outcome == "taken":  # the window went since it was offered: new options were sent
                tally.taken += 1
                if appt.status == AppointmentStatus.offered:
                    ask(appointment_id, now)
            elif outcome == "booked":
                start, end = appt.window_start, appt.window_end
                assert start is not None and end is not None
                tally.bookings.append(Booking(appointment_id, appt.job_id, start, end,
                                              start.astimezone(tz).date(), no_show=rng.random() < no_show_rate))

    def arrive(k: int, a: Arrival) -> None:
        tally.arrivals += 1
        with Session(engine) as session:
            got = conversations.ingest(session=session, inbound=InboundMessage(
                channel="sms", external_id=f"week-{k}", author_handle=f"+1410{k:07d}", author_name="Resident",
                text=f"{a.kind} at my place", sent_at=a.at, lat=a.lat, lon=a.lon))
            job = Job(title=f"{a.kind} ({k})", category=a.category, required_skills={"general": 1},
                      duration_min=45 if a.present else rng.choice(DURATIONS_MIN), priority=5, lat=a.lat, lon=a.lon,
                      sla_due_at=a.at + timedelta(hours=48), created_at=a.at)
            session.add(job)
            session.flush()
            session.add(JobReport(job_id=job.id or 0, customer_id=got.message.customer_id,
                                  message_id=got.message.id, channel="sms"))
            session.commit()
            if not a.present:
                return
            slots, _notes = appointments.compute_slots(session=session, settings=settings, city=city,
                                                       job_id=job.id or 0, now=a.at)
            appt, _ = appointments.offer(session=session, settings=settings, job=job, slots=slots)
            session.commit()
            if not slots:
                tally.no_window += 1
                return
            tally.offered += 1
            ask(appt.id or 0, a.at)

    def morning(day: date, now: datetime) -> None:
        with Session(engine) as session:
            snapshot = build_snapshot(session=session, settings=settings, city=city, now=now)
        s0 = time.perf_counter()
        plan = routing.solve(snapshot.problem, time_limit_s=solve_s, seed=seed)
        solved_s = time.perf_counter() - s0
        with Session(engine) as session:
            writer.store_plan(session=session, settings=settings, snapshot=snapshot, plan=plan, trigger="morning")
            session.commit()
        served = {s.job_id for r in plan.routes for s in r.stops}
        todays = {job_key(b.job_id): b for b in tally.bookings if b.day == day and b.outcome is None}
        dropped = [b for k, b in todays.items() if k not in served]
        for b in dropped:
            b.outcome, b.why = "missed", "dropped"
        # The baseline: the same jobs, same engine and time limit, no booked windows or pins.
        base_jobs = [replace(j, time_windows=[], pinned_technician=None, pinned_position=None)
                     for j in snapshot.problem.jobs if j.id in served]
        p = snapshot.problem
        baseline = routing.Problem(p.technicians, base_jobs, p.travel_time_s, p.distance_m,
                                   skill_catalog=p.skill_catalog)
        b0 = time.perf_counter()
        base_plan = routing.solve(baseline, time_limit_s=solve_s, seed=seed)
        base_s = time.perf_counter() - b0
        # Re-offers for the windows this plan could not keep (the sweep's job, with the simulated clock).
        with Session(engine) as session:
            broken = session.exec(select(Appointment).where(Appointment.status == AppointmentStatus.reoffer)).all()
            for appt in broken:
                appointments.reoffer(session=session, settings=settings, city=city, appointment=appt, now=now)
                session.commit()
                tally.reoffers += 1
                if appt.status == AppointmentStatus.offered:
                    ask(appt.id or 0, now)
        # The day, driven.
        outcome, driven = _execute(p, plan, {k: b for k, b in todays.items() if k in served}, snapshot.origin,
                                   exec_rng, noise)
        for b in todays.values():
            if b.outcome is None:
                b.outcome, b.why = "missed", "not_reached"
        with Session(engine) as session:
            for key, what in outcome.items():
                job = session.get(Job, parse_key(key))
                if job is None:
                    continue
                if what == "done":
                    job.status = JobStatus.completed
                elif what == "no_show":
                    job.status = JobStatus.unable
                else:
                    job.status, job.assigned_technician_id, job.eta_at = JobStatus.unassigned, None, None
                job.version += 1
                session.add(job)
            session.commit()
        ended = Counter(b.outcome for b in todays.values())
        line = {"day": day.isoformat(), "planned": len(served), "unassigned": len(plan.unassigned),
                "done": sum(v == "done" for v in outcome.values()),
                "not_reached": sum(v == "not_reached" for v in outcome.values()),
                "booked_today": len(todays), "met": ended["met"], "missed": ended["missed"],
                "no_show": ended["no_show"], "dropped": len(dropped),
                "travel_min_booked": round(plan.objective.travel_s / 60),
                "travel_min_baseline": round(base_plan.objective.travel_s / 60),
                "baseline_unassigned": len(base_plan.unassigned),
                "travel_min_driven": round(driven / 60), "solve_s": round(solved_s, 1),
                "baseline_solve_s": round(base_s, 1)}
        tally.days.append(line)
        echo(f"{day:%a %Y-%m-%d}: plan {line['planned']} visits ({line['unassigned']} left), "
             f"{line['booked_today']} booked windows: {line['met']} met, {line['missed']} missed "
             f"({len(dropped)} dropped by the plan), {line['no_show']} no-show; travel {line['travel_min_booked']} "
             f"min vs {line['travel_min_baseline']} min ignoring bookings; driven {line['travel_min_driven']} min; "
             f"{line['not_reached']} not reached")

    def evening(day: date, now: datetime) -> None:
        with Session(engine) as session:
            count, _ = appointments.remind(session=session, settings=settings, now=now)
            session.commit()
            tally.reminders += count
        if horizon and day.isoweekday() <= 5:
            with Session(engine) as session:
                horizon_service.plan_horizon(session=session, settings=settings, city=city, now=now,
                                             time_limit_s=solve_s, trigger="bench-week")

    k = 0
    while events:
        when, _, kind, payload = heapq.heappop(events)
        if kind == "arrive":
            k += 1
            arrive(k, payload)
        elif kind == "answer":
            answer(payload, when)
        elif kind == "morning":
            morning(payload, when)
        elif kind == "evening":
            evening(payload, when)

    inside = [b for b in tally.bookings if b.day in week]
    ended = Counter(b.outcome for b in inside)
    why = Counter(b.why for b in inside if b.outcome == "missed")
    met, missed, no_show = ended["met"], ended["missed"], ended["no_show"]
    booked_travel = sum(d["travel_min_booked"] for d in tally.days)
    base_travel = sum(d["travel_min_baseline"] for d in tally.days)
    load = os.getloadavg()[0]
    return {
        "benchmark": "week", "city": "demo (Baltimore central)", "days": len(week), "technicians": technicians,
        "arrivals": tally.arrivals, "arrivals_per_day": per_day, "present_share": present_share,
        "offered": tally.offered, "no_window": tally.no_window, "never_answered": tally.never_answered,
        "taken": tally.taken, "booked": len(inside), "booked_after_week": len(tally.bookings) - len(inside),
        "met": met, "missed": missed, "no_show": no_show,
        "met_pct": round(100 * met / max(1, met + missed), 1), "missed_why": dict(why),
        "late_by_min": sorted(b.late_min for b in inside if b.why == "late"),
        "arrival_before_end_min_p10": _quantile([-b.late_min for b in inside if b.late_min is not None], 0.1),
        "reoffers": tally.reoffers, "reminders": tally.reminders,
        "travel_min_booked": booked_travel, "travel_min_baseline": base_travel,
        "travel_ratio": round(booked_travel / base_travel, 3) if base_travel else None,
        "travel_min_driven": sum(d["travel_min_driven"] for d in tally.days),
        "jobs_done": sum(d["done"] for d in tally.days),
        "execution": "open-loop (no mid-day re-plan); windows from the next working day on",
        "tolerance_s": TOLERANCE_S, "no_show_rate": no_show_rate, "noise_log_sd": noise, "answer_rate": answer_rate,
        "seeds": {"arrivals_customers_solver": seed, "execution_noise": seed + 1, "homes": seed + 1000},
        "solve_s": solve_s, "per_day": tally.days, "wall_s": round(time.perf_counter() - wall0, 1),
        "load_avg_1m": round(load, 2), "cores": os.cpu_count(),
        "targets": {"met_pct": 95.0, "travel_ratio": 1.10},
    }
