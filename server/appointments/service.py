"""Appointments booked with the customer in their own conversation (issue 30, items 2-4).

A job whose service needs the customer present (``customer_present`` in the catalogue) gets 2-3 arrival windows
that fit the plan at low added travel, sent in the customer's language through server/notify ("Reply 1 for Tue
10:00–12:00, 2 for Wed 14:00–16:00"). Their answer is recognised by intake before triage (``answer_offer``), books
the window (the job carries it, less the last quarter plans keep free for delays, as a hard time window; today's
booking is pinned to the technician whose day it fits), and is confirmed with a signed self-service link. A booked
window that a re-plan cannot keep is offered again (``kept.mark_not_kept`` marks it, ``sweep`` sends), and a reminder
goes out the day before.

Windows today are cheapest-insertion checks (``routing.recommend``) against the stored plan. Later days have no plan
yet (multi-day planning is not built): each is a per-day insertion check against every technician's shift that day,
with the windows already booked for that day as the only other stops.

What is offered follows the booking policy (``policy.current``: set in the console, Administration › Appointments;
the server's settings when nothing is stored): the window length, windows at once, days ahead and lead time; which
services offer windows; blackout days with no windows.

Bookings are serialized by the plan-writer lock (the same one every plan writer takes) and an offer is claimed by a
conditional UPDATE (offered → booked for one offer round), so two replies at once can never book twice."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import math
import re
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

import routing
from server.appointments import policy as booking_policy
from server.appointments.kept import note as _note
from server.appointments.models import OPEN_APPOINTMENT, Appointment, AppointmentStatus
from server.appointments.policy import customer_present_categories
from server.cases.models import Case
from server.config import Settings
from server.conversations.models import Message
from server.core.errors import Conflict, DomainError, Invalid, NotFound
from server.core.periodic import Periodic
from server.core.timeutil import as_utc, utcnow
from server.dispatch.models import JobPin
from server.dispatch.problem import (
    UNREACHABLE_S,
    build_snapshot,
    day_origin,
    job_key,
    matrix_cache,
    parse_key,
    tech_key,
    to_s,
)
from server.events.broker import make_event
from server.horizon import service as horizon
from server.horizon.models import HorizonVisit
from server.jobs.models import OPEN_STATUSES, Job, JobReport, JobStatus
from server.notify.job_notices import conversation_language, reporter_conversations
from server.notify.service import send_to_customer
from server.plans import writer
from server.technicians import service as technicians
from server.technicians.models import Availability, Technician
from server.triage.replies import reply

if TYPE_CHECKING:
    from geodata import City

log = logging.getLogger("groundcrew.appointments")

#: Technicians whose day passes closest to the job are the only ones asked (by travel time from their home or any
#: stop): the cheapest insertions are near, and asking 12 of 100 keeps an offer well under the 300 ms target.
NEAR_TECHNICIANS = 12
#: The last share of a booked window that plans keep free: a visit is planned to start by ``end - share x length``
#: (a 10:00-12:00 booking by 11:30), so a day running late (a long visit before, slow traffic) still arrives inside
#: the window the customer was given. Offers check the same shortened window. ``groundcrew bench week`` (a noisy,
#: open-loop week, seeds 1-4): 94.6 % of booked windows met without it, 97.6 % with it, for ~1.5 % more travel.
PLAN_MARGIN_SHARE = 0.25
#: An answer is a short message ("2", "#2", "option 2 please"); anything longer is a new message for intake.
MAX_ANSWER_CHARS = 40
_ANSWER = re.compile(r"^(?:#|no\.?|nr\.?|number|option|choice|valinta|vaihtoehto|numero|alternativ|nummer)?\s*"
                     r"([0-9]{1,2})\s*[.!)]?\s*(?:please|pls|thanks|thank you|kiitos|tack)?\s*[.!]?$", re.IGNORECASE)


@dataclass
class Slot:
    """One arrival window that fits: when, whose day it joins (None: no plan yet for that day), what it adds."""

    start: datetime
    end: datetime
    technician_id: int | None
    added_travel_s: int
    added_cost: int


@dataclass
class Answered:
    """What an answer to an open offer did (intake returns it instead of triaging the message)."""

    appointment: Appointment
    job: Job | None
    case: Case | None
    outcome: str  # booked | reask | taken | already


# ---------------------------------------------------------------- catalogue


def needs_customer(settings: Settings, category: str | None, policy: booking_policy.Policy | None = None) -> bool:
    """True when this service's visit is booked with the customer: the catalogue says it needs them there, unless
    the booking ``policy`` switches the service on or off."""
    if policy is not None:
        return policy.offers_slots(category, customer_present_categories(settings))
    return bool(category) and category in customer_present_categories(settings)


# ---------------------------------------------------------------- windows


def _working_days(settings: Settings) -> set[int]:
    try:
        days = {int(d) for d in settings.appointment_working_days.split(",") if d.strip()}
    except ValueError:
        raise Invalid("appointment_working_days: ISO weekday numbers 1..7 separated by commas") from None
    return days or {1, 2, 3, 4, 5}


def offer_days(settings: Settings, now: datetime, policy: booking_policy.Policy | None = None) -> list[date]:
    """Today (when a working day) and the next working days, ``appointment_days`` in all. A blackout day of the
    booking ``policy`` is skipped without counting, like a public holiday."""
    tz = ZoneInfo(settings.timezone)
    day, working, out = as_utc(now).astimezone(tz).date(), _working_days(settings), []
    closed = horizon.closed_dates(settings, {day.year, day.year + 1})  # public holidays, closed dates
    while len(out) < settings.appointment_days:
        if day.isoweekday() in working and day not in closed and (policy is None or policy.blocked(day) is None):
            out.append(day)
        day += timedelta(days=1)
    return out


def day_windows(settings: Settings, day: date, shifts: list[tuple[dtime, dtime]],
                not_before: datetime) -> list[tuple[datetime, datetime]]:
    """Windows of ``appointment_window_min`` on the whole hours of ``day`` inside the earliest shift start and the
    latest shift end, starting no earlier than ``not_before`` (aware, local)."""
    if not shifts:
        return []
    tz = ZoneInfo(settings.timezone)
    length = timedelta(minutes=settings.appointment_window_min)
    first = datetime.combine(day, min(s for s, _ in shifts), tzinfo=tz)
    if first.minute or first.second:
        first = first.replace(minute=0, second=0) + timedelta(hours=1)
    last = datetime.combine(day, max(e for _, e in shifts), tzinfo=tz)
    out, start = [], first
    while start + length <= last:
        if start >= not_before:
            out.append((start, start + length))
        start += length
    return out


def plan_window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The window a plan must start a booked visit in: the customer's window less its last
    ``PLAN_MARGIN_SHARE`` (whole seconds)."""
    return start, end - timedelta(seconds=int((end - start).total_seconds() * PLAN_MARGIN_SHARE))


def _near_routes(problem: routing.Problem, plan: routing.Plan, job: routing.Job, limit: int) -> list[routing.Route]:
    """The routes of technicians who can do ``job`` whose home or stops are closest to it (travel time)."""
    tt = problem.travel_time_s
    scored = []
    for route in plan.routes:
        tech = problem.technician(route.technician_id)
        if not problem.can_do(tech, job):
            continue
        places = [tech.start_location] + [problem.job(s.job_id).location for s in route.stops if s.job_id != job.id]
        scored.append((int(np.min(tt[places, job.location])), route.technician_id, route))
    scored.sort(key=lambda x: (x[0], x[1]))
    return [r for _, _, r in scored[:limit]]


def _close(job: Job, places: list[tuple[float, float]]) -> float:
    """Squared straight-line distance (equirectangular, degrees) from the job to the nearest of ``places``: a cheap
    first cut before travel times are asked for."""
    k = math.cos(math.radians(job.lat))
    return min(((lat - job.lat) ** 2 + ((lon - job.lon) * k) ** 2 for lat, lon in places), default=math.inf)


def _can_do(tech: Technician, job: Job) -> bool:
    return all(tech.skills.get(s, 0) >= lvl for s, lvl in job.required_skills.items())


def _nearest_technicians(session: Session, job: Job, limit: int) -> set[int]:
    """The ``limit`` technicians who can do the job whose home or open jobs are closest to it (straight line)."""
    techs = [t for t in session.exec(select(Technician).where(Technician.availability == Availability.on_shift))
             .all() if _can_do(t, job)]
    places: dict[int, list[tuple[float, float]]] = {t.id or 0: [(t.home_lat, t.home_lon)] for t in techs}
    for tid, lat, lon in session.exec(select(Job.assigned_technician_id, Job.lat, Job.lon).where(
            col(Job.status).in_(OPEN_STATUSES), col(Job.assigned_technician_id).in_(set(places) or {-1}),
            Job.id != job.id)).all():
        places[tid or 0].append((lat, lon))
    return set(sorted(places, key=lambda tid: (_close(job, places[tid]), tid))[:limit])


def _fits(problem: routing.Problem, routes: list[routing.Route], model: routing.Job, origin: datetime,
          windows: list[tuple[datetime, datetime]]) -> list[Slot]:
    """For each window, the cheapest insertion of ``model`` that starts inside it (routing's own insertion check)."""
    plan = routing.Plan(routes=routes)
    out = []
    for start, end in windows:
        planned = plan_window(start, end)
        windowed = replace(model, time_windows=[routing.TimeWindow(to_s(origin, planned[0]),
                                                                   to_s(origin, planned[1]))],
                           pinned_technician=None, pinned_position=None)
        best = routing.recommend(problem, plan, windowed, k=1)
        if best:
            out.append(Slot(start, end, parse_key(best[0].technician_id), int(best[0].added_travel_s),
                            int(best[0].added_cost)))
    return out


def _today_slots(session: Session, settings: Settings, city: City, job: Job, now: datetime, day: date,
                 notes: list[str]) -> list[Slot]:
    near = _nearest_technicians(session, job, 2 * NEAR_TECHNICIANS)
    try:  # only the nearest capable technicians' days: the cost follows them, not the size of the day
        snapshot = build_snapshot(session=session, settings=settings, city=city, now=now, technician_ids=near,
                                  job_ids={job.id or 0})
    except DomainError as exc:  # nobody near has time left today
        notes.append(f"today: {exc}")
        return []
    if (job.id or 0) not in snapshot.jobs:
        notes.append("today: the job's place cannot be reached by road")
        return []
    model = snapshot.problem.job(job_key(job.id or 0))
    shifts = [(s.start, s.end) for t in snapshot.technicians.values()
              if (s := technicians.shift_on(tech=t, day=day)) is not None]
    lead = as_utc(now) + timedelta(minutes=settings.appointment_lead_min)
    windows = day_windows(settings, day, shifts, lead.astimezone(ZoneInfo(settings.timezone)))
    if not windows:
        return []
    routes = _near_routes(snapshot.problem, snapshot.current_plan(), model, NEAR_TECHNICIANS)
    return _fits(snapshot.problem, routes, model, snapshot.origin, windows)


def _booked_on(session: Session, settings: Settings, day: date, exclude_job: int) -> list[tuple[Appointment, Job]]:
    tz = ZoneInfo(settings.timezone)
    lo = datetime.combine(day, dtime(0), tzinfo=tz).astimezone(UTC)
    rows = session.exec(select(Appointment, Job).where(Appointment.job_id == Job.id,
                                                       Appointment.status == AppointmentStatus.booked,
                                                       col(Appointment.window_start) >= lo,
                                                       col(Appointment.window_start) < lo + timedelta(days=1),
                                                       Appointment.job_id != exclude_job)).all()
    return [(a, j) for a, j in rows]


def _later_day_slots(session: Session, settings: Settings, city: City, job: Job, day: date,
                     notes: list[str]) -> list[Slot]:
    """A later day: each technician at work that day (not off, not absent), from home, with that day's bookings and
    the planning horizon's tentative visits as stops, in time order."""
    tz = ZoneInfo(settings.timezone)
    origin = day_origin(settings, datetime.combine(day, dtime(12), tzinfo=tz))
    booked = _booked_on(session, settings, day, job.id or 0)
    away = technicians.absent_on(session=session, day=day)
    capable = [t for t in session.exec(select(Technician).order_by(col(Technician.id))).all()
               if _can_do(t, job) and t.availability != Availability.off and t.id not in away]
    shift_of = {t.id or 0: s for t in capable if (s := technicians.shift_on(tech=t, day=day)) is not None}
    capable = [t for t in capable if (t.id or 0) in shift_of]  # not on a weekday their weekly pattern has off
    # The planning horizon's tentative visits of that day are work the technician already has (server/horizon).
    planned = [(v, j) for v, j in session.exec(select(HorizonVisit, Job).where(HorizonVisit.job_id == Job.id,
                                                                                HorizonVisit.day == day,
                                                                                HorizonVisit.job_id != (job.id or 0)))
               if j.status in OPEN_STATUSES]
    places = {t.id or 0: [(t.home_lat, t.home_lon)] for t in capable}
    for a, j in booked:
        if a.technician_id in places:
            places[a.technician_id].append((j.lat, j.lon))
    for v, j in planned:
        if v.technician_id in places:
            places[v.technician_id].append((j.lat, j.lon))
    near = set(sorted(places, key=lambda tid: (_close(job, places[tid]), tid))[:2 * NEAR_TECHNICIANS])
    techs = [t for t in capable if (t.id or 0) in near]
    booked = [(a, j) for a, j in booked if a.technician_id in near]
    booked_ids = {j.id for _, j in booked}
    planned = [(v, j) for v, j in planned if v.technician_id in near and j.id not in booked_ids]
    cache, lock = matrix_cache(city)
    points = [(t.home_lat, t.home_lon) for t in techs] + [(j.lat, j.lon) for _, j in booked] + \
        [(j.lat, j.lon) for _, j in planned] + [(job.lat, job.lon)]
    coords = list(dict.fromkeys(cache.key(*p) for p in points))
    with lock:
        try:
            cache.add_many(coords)
        except Exception as exc:
            notes.append(f"{day}: a place is off the street network ({exc})")
            return []
        matrix = cache.matrix(coords)
    index = {p: i for i, p in enumerate(coords)}

    def loc(lat: float, lon: float) -> int:
        return index[cache.key(lat, lon)]

    model_techs = []
    for t in techs:
        shift = shift_of[t.id or 0]
        start_s = to_s(origin, datetime.combine(day, shift.start, tzinfo=tz))
        end_s = to_s(origin, datetime.combine(day, shift.end, tzinfo=tz))
        breaks = [routing.Break(int(b["duration_min"]) * 60,
                                to_s(origin, datetime.combine(day, dtime.fromisoformat(b["earliest"]), tzinfo=tz)),
                                to_s(origin, datetime.combine(day, dtime.fromisoformat(b["latest"]), tzinfo=tz))
                                + int(b["duration_min"]) * 60) for b in shift.breaks]
        end = loc(t.end_lat, t.end_lon) if t.end_lat is not None and t.end_lon is not None and \
            cache.key(t.end_lat, t.end_lon) in index else None
        model_techs.append(routing.Technician(id=tech_key(t.id or 0), shift_start_s=start_s,
                                              shift_end_s=max(start_s, end_s), start_location=loc(t.home_lat,
                                                                                                 t.home_lon),
                                              end_location=end, skills=dict(t.skills), breaks=breaks))
    if not model_techs:
        return []

    def model_of(j: Job, window: tuple[datetime, datetime] | None) -> routing.Job:
        tws = [routing.TimeWindow(to_s(origin, window[0]), to_s(origin, window[1]))] if window else []
        return routing.Job(id=job_key(j.id or 0), location=loc(j.lat, j.lon), duration_s=j.duration_min * 60,
                           time_windows=tws, required_skills=dict(j.required_skills), priority=j.priority)

    model_jobs = [model_of(j, plan_window(as_utc(a.window_start), as_utc(a.window_end)))  # type: ignore[arg-type]
                  for a, j in booked] + [model_of(j, None) for _, j in planned] + [model_of(job, None)]
    tt = np.where(np.isfinite(matrix.travel_time_s), np.rint(matrix.travel_time_s), UNREACHABLE_S).astype(np.int64)
    dist = np.where(np.isfinite(matrix.distance_m), np.rint(matrix.distance_m), 0).astype(np.int64)
    problem = routing.Problem(model_techs, model_jobs, tt, dist)
    # That day's routes: each booking with the technician it was booked with, in window order.
    by_tech: dict[str, list[tuple[datetime, str]]] = {t.id: [] for t in model_techs}
    for a, j in booked:
        key = tech_key(a.technician_id) if a.technician_id is not None else None
        if key in by_tech:
            by_tech[key].append((as_utc(a.window_start), job_key(j.id or 0)))  # type: ignore[arg-type]
    for v, j in planned:
        key = tech_key(v.technician_id)
        if key in by_tech:
            by_tech[key].append((as_utc(v.start_at), job_key(j.id or 0)))
    routes = []
    for t in model_techs:
        seq = [k for _, k in sorted(by_tech[t.id])]
        try:
            routes.append(routing.timeline(problem, t, seq))
        except routing.Infeasible:
            routes.append(routing.Route(t.id, 0, 0, stops=[routing.Stop(k, 0, 0, 0, 0, 0) for k in seq]))
    model = problem.job(job_key(job.id or 0))
    windows = day_windows(settings, day, [(shift_of[t.id or 0].start, shift_of[t.id or 0].end) for t in techs],
                          datetime.combine(day, dtime(0), tzinfo=tz))
    near = _near_routes(problem, routing.Plan(routes=routes), model, NEAR_TECHNICIANS)
    return _fits(problem, near, model, origin, windows)


def choose(slots: list[Slot], count: int) -> list[Slot]:
    """The ``count`` cheapest windows, at most ``count - 1`` on one day (a real choice of days), in time order."""
    per_day: Counter[date] = Counter()
    chosen: list[Slot] = []
    for slot in sorted(slots, key=lambda s: (s.added_cost, s.added_travel_s, s.start)):
        if per_day[slot.start.date()] >= max(1, count - 1):
            continue
        chosen.append(slot)
        per_day[slot.start.date()] += 1
        if len(chosen) == count:
            break
    return sorted(chosen, key=lambda s: s.start)


def compute_slots(*, session: Session, settings: Settings, city: City, job_id: int, now: datetime | None = None,
                  exclude: tuple[datetime, datetime] | None = None,
                  booking_open: bool = False) -> tuple[list[Slot], list[str]]:
    """Arrival windows to offer for this job (at most ``appointment_offer_count``), cheapest added travel first
    per day; ``exclude``: a window that must not be offered again. ``booking_open``: the customer is already
    booking this visit (a re-offer, a reschedule, a window taken meanwhile), so a service switched off since is
    still served: switching a service off stops new offers, it does not strand a customer mid-way. Returns
    (slots, notes)."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"job {job_id} not found")
    if job.status not in (JobStatus.unassigned, JobStatus.assigned):
        raise Conflict(f"job {job_id} is {job.status.value}: a visit can no longer be booked")
    policy = booking_policy.current(session=session, settings=settings)
    if not booking_open and not needs_customer(settings, job.category, policy):  # switched off (or never on)
        return [], [f"{job.category or 'this job'}: the service does not offer arrival windows (booking policy: "
                    "Administration › Appointments)"]
    settings = policy.apply(settings)  # the policy's window length, count, days ahead and lead time
    now = as_utc(now or utcnow())
    tz = ZoneInfo(settings.timezone)
    today = now.astimezone(tz).date()
    notes: list[str] = []
    slots: list[Slot] = []
    for day in offer_days(settings, now, policy):
        found = (_today_slots(session, settings, city, job, now, day, notes) if day == today
                 else _later_day_slots(session, settings, city, job, day, notes))
        slots += [s for s in found if exclude is None or (s.start, s.end) != exclude]
    if not slots:
        notes.append("no window fits any technician's day in the days offered")
    return choose(slots, settings.appointment_offer_count), notes


# ---------------------------------------------------------------- texts


def _local(settings: Settings, at: datetime) -> datetime:
    return as_utc(at).astimezone(ZoneInfo(settings.timezone))


def window_words(settings: Settings, start: datetime, end: datetime, language: str | None) -> dict[str, str]:
    """{day, start, end} of a window in the customer's language: "Tue", "10:00", "12:00"."""
    a, b = _local(settings, start), _local(settings, end)
    day = reply("appointment_weekdays", language).split()[a.weekday()]
    return {"day": day, "start": f"{a:%H:%M}", "end": f"{b:%H:%M}"}


def options_text(settings: Settings, options: list[dict[str, Any]], language: str | None) -> str:
    """"1 for Tue 10:00–12:00, 2 for Wed 14:00–16:00"."""
    template = reply("appointment_option", language)
    return ", ".join(template.format(n=o["n"], **window_words(settings, datetime.fromisoformat(o["start"]),
                                                                   datetime.fromisoformat(o["end"]), language))
                     for o in options)


def _options(slots: list[Slot]) -> list[dict[str, Any]]:
    return [{"n": i + 1, "start": s.start.astimezone(UTC).isoformat(), "end": s.end.astimezone(UTC).isoformat(),
             "technician_id": s.technician_id, "added_travel_s": s.added_travel_s} for i, s in enumerate(slots)]


# ---------------------------------------------------------------- the signed self-service link


def _sig(settings: Settings, payload: str) -> str:
    mac = hmac.new(settings.resolved_secret_key.encode(), f"appointment-link:{payload}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:18]).decode().rstrip("=")


def link_token(settings: Settings, appointment_id: int, now: datetime | None = None) -> str:
    """``<id>.<expiry unix s>.<HMAC-SHA256 with the app secret>``: no login, valid ``appointment_link_hours``."""
    expires = int((as_utc(now or utcnow()) + timedelta(hours=settings.appointment_link_hours)).timestamp())
    payload = f"{appointment_id}.{expires}"
    return f"{payload}.{_sig(settings, payload)}"


class LinkExpired(DomainError):
    status_code = 410


def check_token(settings: Settings, token: str, now: datetime | None = None) -> int:
    """The appointment id a link names; NotFound for a forged or mangled link, LinkExpired for an old one."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        raise NotFound("no such appointment link")
    payload = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(_sig(settings, payload), parts[2]):
        raise NotFound("no such appointment link")
    if int(parts[1]) < as_utc(now or utcnow()).timestamp():
        raise LinkExpired("this link has expired: write to us in your conversation for a new one")
    return int(parts[0])


def link(settings: Settings, appointment_id: int) -> str:
    base = (settings.channel_public_url or "http://127.0.0.1:8000").rstrip("/")
    return f"{base}/appointments/self/{link_token(settings, appointment_id)}"


# ---------------------------------------------------------------- signed choices: answer buttons and email links

#: Every signed choice starts with this: a quick-reply payload without it is not ours and is read as plain text.
CHOICE_PREFIX = "gcappt"


@dataclass(frozen=True)
class Choice:
    """What a signed choice names: option ``n`` of offer round ``offer_round`` of one appointment."""

    appointment_id: int
    offer_round: int
    n: int


def choice_token(settings: Settings, appointment_id: int, offer_round: int, n: int,
                 now: datetime | None = None) -> str:
    """``gcappt.<id>.<round>.<n>.<expiry unix s>.<HMAC-SHA256>``: one option of one offer round, valid
    ``appointment_link_hours``. The X quick-reply metadata, the Messenger payload and the email link all carry it;
    the round makes a button of an earlier offer stale, the signature makes one we did not write useless."""
    expires = int((as_utc(now or utcnow()) + timedelta(hours=settings.appointment_link_hours)).timestamp())
    payload = f"{appointment_id}.{offer_round}.{n}.{expires}"
    return f"{CHOICE_PREFIX}.{payload}.{_sig(settings, f'choice:{payload}')}"


def check_choice(settings: Settings, token: str, now: datetime | None = None) -> Choice:
    """The choice a token names; NotFound for a forged or mangled one, LinkExpired for an old one. Whether the offer
    is still open in that round is the caller's question (``open_choice``)."""
    signed = _signed_choice(settings, token)
    if signed is None:
        raise NotFound("no such appointment option")
    choice, expires = signed
    if expires < as_utc(now or utcnow()).timestamp():
        raise LinkExpired("this option has expired: write to us in your conversation for new times")
    return choice


def _signed_choice(settings: Settings, token: str) -> tuple[Choice, int] | None:
    """(choice, expiry unix s) of a token we signed, expired or not; None for anything else."""
    parts = (token or "").split(".")
    if len(parts) != 6 or parts[0] != CHOICE_PREFIX or not all(p.isdigit() and len(p) <= 12 for p in parts[1:5]):
        return None
    payload = ".".join(parts[1:5])
    if not hmac.compare_digest(_sig(settings, f"choice:{payload}"), parts[5]):
        return None
    return Choice(int(parts[1]), int(parts[2]), int(parts[3])), int(parts[4])


def open_choice(*, session: Session, settings: Settings, token: str,
                now: datetime | None = None) -> tuple[Appointment, Choice]:
    """The offer a signed choice answers, still open in the round it was made for: (appointment, choice).
    NotFound (forged), LinkExpired (old), or Conflict when that offer is no longer open (booked, re-offered in a new
    round, cancelled): a stale button never books."""
    choice = check_choice(settings, token, now)
    appt = session.get(Appointment, choice.appointment_id)
    if appt is None:
        raise NotFound("no such appointment option")
    if appt.status != AppointmentStatus.offered or appt.offer_round != choice.offer_round or \
            not 1 <= choice.n <= len(appt.options):
        raise Conflict("this option is no longer open")
    return appt, choice


def _tap_label(settings: Settings, option: dict[str, Any], language: str | None) -> str:
    """"1: Tue 10:00–12:00": the button's face (18 characters; Messenger shows 20)."""
    words = window_words(settings, datetime.fromisoformat(option["start"]), datetime.fromisoformat(option["end"]),
                         language)
    return f"{option['n']}: {words['day']} {words['start']}–{words['end']}"


def answer_buttons(settings: Settings, appt: Appointment) -> list[dict[str, str]]:
    """One quick reply per open option (label, signed payload), for channels with buttons (X DMs, Messenger)."""
    return [{"label": _tap_label(settings, o, appt.language),
             "payload": choice_token(settings, appt.id or 0, appt.offer_round, int(o["n"]))} for o in appt.options]


def choice_link(settings: Settings, appt: Appointment, n: int) -> str:
    """The email link that books option ``n`` (a confirmation page first: GET never books)."""
    base = (settings.channel_public_url or "http://127.0.0.1:8000").rstrip("/")
    return f"{base}/appointments/choose/{choice_token(settings, appt.id or 0, appt.offer_round, n)}"


def _email_links(settings: Settings, appt: Appointment) -> str:
    """The lines an email offer ends with: "Book Tue 10:00–12:00: <link>", one per option."""
    template = reply("appointment_book_link", appt.language)
    return "\n".join(template.format(link=choice_link(settings, appt, int(o["n"])), **window_words(
        settings, datetime.fromisoformat(o["start"]), datetime.fromisoformat(o["end"]), appt.language))
        for o in appt.options)


# ---------------------------------------------------------------- sending


def _say(session: Session, appt: Appointment, text: str, kind: str, key: str,
         quick_replies: list[dict[str, str]] | None = None) -> list[dict[str, Any]]:
    message, created = send_to_customer(session=session, conversation_id=appt.conversation_id, text=text, kind=kind,
                                        dedupe_key=f"appt:{appt.id}:{key}", quick_replies=quick_replies)
    if not created:
        return []
    return [make_event("message.queued", {"message_id": message.id, "conversation_id": appt.conversation_id,
                                          "job_id": appt.job_id, "kind": kind, "text": text,
                                          "channel": str(message.channel)})]


def _ask(session: Session, settings: Settings, appt: Appointment, text: str, kind: str,
         key: str) -> list[dict[str, Any]]:
    """Send a message that asks for a choice of the open options, with the channel's one-tap ways to answer: email
    gets a signed link per option under the text, other channels the options as quick replies (X DMs and Messenger
    show them as buttons; the rest ignore them). The text always says how to answer by typing the number."""
    from server.conversations.models import Conversation
    from server.customers.models import Channel

    channel = session.exec(select(Conversation.channel).where(Conversation.id == appt.conversation_id)).first()
    if channel == Channel.email:
        return _say(session, appt, f"{text}\n\n{_email_links(settings, appt)}", kind, key)
    return _say(session, appt, text, kind, key, quick_replies=answer_buttons(settings, appt))


def _reply_conversations(session: Session, job_id: int) -> list[int]:
    """The job's reporters' conversations that can carry an answer (not Open311 feeds or phone notes)."""
    from server.conversations.models import Conversation
    from server.customers.models import Channel

    found = reporter_conversations(session=session, job_id=job_id)
    channels = dict(session.exec(select(Conversation.id, Conversation.channel).where(
        col(Conversation.id).in_(found or [-1]))).all())
    return [c for c in found if channels.get(c) not in (Channel.open311, Channel.phone)]


def offer(*, session: Session, settings: Settings, job: Job, slots: list[Slot], kind: str = "appointment_offer",
          broken: tuple[datetime, datetime] | None = None,
          rebook: bool = False) -> tuple[Appointment, list[dict[str, Any]]]:
    """Send these windows to the job's reporter on their channel and keep the offer open (the caller commits).
    A booked visit is offered again only with ``rebook`` (the customer asked for another time)."""
    conversations = _reply_conversations(session, job.id or 0)
    if not conversations:
        raise Conflict(f"job {job.id} has no customer conversation to offer a time in")
    appt = session.exec(select(Appointment).where(Appointment.job_id == job.id).with_for_update()).first()
    if appt is None:
        from server.conversations.models import Conversation

        conv = session.get(Conversation, conversations[0])
        appt = Appointment(job_id=job.id or 0, conversation_id=conversations[0],
                           customer_id=conv.customer_id if conv else None,
                           language=conversation_language(session=session, conversation_id=conversations[0]),
                           offer_round=0)
        session.add(appt)
    elif appt.status == AppointmentStatus.booked and kind == "appointment_offer" and not rebook:
        raise Conflict(f"job {job.id} is already booked for {appt.window_start}; reschedule it instead")
    appt.offer_round += 1
    appt.invalid_replies = 0
    appt.options = _options(slots)
    appt.offered_at = utcnow()
    lang = appt.language
    session.flush()
    if not slots:
        appt.status = AppointmentStatus.cancelled
        _note(appt, "no window fits", round=appt.offer_round)
        text = reply("appointment_no_time", lang).format(title=job.title)
        return appt, _say(session, appt, text, "appointment_no_time", f"r{appt.offer_round}")
    appt.status = AppointmentStatus.offered
    words = window_words(settings, broken[0], broken[1], lang) if broken else {}
    text = reply(kind, lang).format(title=job.title, options=options_text(settings, appt.options, lang), **words)
    _note(appt, "offered", round=appt.offer_round, options=appt.options, kind=kind)
    session.add(appt)
    return appt, _ask(session, settings, appt, text, kind, f"r{appt.offer_round}")


# ---------------------------------------------------------------- the customer's answer


def _answer_line(text: str) -> str:
    """The first line the customer wrote (an email reply quotes our offer below it)."""
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith(">") or (line.lower().startswith("on ") and line.rstrip().endswith("wrote:")):
            break
        return line
    return ""


def parse_choice(text: str) -> int | None:
    """The option number in a short answer ("2", "#2", "option 2 please"); None when there is none."""
    match = _ANSWER.match(_answer_line(text))
    return int(match.group(1)) if match else None


def is_answer_length(text: str) -> bool:
    return len(_answer_line(text)) <= MAX_ANSWER_CHARS


def answer_offer(*, session: Session, settings: Settings, message: Message,
                 city: City | None = None) -> Answered | None:
    """When the sender has an open offer and this message answers it (a short typed number, or a tapped quick reply
    whose signed payload names this offer's round): book, re-ask or re-offer, and return what was done (intake then
    skips triage); None otherwise (one indexed query when there is no open offer). A tapped payload that is forged,
    of an earlier round or of someone else's offer gets the re-ask, never a booking."""
    tapped = str((message.meta or {}).get("quick_reply_payload") or "")
    tapped = tapped if tapped.startswith(f"{CHOICE_PREFIX}.") else ""
    if message.customer_id is None or not (tapped or is_answer_length(message.text)):
        return None
    appt = session.exec(select(Appointment).where(Appointment.customer_id == message.customer_id,
                                                  Appointment.status == AppointmentStatus.offered)
                        .order_by(col(Appointment.offered_at).desc())).first()
    if appt is None:
        return _late_tap(session, settings, message, tapped) if tapped else None
    job = session.get(Job, appt.job_id)
    case = _answer_case(session, appt.job_id, message.conversation_id)
    if appt.conversation_id != message.conversation_id:  # answered on another of their channels: answer there
        appt.conversation_id = message.conversation_id
        session.add(appt)
        session.flush()  # before book() refreshes the row (intake runs without autoflush)
    choice = _tapped_choice(settings, appt, tapped) if tapped else \
        parse_choice(message.text) or _label_choice(settings, appt, message.text)
    if choice is None or not 1 <= choice <= len(appt.options):
        appt.invalid_replies += 1
        _note(appt, "invalid quick reply" if tapped else "invalid reply", message_id=message.id)
        session.add(appt)
        text = reply("appointment_reask", appt.language).format(
            options=options_text(settings, appt.options, appt.language))
        _ask(session, settings, appt, text, "appointment_reask", f"r{appt.offer_round}-ask{appt.invalid_replies}")
        return Answered(appt, job, case, "reask")
    if city is None:
        from server.core.city import load_city

        city = load_city(settings)
    outcome = book(session=session, settings=settings, city=city, appointment=appt, choice=choice,
                   message_id=message.id)
    return Answered(appt, job, case, outcome)


def _tapped_choice(settings: Settings, appt: Appointment, payload: str) -> int | None:
    """The option a tapped quick reply chose, when its payload is signed by us for this very offer and round."""
    try:
        choice = check_choice(settings, payload)
    except DomainError:  # forged, mangled or expired
        return None
    if (choice.appointment_id, choice.offer_round) != (appt.id, appt.offer_round):
        return None  # an earlier round's button, or another appointment's
    return choice.n


def _label_choice(settings: Settings, appt: Appointment, text: str) -> int | None:
    """The option whose button face the message repeats exactly ("2: Tue 10:00–12:00"): a tap that arrived without
    its payload (X delivers only the label's text to its legacy endpoints), as good as typing the number."""
    said = _answer_line(text)
    return next((int(o["n"]) for o in appt.options if _tap_label(settings, o, appt.language) == said), None)


def _late_tap(session: Session, settings: Settings, message: Message, payload: str) -> Answered | None:
    """A tapped button of the customer's own offer that is no longer open (already booked, cancelled): it changes
    nothing and is not a new complaint. A payload naming anyone else's appointment, or forged, is plain text."""
    signed = _signed_choice(settings, payload)  # an expired button of theirs is still theirs
    appt = session.get(Appointment, signed[0].appointment_id) if signed else None
    if appt is None or appt.customer_id != message.customer_id:
        return None
    _note(appt, "late quick reply", message_id=message.id)
    session.add(appt)
    job = session.get(Job, appt.job_id)
    return Answered(appt, job, _answer_case(session, appt.job_id, message.conversation_id), "already")


def _answer_case(session: Session, job_id: int, conversation_id: int | None) -> Case | None:
    """The case an answer about ``job_id`` belongs to: the job's own case, or, for a return visit (its case stays
    with the first job), the case the reporter's report came with, in the conversation they answer in if any."""
    case = session.exec(select(Case).where(Case.job_id == job_id).order_by(col(Case.id))).first()
    if case is not None:
        return case
    reported = session.exec(select(Case).join(JobReport, col(JobReport.case_id) == col(Case.id))
                            .where(JobReport.job_id == job_id).order_by(col(Case.id))).all()
    return next((c for c in reported if c.conversation_id == conversation_id), reported[0] if reported else None)


def book(*, session: Session, settings: Settings, city: City, appointment: Appointment, choice: int,
         message_id: int | None = None, now: datetime | None = None) -> str:
    """Book option ``choice`` of the open offer (the caller commits): 'booked', 'taken' (the window no longer fits:
    new options were sent) or 'already' (another answer booked this offer first; nothing changes)."""
    appt = appointment
    now = as_utc(now or utcnow())
    offered_round = appt.offer_round
    writer.lock_plan_writes(session)  # one booking at a time, each checked against every booking before it
    claimed = session.execute(update(Appointment).where(
        col(Appointment.id) == appt.id, col(Appointment.status) == AppointmentStatus.offered.value,
        col(Appointment.offer_round) == offered_round).values(status=AppointmentStatus.booked.value,
                                                              updated_at=now))
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(appt)
        return "already"
    session.refresh(appt)
    option = appt.options[choice - 1]
    start, end = datetime.fromisoformat(option["start"]), datetime.fromisoformat(option["end"])
    job = session.get(Job, appt.job_id)
    if job is None or job.status not in (JobStatus.unassigned, JobStatus.assigned):
        appt.status = AppointmentStatus.cancelled
        _note(appt, "job no longer open", message_id=message_id)
        session.add(appt)
        return "already"
    slot = check_window(session=session, settings=settings, city=city, job=job, start=start, end=end, now=now)
    if slot is None:  # someone else's booking or a re-plan took it since it was offered
        appt.status = AppointmentStatus.offered
        slots, _ = compute_slots(session=session, settings=settings, city=city, job_id=job.id or 0, now=now,
                                 exclude=(start, end), booking_open=True)
        offer(session=session, settings=settings, job=job, slots=slots, kind="appointment_taken")
        return "taken"
    today = _local(settings, now).date() == _local(settings, start).date()
    plan_start, plan_end = plan_window(start, end)  # the customer's window less the margin plans keep free
    job.time_windows = [{"start": plan_start.astimezone(UTC).isoformat(), "end": plan_end.astimezone(UTC).isoformat()}]
    job.pinned = True
    job.version += 1
    job.updated_at = now
    session.add(job)
    if today and slot.technician_id is not None:  # today's plan exists: the job is pinned to that technician's day
        session.merge(JobPin(job_id=job.id or 0, technician_id=slot.technician_id, position=None))
    appt.window_start, appt.window_end, appt.technician_id = start, end, slot.technician_id
    appt.booked_at, appt.reminded_at = now, None
    _note(appt, "booked", n=choice, start=option["start"], end=option["end"], message_id=message_id,
          technician_id=slot.technician_id)
    session.add(appt)
    text = reply("appointment_confirmed", appt.language).format(
        link=link(settings, appt.id or 0), **window_words(settings, start, end, appt.language))
    _say(session, appt, text, "appointment_confirmed", f"r{appt.offer_round}-booked")
    if today:
        _replan_after_commit(session, settings, f"appointment booked for job {job.id}")
    return "booked"


def check_window(*, session: Session, settings: Settings, city: City, job: Job, start: datetime, end: datetime,
                 now: datetime | None = None) -> Slot | None:
    """Does the window still fit (today: the current plan; later: that day's bookings)? The slot, or None."""
    now = as_utc(now or utcnow())
    day = _local(settings, start).date()
    notes: list[str] = []
    if booking_policy.current(session=session, settings=settings).blocked(day) is not None:
        return None  # made a blackout day since it was offered
    # The window as it was offered: a window length changed since then does not make it unbookable.
    settings = settings.model_copy(update={"appointment_window_min": booking_policy.offered_window_min(start, end)})
    if day == _local(settings, now).date():
        near = _nearest_technicians(session, job, 2 * NEAR_TECHNICIANS)
        try:
            snapshot = build_snapshot(session=session, settings=settings, city=city, now=now, technician_ids=near,
                                      job_ids={job.id or 0})
        except DomainError:
            return None
        if (job.id or 0) not in snapshot.jobs:
            return None
        model = snapshot.problem.job(job_key(job.id or 0))
        routes = _near_routes(snapshot.problem, snapshot.current_plan(), model, NEAR_TECHNICIANS)
        found = _fits(snapshot.problem, routes, model, snapshot.origin, [(start, end)])
    else:
        found = [s for s in _later_day_slots(session, settings, city, job, day, notes)
                 if (s.start, s.end) == (_local(settings, start), _local(settings, end))]
    return found[0] if found else None


def _replan_after_commit(session: Session, settings: Settings, reason: str) -> None:
    """Ask dispatch for a coalesced re-plan once this transaction has committed (the booking is then visible)."""
    from sqlalchemy import event

    engine = session.get_bind()

    def replan(_session: Session) -> None:
        from server.dispatch import service as dispatch

        try:
            with Session(engine) as fresh:  # type: ignore[arg-type]
                dispatch.request_replan(session=fresh, engine=engine, settings=settings,  # type: ignore[arg-type]
                                        trigger="appointment", reason=reason)
        except Exception:  # the booking stands; the next trigger re-plans
            log.exception("re-plan after a booking not requested")

    event.listen(session, "after_commit", replan, once=True)


# ---------------------------------------------------------------- after a re-plan, reminders, the sweep


def reoffer(*, session: Session, settings: Settings, city: City, appointment: Appointment,
            now: datetime | None = None) -> list[dict[str, Any]]:
    """New windows for a booking that can no longer be kept (the caller commits): the old window and pin go."""
    appt = appointment
    job = session.get(Job, appt.job_id)
    if job is None or job.status not in (JobStatus.unassigned, JobStatus.assigned):
        appt.status = AppointmentStatus.cancelled
        session.add(appt)
        return []
    broken = (as_utc(appt.window_start), as_utc(appt.window_end)) if appt.window_start and appt.window_end else None
    _release(session, job)
    session.flush()
    slots, _ = compute_slots(session=session, settings=settings, city=city, job_id=job.id or 0, now=now,
                             exclude=broken, booking_open=True)
    kind = "appointment_reoffer" if broken else "appointment_offer"
    appt.window_start = appt.window_end = appt.technician_id = None
    _, events = offer(session=session, settings=settings, job=job, slots=slots, kind=kind, broken=broken)
    return events


def _release(session: Session, job: Job) -> None:
    """The job no longer holds a booked window: no window, no pin."""
    job.time_windows, job.pinned = [], False
    job.version += 1
    job.updated_at = utcnow()
    session.add(job)
    pin = session.get(JobPin, job.id)
    if pin is not None:
        session.delete(pin)


def reschedule(*, session: Session, settings: Settings, city: City, appointment: Appointment,
               now: datetime | None = None) -> list[dict[str, Any]]:
    """The customer wants another time (the caller commits): the booked window is let go and new windows are
    offered in their conversation (and on their page)."""
    appt = appointment
    job = session.get(Job, appt.job_id)
    if job is None or job.status not in (JobStatus.unassigned, JobStatus.assigned) or \
            appt.status not in OPEN_APPOINTMENT:
        raise Conflict("the visit can no longer be changed")
    if appt.status == AppointmentStatus.booked:
        _release(session, job)
        _note(appt, "rescheduled by the customer")
        appt.window_start = appt.window_end = appt.technician_id = None
        session.flush()
    slots, _ = compute_slots(session=session, settings=settings, city=city, job_id=job.id or 0, now=now,
                             booking_open=True)
    _, events = offer(session=session, settings=settings, job=job, slots=slots, rebook=True)
    return events


def cancel(*, session: Session, settings: Settings, appointment: Appointment) -> list[dict[str, Any]]:
    """The customer cancels the visit (the caller commits); the job stays open for the dispatcher."""
    appt = appointment
    if appt.status not in OPEN_APPOINTMENT:
        raise Conflict(f"the appointment is {appt.status.value}")
    job = session.get(Job, appt.job_id)
    if job is not None:
        _release(session, job)
    events: list[dict[str, Any]] = []
    if appt.window_start and appt.window_end:
        text = reply("appointment_cancelled", appt.language).format(
            **window_words(settings, appt.window_start, appt.window_end, appt.language))
        events = _say(session, appt, text, "appointment_cancelled", f"r{appt.offer_round}-cancelled")
    appt.status = AppointmentStatus.cancelled
    _note(appt, "cancelled by the customer")
    session.add(appt)
    return events


def remind(*, session: Session, settings: Settings, now: datetime | None = None) -> tuple[int, list[dict[str, Any]]]:
    """The day-before reminder for every booking whose window is tomorrow (local), once each (caller commits):
    (reminders sent, events)."""
    now = as_utc(now or utcnow())
    tz = ZoneInfo(settings.timezone)
    tomorrow = now.astimezone(tz).date() + timedelta(days=1)
    lo = datetime.combine(tomorrow, dtime(0), tzinfo=tz).astimezone(UTC)
    rows = session.exec(select(Appointment).where(Appointment.status == AppointmentStatus.booked,
                                                  col(Appointment.reminded_at).is_(None),
                                                  col(Appointment.window_start) >= lo,
                                                  col(Appointment.window_start) < lo + timedelta(days=1))).all()
    events: list[dict[str, Any]] = []
    count = 0
    for appt in rows:
        job = session.get(Job, appt.job_id)
        if job is None or job.status not in OPEN_STATUSES:
            continue
        count += 1
        text = reply("appointment_reminder", appt.language).format(
            title=job.title, link=link(settings, appt.id or 0),
            **window_words(settings, appt.window_start, appt.window_end, appt.language))  # type: ignore[arg-type]
        events += _say(session, appt, text, "appointment_reminder",
                       f"remind-{as_utc(appt.window_start).isoformat()}")  # type: ignore[arg-type]
        appt.reminded_at = now
        _note(appt, "reminded")
        session.add(appt)
    return count, events


def _new_jobs(session: Session, settings: Settings) -> list[int]:
    policy = booking_policy.current(session=session, settings=settings)
    categories = sorted(policy.offering(customer_present_categories(settings)))
    if not categories:
        return []
    taken = select(Appointment.job_id)
    answerable = select(JobReport.id).where(JobReport.job_id == Job.id,  # reported where the customer can answer
                                            col(JobReport.channel).not_in(["open311", "phone"]))
    return list(session.exec(select(Job.id).where(col(Job.category).in_(categories),
                                                  col(Job.status).in_([JobStatus.unassigned, JobStatus.assigned]),
                                                  col(Job.id).not_in(taken), answerable.exists())
                             .order_by(col(Job.id)).limit(50)).all())


def sweep(*, engine: Engine, settings: Settings, city: City | None = None,
          now: datetime | None = None) -> dict[str, int]:
    """One round of the periodic work: offers for new jobs that need the customer, re-offers for broken windows,
    day-before reminders, finished visits marked done. Each job in its own transaction; returns the counts."""
    from server.core.city import load_city
    from server.dispatch.runtime import after_commit

    city = city or load_city(settings)
    counts = {"offered": 0, "reoffered": 0, "reminded": 0, "done": 0}
    events: list[dict[str, Any]] = []
    with Session(engine) as session:
        new = _new_jobs(session, settings)
        broken = list(session.exec(select(Appointment.id).where(
            Appointment.status == AppointmentStatus.reoffer)).all())
    for job_id in new:
        with Session(engine) as session:
            try:
                job = session.get(Job, job_id)
                if job is None or not _reply_conversations(session, job_id):
                    continue
                slots, _ = compute_slots(session=session, settings=settings, city=city, job_id=job_id, now=now)
                _, sent = offer(session=session, settings=settings, job=job, slots=slots)
                session.commit()
                events += sent
                counts["offered"] += 1
            except Exception as exc:  # one job's trouble never stops the others
                session.rollback()
                log.warning("no offer for job %s: %s", job_id, exc)
    for appt_id in broken:
        with Session(engine) as session:
            try:
                appt = session.exec(select(Appointment).where(Appointment.id == appt_id).with_for_update()).one()
                if appt.status != AppointmentStatus.reoffer:
                    continue
                events += reoffer(session=session, settings=settings, city=city, appointment=appt, now=now)
                session.commit()
                counts["reoffered"] += 1
            except Exception as exc:
                session.rollback()
                log.warning("no re-offer for appointment %s: %s", appt_id, exc)
    with Session(engine) as session:
        counts["reminded"], sent = remind(session=session, settings=settings, now=now)
        finished = session.exec(select(Appointment).where(Appointment.job_id == Job.id,
                                                          Appointment.status == AppointmentStatus.booked,
                                                          Job.status == JobStatus.completed)).all()
        for appt in finished:
            appt.status = AppointmentStatus.done
            _note(appt, "visit done")
            session.add(appt)
        counts["done"] = len(finished)
        session.commit()
        events += sent
    if events:
        after_commit(engine=engine, settings=settings, events=events, deliver=True)
    return counts


class Sweeper(Periodic):
    """This process's appointment sweep, every ``appointment_watch_interval_s`` (idempotent across processes:
    every notice has a dedupe key and every state change is conditional)."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        super().__init__("groundcrew-appointments", settings.appointment_watch_interval_s, self.tick, log)
        self.engine, self.settings = engine, settings

    def tick(self) -> None:
        t0 = time.perf_counter()
        counts = sweep(engine=self.engine, settings=self.settings)
        if any(counts.values()):
            log.info("appointments: %s in %.0f ms", counts, (time.perf_counter() - t0) * 1000)
