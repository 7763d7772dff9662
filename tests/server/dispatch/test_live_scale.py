"""Live dispatch stays incremental on a big day: an urgent insertion and a dispatcher's preview cost what the
technicians they touch cost, not what the day costs. Counted, never timed: database statements, routes timed,
matrix locations, solves requested (issue 28, 'Scale')."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import time, timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

import routing
from server.config import Settings
from server.core.city import load_city
from server.dispatch import control
from server.dispatch.bench import _places
from server.dispatch.models import Override, OverrideAction, SolveJob
from server.dispatch.problem import build_snapshot
from server.jobs.models import Job, JobStatus
from server.plans import writer
from server.plans.models import Plan, PlanStop
from server.technicians.models import Technician
from tests.server.dispatch.conftest import now_utc

TECHS, JOBS = 30, 300
SKILLS = ["electrical", "roads", "water"]


@contextmanager
def counting(engine: Engine) -> Iterator[list[str]]:
    """Every SQL statement ``engine`` runs inside the block."""
    seen: list[str] = []

    def record(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def big_day(app, settings: Settings) -> dict[int, list[int]]:  # type: ignore[no-untyped-def]
    """``TECHS`` technicians with ``JOBS`` jobs on real demo-city places, assigned round-robin (no solver) and
    stored as the active plan version. Returns technician id → their job ids in order."""
    city = load_city(settings)
    places = _places(city, TECHS + JOBS + 5, seed=3)
    rng = random.Random(3)
    engine = app.state.engine
    with Session(engine) as session:
        techs = [Technician(name=f"Tech {i} Crew", skills={s: 2 for s in SKILLS}, home_lat=places[i][0],
                            home_lon=places[i][1], shift_start=time(0, 5), shift_end=time(23, 50),
                            overtime_allowed_min=60) for i in range(TECHS)]
        session.add_all(techs)
        session.flush()
        day: dict[int, list[int]] = {t.id or 0: [] for t in techs}
        for k in range(JOBS):
            tech = techs[k % TECHS]
            job = Job(title=f"job {k}", category="streetlight", required_skills={rng.choice(SKILLS): 1},
                      duration_min=20, priority=rng.randint(2, 6), lat=places[TECHS + k][0],
                      lon=places[TECHS + k][1], status=JobStatus.assigned, assigned_technician_id=tech.id,
                      eta_at=now_utc() + timedelta(minutes=k))
            session.add(job)
            session.flush()
            day[tech.id or 0].append(job.id or 0)
        session.commit()
        snapshot = build_snapshot(session=session, settings=settings, city=city)
        writer.store_plan(session=session, settings=settings, snapshot=snapshot,
                         plan=writer.full_plan(snapshot, {}), trigger="test day")
        session.commit()
    return day


def new_urgent(app, settings: Settings) -> int:  # type: ignore[no-untyped-def]
    lat, lon = _places(load_city(settings), TECHS + JOBS + 5, seed=3)[-1]
    with Session(app.state.engine) as session:
        job = Job(title="live wire down", category="streetlight", required_skills={"electrical": 1},
                  duration_min=30, priority=9, lat=lat, lon=lon)
        session.add(job)
        session.commit()
        return job.id or 0


def test_an_urgent_insertion_writes_only_the_technician_it_changes(app, settings):  # type: ignore[no-untyped-def]
    big_day(app, settings)
    urgent = new_urgent(app, settings)
    engine = app.state.engine
    with Session(engine) as session:
        before = session.exec(select(Plan).where(Plan.status == "active")).one()
        before_stops = {s.job_id: (s.technician_id, s.sequence, s.arrival_at) for s in
                        session.exec(select(PlanStop).where(PlanStop.plan_id == before.id)).all()}
    with counting(engine) as statements:
        result = control.insert_urgent(engine=engine, settings=settings, job_id=urgent)
    assert result and result["assigned"]
    tid = result["technician_id"]
    # The old insertion wrote the whole day back: ~3 statements per job (a notice lookup, a stop, the job's ETA),
    # 1,000+ on this 300-job day. Now: a fixed number, whatever the size of the day.
    assert len(statements) < 60, f"{len(statements)} statements for one urgent insertion on a {JOBS}-job day"
    with Session(engine) as session:
        after = session.exec(select(Plan).where(Plan.status == "active")).one()
        stops = {s.job_id: (s.technician_id, s.sequence, s.arrival_at) for s in
                 session.exec(select(PlanStop).where(PlanStop.plan_id == after.id)).all()}
        assert after.version == before.version + 1 and after.trigger == "urgent job"
        assert after.diff["assigned"] == JOBS + 1 and stops[urgent][0] == tid
        assert after.stats["changed_technicians"] == [tid]
        # Every other technician's day is carried over exactly as it was.
        others = {j: v for j, v in before_stops.items() if v[0] != tid}
        assert {j: stops[j] for j in others} == others
        mine = [j for j, v in sorted(stops.items(), key=lambda kv: kv[1][1]) if v[0] == tid]
        assert urgent in mine and set(mine) - {urgent} == {j for j, v in before_stops.items() if v[0] == tid}
        job = session.get(Job, urgent)
        assert job is not None and job.status == JobStatus.assigned and job.eta_at is not None
        solution = writer.solution_of(session=session, plan_id=after.id or 0)
        assert solution is not None
        assert sum(len(r["stops"]) for r in solution.solution["routes"]) == JOBS + 1  # warm starts see the whole day
        # Only some technicians' days were read, yet the version's objective is the whole day's.
        whole = writer.full_plan(build_snapshot(session=session, settings=settings, city=load_city(settings)), {})
        for term in ("jobs_served", "jobs_unassigned", "travel_s", "distance_m", "technicians_used", "cost"):
            assert after.objective[term] == getattr(whole.objective, term), term


def test_an_urgent_job_is_weighed_against_the_nearest_capable_days_only(app, settings, monkeypatch):  # type: ignore[no-untyped-def]
    big_day(app, settings)
    urgent = new_urgent(app, settings)
    city = load_city(settings)
    with Session(app.state.engine) as session:
        whole = build_snapshot(session=session, settings=settings, city=city)
        best = routing.recommend(whole.problem, whole.current_plan(), whole.problem.job(f"j{urgent}"), k=1)[0]
    seen: list[tuple[int, int]] = []
    real = control.build_snapshot

    def recorded(**kwargs):  # type: ignore[no-untyped-def]
        snap = real(**kwargs)
        seen.append((len(snap.technicians), snap.problem.travel_time_s.shape[0]))
        return snap

    monkeypatch.setattr(control, "URGENT_CANDIDATES", 8)
    monkeypatch.setattr(control, "build_snapshot", recorded)
    result = control.insert_urgent(engine=app.state.engine, settings=settings, job_id=urgent)
    assert result and result["assigned"]
    # 8 of the 30 capable technicians' days: their places only, not the day's (old: 30 days, 330+ places).
    assert seen[0][0] == 8 and seen[0][1] <= 8 * (JOBS // TECHS + 2) + 1
    # The nearest days hold the cheapest insertion the whole day has.
    assert f"t{result['technician_id']}" == best.technician_id


def test_an_override_commit_writes_only_the_days_it_changes(app, settings):  # type: ignore[no-untyped-def]
    from server.auth.models import Role, User

    day = big_day(app, settings)
    (a, a_jobs), (b, _) = list(day.items())[:2]
    engine = app.state.engine
    with Session(engine) as session:
        user = User(username="disp", role=Role.dispatcher, password_hash="x")
        session.add(user)
        session.commit()
        before = session.exec(select(Plan).where(Plan.status == "active")).one()
        before_stops = {s.job_id: (s.technician_id, s.arrival_at) for s in
                        session.exec(select(PlanStop).where(PlanStop.plan_id == before.id)).all()}
    override = Override(action=OverrideAction.assign, job_id=a_jobs[0], technician_id=b)
    with Session(engine) as session, counting(engine) as statements:
        user = session.exec(select(User)).first()
        result, plan_id, _ = control.commit(session=session, settings=settings, city=load_city(settings),
                                            override=override, user=user)
        session.commit()
    assert result.feasible and plan_id is not None
    assert len(statements) < 60, f"{len(statements)} statements for one override on a {JOBS}-job day"
    with Session(engine) as session:
        stops = {s.job_id: (s.technician_id, s.arrival_at) for s in
                 session.exec(select(PlanStop).where(PlanStop.plan_id == plan_id)).all()}
        assert stops[a_jobs[0]][0] == b and len(stops) == JOBS
        untouched = {j: v for j, v in before_stops.items() if v[0] not in (a, b)}
        assert {j: stops[j] for j in untouched} == untouched
        job = session.get(Job, a_jobs[0])
        assert job is not None and job.assigned_technician_id == b


def test_the_watcher_does_not_replan_the_day_for_an_urgent_job_it_placed(app, settings):  # type: ignore[no-untyped-def]
    from server.dispatch.watcher import Watcher

    big_day(app, settings)
    watcher = Watcher(app.state.engine, settings.model_copy(update={"dispatch_auto_replan": True}))
    watcher.tick()  # remembers where the jobs end
    urgent = new_urgent(app, settings)
    with Session(app.state.engine) as session:
        solves = session.exec(select(func.count()).select_from(SolveJob)).one()
    watcher.tick()
    with Session(app.state.engine) as session:
        job = session.get(Job, urgent)
        assert job is not None and job.status == JobStatus.assigned
        # Before: every urgent job also queued a whole-day re-plan (a full solve and a full plan write).
        assert session.exec(select(func.count()).select_from(SolveJob)).one() == solves
        plain = Job(title="faded sign", category="streetlight", required_skills={"roads": 1}, duration_min=20,
                    priority=3, lat=job.lat, lon=job.lon)
        session.add(plain)
        session.commit()
    watcher.tick()  # an ordinary new job still asks for a (coalesced) re-plan
    with Session(app.state.engine) as session:
        assert session.exec(select(func.count()).select_from(SolveJob)).one() == solves + 1


def test_a_preview_times_only_the_days_it_touches(app, settings, monkeypatch):  # type: ignore[no-untyped-def]
    day = big_day(app, settings)
    (a, a_jobs), (b, _) = list(day.items())[:2]
    timed: list[str] = []
    real = routing.timeline

    def counting_timeline(prob, tech, *args, **kwargs):  # type: ignore[no-untyped-def]
        timed.append(tech.id)
        return real(prob, tech, *args, **kwargs)

    monkeypatch.setattr(routing, "timeline", counting_timeline)
    with Session(app.state.engine) as session:
        snapshot = control.preview_snapshot(session=session, settings=settings, city=load_city(settings),
                                            override=Override(action=OverrideAction.assign, job_id=a_jobs[0],
                                                              technician_id=b))
        result, after = control.preview(snapshot=snapshot, override=Override(
            action=OverrideAction.assign, job_id=a_jobs[0], technician_id=b))
    assert result.feasible and sorted(result.affected_technicians) == sorted([a, b])
    # Only the two technicians' days: their jobs and places, not the day's (old: every job read, a matrix of
    # every place, every technician's day timed).
    assert set(snapshot.technicians) == {a, b}
    assert set(snapshot.jobs) == set(day[a]) | set(day[b])
    assert snapshot.problem.travel_time_s.shape[0] <= len(day[a]) + len(day[b]) + 4
    assert timed and set(timed) <= {f"t{a}", f"t{b}"}
    assert a_jobs[0] in [int(s.job_id[1:]) for s in after[b].stops]


@pytest.mark.parametrize("action", ["unassign", "reorder"])
def test_a_partial_preview_answers_as_the_whole_day_does(app, settings, action):  # type: ignore[no-untyped-def]
    day = big_day(app, settings)
    a, a_jobs = next(iter(day.items()))
    override = (Override(action=OverrideAction.unassign, job_id=a_jobs[1]) if action == "unassign" else
                Override(action=OverrideAction.reorder, technician_id=a, job_ids=list(reversed(a_jobs))))
    city = load_city(settings)
    with Session(app.state.engine) as session:
        whole, _ = control.preview(snapshot=build_snapshot(session=session, settings=settings, city=city),
                                   override=override)
        part, _ = control.preview(snapshot=control.preview_snapshot(session=session, settings=settings, city=city,
                                                                    override=override), override=override)
    assert part.model_dump(exclude={"elapsed_ms", "etas"}) == whole.model_dump(exclude={"elapsed_ms", "etas"})
    # Both timed from "now": the clock may tick between the two snapshots.
    assert part.etas.keys() == whole.etas.keys()
    assert all(abs((part.etas[j] - whole.etas[j]).total_seconds()) <= 5 for j in part.etas)


def test_a_new_place_does_not_copy_the_cached_travel_times(settings):  # type: ignore[no-untyped-def]
    """An urgent job's place joins the process's travel-time cache: on a 5,500-place day that copied the whole
    242 MB matrix (0.24 s of a 0.41 s insertion, profiled); the cache now grows in steps of GROW_ROWS."""
    from geodata.matrix import GROW_ROWS

    city = load_city(settings)
    places = _places(city, 40, seed=5)
    cache = city.network.matrix_cache()
    cache.add_many(places[:30])
    room = cache._buf
    for lat, lon in places[30:]:  # one at a time, as urgent jobs arrive
        cache.add(lat, lon)
    assert cache._buf is room and room.shape[0] == 30 + GROW_ROWS
    fresh = city.network.matrix_cache()
    fresh.add_many(places)
    assert (cache.matrix(places).travel_time_s == fresh.matrix(places).travel_time_s).all()
    assert (cache.matrix(places).distance_m == fresh.matrix(places).distance_m).all()


def test_an_absent_technician_is_not_an_urgent_candidate(app, settings):  # type: ignore[no-untyped-def]
    """The nearest days are chosen among technicians who work today: one on recorded leave would only shrink the
    candidates (the snapshot leaves them out)."""
    from server.technicians.models import TechnicianAbsence

    big_day(app, settings)
    urgent = new_urgent(app, settings)
    today = problem_day(settings)
    with Session(app.state.engine) as session:
        job = session.get(Job, urgent)
        assert job is not None
        first = control.nearest_capable(session=session, job=job, k=5, day=today)
        nearest = min(first)  # any one of them
        session.add(TechnicianAbsence(technician_id=nearest, first_day=today, last_day=today, reason="leave"))
        session.commit()
        again = control.nearest_capable(session=session, job=job, k=5, day=today)
    assert nearest not in again and len(again) == 5 and len(first & again) == 4


def problem_day(settings: Settings):  # type: ignore[no-untyped-def]
    from zoneinfo import ZoneInfo

    from server.dispatch.problem import day_origin

    return day_origin(settings).astimezone(ZoneInfo(settings.timezone)).date()
