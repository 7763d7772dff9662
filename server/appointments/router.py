"""Appointments API: the dispatcher's slot offers (``POST /appointments/jobs/{id}/offers``), the booking policy
(``GET``/``PUT /appointments/policy``: the console's Administration › Appointments) and the customer's self-service
page behind a signed, short-lived link (no login; rate-limited per client IP; every value escaped)."""

from __future__ import annotations

import html
import math
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, select

from server.appointments import policy as booking_policy
from server.appointments import service
from server.appointments.models import (
    OPEN_APPOINTMENT,
    Appointment,
    AppointmentPublic,
    AppointmentStatus,
    BookingPolicyPublic,
    BookingPolicyUpdate,
    OfferRequest,
    OfferResult,
    SlotOption,
)
from server.core.city import CityDep
from server.core.deps import AdminUser, DispatcherUser, SessionDep, SettingsDep, StaffUser
from server.core.errors import Conflict, DomainError, NotFound
from server.core.routing import FeatureRouter
from server.dispatch.runtime import after_commit
from server.jobs.models import Job, JobStatus
from server.technicians.models import Technician


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run this process's appointment sweep (offers for new jobs, re-offers, reminders) when the city is loaded."""
    settings = app.state.settings
    sweeper = None
    if settings.dispatch_background and settings.load_city and settings.appointment_sweep:
        sweeper = service.Sweeper(app.state.engine, settings)
        sweeper.start()
    try:
        yield
    finally:
        if sweeper is not None:
            sweeper.close()


router = FeatureRouter(tags=["appointments"], lifespan=lifespan)


@router.post("/appointments/jobs/{job_id}/offers", response_model=OfferResult,
             summary="Arrival windows that fit the plan for a job the customer must be present for (with their "
                     "added travel); send=true offers them to the customer on their channel")
def offers(job_id: int, body: OfferRequest, session: SessionDep, settings: SettingsDep, user: DispatcherUser,
           city: CityDep, request: Request) -> OfferResult:
    t0 = time.perf_counter()
    slots, notes = service.compute_slots(session=session, settings=settings, city=city, job_id=job_id)
    appointment_id = None
    if body.send:
        job = session.get(Job, job_id)
        assert job is not None  # compute_slots checked it
        policy = booking_policy.current(session=session, settings=settings)
        if not service.needs_customer(settings, job.category, policy):  # not "no time" to the customer: none asked
            raise Conflict(f"job {job_id}: {notes[0]}")
        appt, events = service.offer(session=session, settings=settings, job=job, slots=slots)
        session.commit()
        appointment_id = appt.id
        after_commit(engine=request.app.state.engine, settings=settings, events=events, deliver=True)
    tz_day = [service._local(settings, s.start).date().isoformat() for s in slots]
    return OfferResult(job_id=job_id, sent=body.send, appointment_id=appointment_id, notes=notes,
                       elapsed_ms=round((time.perf_counter() - t0) * 1000, 1),
                       options=[SlotOption(n=i + 1, start=s.start, end=s.end, technician_id=s.technician_id,
                                           added_travel_s=s.added_travel_s,
                                           added_travel_min=round(s.added_travel_s / 60, 1), day=tz_day[i])
                                for i, s in enumerate(slots)])


@router.get("/appointments/policy", response_model=BookingPolicyPublic,
            summary="The booking policy: window length, windows at once, days ahead, lead time (empty: the server's "
                    "setting, shown under defaults), which services offer windows, blackout days")
def get_policy(session: SessionDep, settings: SettingsDep, _: DispatcherUser) -> BookingPolicyPublic:
    return booking_policy.public(session=session, settings=settings)


@router.put("/appointments/policy", response_model=BookingPolicyPublic,
            summary="Replace the booking policy (administrators; written to the audit log). 422 names the field: a "
                    "number out of range, a service not in the catalogue or not field work, a blackout ending before "
                    "it starts; 409 when someone saved since the version sent")
def put_policy(body: BookingPolicyUpdate, session: SessionDep, settings: SettingsDep,
               user: AdminUser) -> BookingPolicyPublic:
    # Administrators only, as in Salesforce Field Service (booking and scheduling settings: the Field Service Admin
    # permission set) and Dynamics 365 Field Service (the Administrator role configures scheduling; the Dispatcher
    # role schedules work within it): dispatchers read the policy and book within it.
    return booking_policy.update(session=session, settings=settings, body=body, actor=user)


@router.get("/appointments/jobs/{job_id}", response_model=AppointmentPublic,
            summary="The job's appointment: offered windows, the booked one, its history")
def get_for_job(job_id: int, session: SessionDep, user: StaffUser) -> Appointment:
    appt = session.exec(select(Appointment).where(Appointment.job_id == job_id)).first()
    if appt is None:
        raise NotFound(f"job {job_id} has no appointment")
    return appt


# ---------------------------------------------------------------- the customer's page


class _PageLimiter:
    """Per client IP limits on the public pages (``appointment_page_rate_limit``; memory, or Redis when a broker is
    set so every process shares them)."""

    def __init__(self, spec: str, broker_url: str | None) -> None:
        from limits import parse_many
        from limits.storage import storage_from_string
        from limits.strategies import MovingWindowRateLimiter

        self.strategy = MovingWindowRateLimiter(storage_from_string(broker_url or "memory://"))
        self.rules = parse_many(spec) if spec.strip() else []

    def hit(self, client: str) -> int | None:
        """None when allowed, else the seconds to wait."""
        for item in self.rules:
            try:
                if not self.strategy.hit(item, "appointment-page", client):
                    reset = self.strategy.get_window_stats(item, "appointment-page", client).reset_time
                    return max(1, math.ceil(reset - time.time()))
            except Exception:  # a Redis outage must not take the page down
                return None
        return None


_limiter_lock = threading.Lock()

_STYLE = ("body{font-family:system-ui,sans-serif;margin:0;background:#f4f6f8;color:#17202a;overflow-wrap:anywhere}"
          "main{max-width:30rem;margin:0 auto;padding:1.2rem}h1{font-size:1.3rem;margin:.2rem 0 1rem}"
          ".card{background:#fff;border-radius:12px;padding:1rem 1.1rem;margin-bottom:1rem;"
          "box-shadow:0 1px 3px #0002}.when{font-size:1.6rem;font-weight:700;margin:.3rem 0}"
          ".muted{color:#5d6d7e;font-size:.95rem}.eta{font-size:1.2rem;font-weight:600;color:#0b6e4f}"
          "button{font-size:1.05rem;padding:.8rem 1rem;border-radius:10px;border:0;width:100%;margin:.3rem 0;"
          "background:#1f6feb;color:#fff}button.secondary{background:#e8ecf0;color:#17202a}"
          "button.danger{background:#fff;color:#b42318;border:1px solid #b42318}form{margin:0}")
_CSP = ("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'")


def _page(title: str, body: str, status_code: int = 200, refresh_s: int | None = None) -> HTMLResponse:
    refresh = f'<meta http-equiv="refresh" content="{refresh_s}">' if refresh_s else ""
    doc = (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
           f'<meta name="viewport" content="width=device-width,initial-scale=1">{refresh}'
           f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body><main>{body}</main></body></html>")
    return HTMLResponse(doc, status_code=status_code, headers={
        "Content-Security-Policy": _CSP, "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"})


def _limited(request: Request) -> Response | None:
    """The 429 page when this client has asked too often, else None (the hit is counted)."""
    settings = request.app.state.settings
    with _limiter_lock:
        limiter = getattr(request.app.state, "appointment_page_limiter", None)
        if limiter is None:
            limiter = _PageLimiter(settings.appointment_page_rate_limit, settings.broker_url)
            request.app.state.appointment_page_limiter = limiter
    from server.intake.guard import client_address

    wait = limiter.hit(client_address(request))
    if wait is not None:
        response = _page("Too many requests", f"<h1>Too many requests</h1><p>Try again in {wait} s.</p>", 429)
        response.headers["Retry-After"] = str(wait)
        return response
    return None


def _guard(request: Request, token: str) -> int | Response:
    """The appointment id of a valid link, or the page to answer instead (429, 404, 410)."""
    if (limited := _limited(request)) is not None:
        return limited
    try:
        return service.check_token(request.app.state.settings, token)
    except DomainError as exc:
        return _page("Appointment", f'<h1>Appointment</h1><div class="card">{html.escape(exc.detail)}</div>',
                     exc.status_code)


def _when(settings, start: datetime, end: datetime) -> str:  # type: ignore[no-untyped-def]
    a, b = service._local(settings, start), service._local(settings, end)
    return f"{a:%a %d %b}, {a:%H:%M}–{b:%H:%M}"


@router.get("/appointments/self/{token}", response_class=HTMLResponse, include_in_schema=False)
def self_service(token: str, request: Request) -> Response:
    found = _guard(request, token)
    if not isinstance(found, int):
        return found
    settings = request.app.state.settings
    with Session(request.app.state.engine) as session:
        appt = session.get(Appointment, found)
        job = session.get(Job, appt.job_id) if appt else None
        if appt is None or job is None:
            return _page("Appointment", "<h1>Appointment</h1><div class='card'>no such appointment</div>", 404)
        e = html.escape
        parts = [f"<h1>Your visit: {e(job.title)}</h1>"]
        refresh = None
        if appt.status == AppointmentStatus.booked and appt.window_start and appt.window_end:
            parts.append(f'<div class="card"><div class="muted">Arrival window</div>'
                         f'<div class="when">{e(_when(settings, appt.window_start, appt.window_end))}</div>')
            if job.address:
                parts.append(f'<div class="muted">{e(job.address)}</div>')
            if job.status == JobStatus.en_route and job.eta_at:
                tech = session.get(Technician, job.assigned_technician_id) if job.assigned_technician_id else None
                who = e(tech.first_name) if tech else "Your technician"
                parts.append(f'<p class="eta">{who} is on the way: arriving about '
                             f'{service._local(settings, job.eta_at):%H:%M}</p>')
                refresh = 60  # the live ETA, without script
            elif job.status == JobStatus.on_site:
                parts.append('<p class="eta">Your technician is there now.</p>')
            parts.append("</div>")
        elif appt.status == AppointmentStatus.offered:
            parts.append('<div class="card"><div class="muted">Choose an arrival window</div>')
            for o in appt.options:
                when = _when(settings, datetime.fromisoformat(o["start"]), datetime.fromisoformat(o["end"]))
                parts.append(f'<form method="post" action="/appointments/self/{e(token)}/book/{int(o["n"])}">'
                             f'<button type="submit">{int(o["n"])}: {e(when)}</button></form>')
            parts.append("</div>")
        else:
            label = {"done": "This visit is done. Thank you!", "cancelled": "This visit is cancelled.",
                     "reoffer": "We are finding you a new time; new options are on their way."}
            parts.append(f'<div class="card">{e(label.get(appt.status.value, appt.status.value))}</div>')
        if appt.status in OPEN_APPOINTMENT and job.status in (JobStatus.unassigned, JobStatus.assigned):
            parts.append(f'<div class="card"><form method="post" action="/appointments/self/{e(token)}/reschedule">'
                         '<button class="secondary" type="submit">Choose another time</button></form>')
            if appt.status == AppointmentStatus.booked:
                parts.append(f'<form method="post" action="/appointments/self/{e(token)}/cancel">'
                             '<button class="danger" type="submit">Cancel the visit</button></form>')
            parts.append("</div>")
        parts.append('<p class="muted">This page is only for you: please do not share its link.</p>')
    return _page("Your visit", "".join(parts), refresh_s=refresh)


def _act(request: Request, token: str, action: str, choice: int | None = None) -> Response:
    found = _guard(request, token)
    if not isinstance(found, int):
        return found
    settings, engine = request.app.state.settings, request.app.state.engine
    events: list = []
    with Session(engine) as session:
        appt = session.get(Appointment, found)
        if appt is None:
            return _page("Appointment", "<h1>Appointment</h1><div class='card'>no such appointment</div>", 404)
        try:
            if action == "cancel":
                events = service.cancel(session=session, settings=settings, appointment=appt)
            elif action == "reschedule":
                from server.core.city import load_city

                events = service.reschedule(session=session, settings=settings, city=load_city(settings),
                                            appointment=appt)
            elif action == "book" and choice is not None:
                if appt.status != AppointmentStatus.offered or not 1 <= choice <= len(appt.options):
                    raise NotFound("that option is no longer open")
                from server.core.city import load_city

                service.book(session=session, settings=settings, city=load_city(settings), appointment=appt,
                             choice=choice)
            session.commit()
        except DomainError as exc:
            session.rollback()
            return _page("Appointment", f"<h1>Appointment</h1><div class='card'>{html.escape(exc.detail)}</div>",
                         exc.status_code)
    after_commit(engine=engine, settings=settings, events=events, deliver=True)
    return RedirectResponse(f"/appointments/self/{token}", status_code=303)


@router.post("/appointments/self/{token}/cancel", include_in_schema=False)
def self_cancel(token: str, request: Request) -> Response:
    return _act(request, token, "cancel")


@router.post("/appointments/self/{token}/reschedule", include_in_schema=False)
def self_reschedule(token: str, request: Request) -> Response:
    return _act(request, token, "reschedule")


@router.post("/appointments/self/{token}/book/{choice}", include_in_schema=False)
def self_book(token: str, choice: int, request: Request) -> Response:
    return _act(request, token, "book", choice)


# ---------------------------------------------------------------- an email offer's one-click links


def _chosen(request: Request, token: str, session: Session) -> tuple[Appointment, service.Choice, Job] | Response:
    """The open offer a choice link answers, or the page to show instead (429, 404 forged, 410 expired, 409 no
    longer open: then with the link to the customer's page, which shows what is open now)."""
    if (limited := _limited(request)) is not None:
        return limited
    settings = request.app.state.settings
    try:
        appt, choice = service.open_choice(session=session, settings=settings, token=token)
    except DomainError as exc:
        more = ""
        if isinstance(exc, Conflict):  # a valid, unexpired link to an offer since answered or renewed
            named = service.check_choice(settings, token).appointment_id
            mine = f"/appointments/self/{service.link_token(settings, named)}"
            more = f'<p><a href="{html.escape(mine)}">See your visit and the times open now</a></p>'
        return _page("Appointment", f"<h1>Appointment</h1><div class='card'>{html.escape(exc.detail)}{more}</div>",
                     exc.status_code)
    job = session.get(Job, appt.job_id)
    if job is None:
        return _page("Appointment", "<h1>Appointment</h1><div class='card'>no such appointment</div>", 404)
    return appt, choice, job


#: The choose pages answer every outcome as a page for the customer (never JSON): a bad or used link too.
_PAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"description": what, "content": {"text/html": {}}}
    for code, what in ((404, "Not a link of ours"), (409, "The offer was answered or sent again"),
                       (410, "The link has expired"), (429, "Too many requests from this address"))}


@router.get("/appointments/choose/{token}", response_class=HTMLResponse, responses=_PAGE_RESPONSES,
            summary="An email offer's one-click link: a page to confirm this arrival window (signed link, no login, "
                    "rate-limited; a GET never books, as mail scanners open links)")
def choose_page(token: str, request: Request) -> Response:
    with Session(request.app.state.engine) as session:
        found = _chosen(request, token, session)
        if isinstance(found, Response):
            return found
        appt, choice, job = found
        option = appt.options[choice.n - 1]
        when = _when(request.app.state.settings, datetime.fromisoformat(option["start"]),
                     datetime.fromisoformat(option["end"]))
        e = html.escape
        body = (f"<h1>Your visit: {e(job.title)}</h1>"
                f'<div class="card"><div class="muted">Book this arrival window?</div>'
                f'<div class="when">{e(when)}</div>'
                f'<form method="post" action="/appointments/choose/{e(token)}">'
                f'<button type="submit">Book {e(when)}</button></form></div>'
                '<p class="muted">This page is only for you: please do not share its link.</p>')
    return _page("Book your visit", body)


@router.post("/appointments/choose/{token}", response_class=HTMLResponse,
             responses={**_PAGE_RESPONSES, 303: {"description": "Booked: on to the customer's own page"}},
             summary="Book the arrival window an email offer's link names (the signed token in the URL is the only "
                     "credential: no cookie, so no cross-site request can forge it); then the customer's own page")
def choose_book(token: str, request: Request) -> Response:
    settings, engine = request.app.state.settings, request.app.state.engine
    with Session(engine) as session:
        found = _chosen(request, token, session)
        if isinstance(found, Response):
            return found
        appt, choice, _job = found
        from server.core.city import load_city

        try:
            service.book(session=session, settings=settings, city=load_city(settings), appointment=appt,
                         choice=choice.n)
            session.commit()
        except DomainError as exc:
            session.rollback()
            return _page("Appointment", f"<h1>Appointment</h1><div class='card'>{html.escape(exc.detail)}</div>",
                         exc.status_code)
        appointment_id = appt.id or 0
    after_commit(engine=engine, settings=settings, events=[], deliver=True)
    return RedirectResponse(f"/appointments/self/{service.link_token(settings, appointment_id)}", status_code=303)
