"""Return visits and multi-day visits through the lifecycle API: "unable, needs a return visit" opens a follow-up job
(same place, same reporters, the technician preferred, not before the part arrives) and tells each reporter in their
language; today's plan prefers the technician and waits for the release day; a part of a multi-day visit leaves the
job open for its next part, and the last part completes it."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from server.cases.models import Case
from server.conversations.models import Conversation
from server.core.city import load_city
from server.dispatch.problem import build_snapshot, job_key, tech_key
from server.jobs.models import Job, JobReport
from tests.server.fieldwork.test_lifecycle import _planned_day, _texts


def _finnish(app, conversation_id: int) -> None:  # type: ignore[no-untyped-def]
    """Triage found Finnish in this reporter's conversation."""
    with Session(app.state.engine) as session:
        conv = session.get(Conversation, conversation_id)
        session.add(Case(conversation_id=conversation_id, customer_id=conv.customer_id, triage={"language": "fi"}))
        session.commit()


def test_unable_with_a_return_visit_opens_a_linked_follow_up_and_tells_each_reporter(client, auth, settings, app):
    dispatcher, agent, technician, _, jobs, conversations, tech = _planned_day(client, auth, settings, app)
    job_id = jobs[0]
    sms, email = conversations[job_id]
    _finnish(app, email)
    client.post(f"/jobs/{job_id}/status", json={"status": "en_route"}, headers=technician)
    client.post(f"/jobs/{job_id}/status", json={"status": "on_site"}, headers=technician)
    part_day = date.today() + timedelta(days=3)
    r = client.post(f"/jobs/{job_id}/status", headers=technician, json={
        "status": "unable", "idempotency_key": "unable-1",
        "return_visit": {"reason": "part on order", "earliest_day": part_day.isoformat(), "duration_min": 90}})
    assert r.status_code == 200, r.text
    original = r.json()
    assert original["status"] == "unable" and len(original["follow_ups"]) == 1
    follow_id = original["follow_ups"][0]
    follow = client.get(f"/jobs/{follow_id}", headers=dispatcher).json()
    assert follow["follow_up_of"] == job_id and follow["status"] == "unassigned"
    assert follow["preferred_technician_id"] == tech and follow["pinned"] is False  # preferred, not pinned
    assert follow["duration_min"] == 90 and (follow["lat"], follow["lon"]) == (original["lat"], original["lon"])
    local = ZoneInfo(settings.timezone)
    earliest = datetime.fromisoformat(follow["earliest_at"]).astimezone(local)
    assert earliest.date() == part_day and (earliest.hour, earliest.minute) == (0, 0)
    assert follow["reporter_count"] == 2  # the customers' reports came with it: its notices reach them
    sms_text, email_text = _texts(client, agent, sms)[-1], _texts(client, agent, email)[-1]
    assert "part on order" in sms_text and "come back" in sms_text
    assert "Tulemme takaisin" in email_text and "part on order" in email_text and part_day.isoformat() in email_text
    assert not any("we will schedule another visit" in t for t in _texts(client, agent, sms))  # one notice, not two
    # a retry from the outbox opens nothing more
    again = client.post(f"/jobs/{job_id}/status", headers=technician, json={
        "status": "unable", "idempotency_key": "unable-1", "return_visit": {"reason": "part on order"}})
    assert again.status_code == 200 and again.json()["follow_ups"] == [follow_id]
    events = client.get(f"/jobs/{follow_id}/events", headers=dispatcher).json()
    assert events[0]["data"] == {"follow_up_of": job_id}
    with Session(app.state.engine) as session:
        assert len(session.exec(select(JobReport).where(JobReport.job_id == follow_id)).all()) == 2


def test_todays_plan_prefers_the_technician_and_waits_for_the_release_day(client, auth, settings, app):
    _, _, technician, _, jobs, _, tech = _planned_day(client, auth, settings, app)
    job_id = jobs[0]
    client.post(f"/jobs/{job_id}/status", json={"status": "en_route"}, headers=technician)
    later = client.post(f"/jobs/{job_id}/status", headers=technician, json={
        "status": "unable", "return_visit": {"reason": "part on order",
                                             "earliest_day": (date.today() + timedelta(days=2)).isoformat()}})
    follow_id = later.json()["follow_ups"][0]
    with Session(app.state.engine) as session:
        snap = build_snapshot(session=session, settings=settings, city=load_city(settings))
        model = snap.problem.job(job_key(follow_id))
        assert model.preferred_technicians == [tech_key(tech)]
        midnight = datetime.combine(date.today() + timedelta(days=2), time(0), ZoneInfo(settings.timezone))
        release = midnight - snap.origin
        assert model.time_windows[0].start_s == int(release.total_seconds())  # not before the part arrives
        assert model.pinned_technician is None


def test_return_visit_is_for_unable_only_and_needs_a_reason(client, auth, settings, app):
    _, _, technician, _, jobs, _, _ = _planned_day(client, auth, settings, app)
    job_id = jobs[0]
    client.post(f"/jobs/{job_id}/status", json={"status": "en_route"}, headers=technician)
    client.post(f"/jobs/{job_id}/status", json={"status": "on_site"}, headers=technician)
    bad = client.post(f"/jobs/{job_id}/status", headers=technician,
                      json={"status": "completed", "return_visit": {"reason": "part on order"}})
    assert bad.status_code == 422 and "return_visit" in bad.text
    blank = client.post(f"/jobs/{job_id}/status", headers=technician,
                        json={"status": "unable", "return_visit": {"reason": "   "}})
    assert blank.status_code == 422


def test_a_part_of_a_multi_day_visit_leaves_the_job_open_and_the_last_part_completes_it(client, auth, settings, app):
    dispatcher, agent, technician, _, jobs, conversations, tech = _planned_day(client, auth, settings, app)
    job_id = jobs[0]
    client.post(f"/jobs/{job_id}/status", json={"status": "en_route"}, headers=technician)
    client.post(f"/jobs/{job_id}/status", json={"status": "on_site"}, headers=technician)
    part = client.post(f"/jobs/{job_id}/status", headers=technician,
                       json={"status": "completed", "work_left_min": 240, "idempotency_key": "part-1"})
    assert part.status_code == 200, part.text
    body = part.json()
    assert body["status"] == "unassigned" and body["parts_done"] == 1 and body["duration_min"] == 240
    assert body["preferred_technician_id"] == tech and body["assigned_technician_id"] is None
    assert not any("has been fixed" in t for t in _texts(client, agent, conversations[job_id][0]))
    events = client.get(f"/jobs/{job_id}/events", headers=dispatcher).json()
    assert events[-1]["status"] == "part_done" and events[-1]["data"] == {"part": 1, "work_left_min": 240}
    # the next day's plan gives it back to them; the last part completes it and the reporters hear it is fixed
    with Session(app.state.engine) as session:
        job = session.get(Job, job_id)
        job.status, job.assigned_technician_id = "assigned", tech
        session.add(job)
        session.commit()
    client.post(f"/jobs/{job_id}/status", json={"status": "on_site"}, headers=technician)
    done = client.post(f"/jobs/{job_id}/status", json={"status": "completed"}, headers=technician)
    assert done.json()["status"] == "completed" and done.json()["parts_done"] == 1
    assert "has been fixed" in _texts(client, agent, conversations[job_id][0])[-1]


def test_a_job_longer_than_the_working_day_is_a_multi_day_visit_by_default():
    from server.fieldwork.service import day_work_min, work_left
    from server.technicians.models import Technician

    tech = Technician(name="Ana Ruiz", home_lat=0, home_lon=0, breaks=[
        {"earliest": "11:30", "latest": "14:00", "duration_min": 30}])  # 08:00-17:00 less 30 min
    assert day_work_min(tech) == 510
    job = Job(title="t", lat=0, lon=0, duration_min=12 * 60)
    assert work_left(job=job, tech=tech, said=None) == 720 - 510
    assert work_left(job=job, tech=tech, said=0) == 0  # the technician says it is done
    assert work_left(job=Job(title="t", lat=0, lon=0, duration_min=60), tech=tech, said=None) == 0


def test_the_return_visit_notice_is_in_every_language_of_the_replies():
    from server.triage.replies import load_replies

    replies = load_replies()
    languages = set(replies["ask_location"])
    for kind in ("return_visit", "return_visit_crew", "return_visit_not_before"):
        assert set(replies[kind]) == languages, kind


def test_the_work_a_part_holds_follows_that_days_shift_in_the_weekly_pattern():
    """A morning-only Friday holds less of a multi-day visit than a full day, and a day off holds none (before, every
    day was read as the everyday shift)."""
    from datetime import date

    from server.fieldwork.service import day_work_min, work_left
    from server.technicians.models import Technician

    tech = Technician(name="Ana Ruiz", home_lat=0, home_lon=0, breaks=[
        {"earliest": "11:30", "latest": "14:00", "duration_min": 30}],
        weekly_shifts={"5": {"start": "07:00", "end": "11:00"}, "6": "off"})
    thursday, friday, saturday = date(2026, 12, 3), date(2026, 12, 4), date(2026, 12, 5)
    assert day_work_min(tech, thursday) == 510  # the everyday 08:00-17:00 less lunch
    assert day_work_min(tech, friday) == 240  # 07:00-11:00: lunch does not fit that day
    assert day_work_min(tech, saturday) == 0
    job = Job(title="t", lat=0, lon=0, duration_min=12 * 60)
    assert work_left(job=job, tech=tech, said=None, day=friday) == 720 - 240
