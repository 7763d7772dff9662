"""Editing a job (`PATCH /jobs/{id}`): place, required skills, time windows and SLA alongside priority, duration and
description; a place off the city's map and windows or an SLA out of reason are refused naming the field; what
changed is in the job's history and the audit log; a change the plan reads asks for a re-plan when there is one."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from server.auth.models import Role
from server.core.timeutil import utcnow
from server.dispatch.models import SolveJob
from server.plans.models import Plan
from tests.server.conftest import JOB_BODY, create_technician

INSIDE = (39.2930, -76.5850)  # on the demo city's streets (a site of the dispatch tests)
OUTSIDE = (39.4000, -76.4000)  # north-east of the extract: a real place, not on this map


def _job(client: TestClient, headers: dict[str, str], **over: object) -> dict:
    made = client.post("/jobs", json={**JOB_BODY, **over}, headers=headers)
    assert made.status_code == 201, made.text
    return made.json()


def _window(hours_from_now: float, length_h: float) -> dict[str, str]:
    start = utcnow() + timedelta(hours=hours_from_now)
    return {"start": start.isoformat(), "end": (start + timedelta(hours=length_h)).isoformat()}


def test_place_skills_windows_and_sla_are_edited_and_recorded(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    dispatcher = auth(Role.dispatcher)
    job = _job(client, dispatcher)
    window = _window(24, 3)
    due = (utcnow() + timedelta(days=2)).replace(microsecond=0)
    edited = client.patch(f"/jobs/{job['id']}", headers=dispatcher, json={
        "lat": INSIDE[0], "lon": INSIDE[1], "address": "2600 E Baltimore St", "required_skills": {"electrical": 2,
                                                                                               "Water": 1},
        "time_windows": [window], "sla_due_at": due.isoformat(), "priority": 8, "version": job["version"]})
    assert edited.status_code == 200, edited.text
    after = client.get(f"/jobs/{job['id']}", headers=dispatcher).json()
    assert (after["lat"], after["lon"], after["address"]) == (*INSIDE, "2600 E Baltimore St")
    assert after["required_skills"] == {"electrical": 2, "water": 1}
    assert [w["start"][:16] for w in after["time_windows"]] == [window["start"][:16]]
    assert after["sla_due_at"][:19] == due.isoformat()[:19] and after["version"] == job["version"] + 1

    history = client.get(f"/jobs/{job['id']}/events", headers=dispatcher).json()
    edit = [e for e in history if e["status"] == "edited"]
    assert len(edit) == 1 and edit[0]["actor"].startswith("dispatcher")
    changes = edit[0]["data"]["changes"]
    assert changes["lat"] == {"before": JOB_BODY["lat"], "after": INSIDE[0]}
    assert changes["required_skills"]["before"] == {"electrical": 1}
    assert set(changes) == {"lat", "lon", "address", "required_skills", "time_windows", "sla_due_at", "priority"}
    audit = client.get("/audit", params={"entity": "job", "entity_id": str(job["id"])},
                       headers=auth(Role.admin)).json()["items"]
    assert audit[0]["action"] == "update" and audit[0]["detail"]["changes"]["lon"]["after"] == INSIDE[1]


def test_a_place_off_the_map_is_refused_and_nothing_changes(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    dispatcher = auth(Role.dispatcher)
    job = _job(client, dispatcher)
    refused = client.patch(f"/jobs/{job['id']}", headers=dispatcher,
                           json={"lat": OUTSIDE[0], "lon": OUTSIDE[1], "priority": 9})
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    assert detail.startswith("lat/lon:") and "outside the service area" in detail
    after = client.get(f"/jobs/{job['id']}", headers=dispatcher).json()
    assert (after["lat"], after["lon"], after["priority"], after["version"]) == (
        job["lat"], job["lon"], job["priority"], job["version"])
    assert not [e for e in client.get(f"/jobs/{job['id']}/events", headers=dispatcher).json()
                if e["status"] == "edited"]


def test_an_unknown_skill_is_refused_and_a_technicians_own_skill_is_taken(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    dispatcher = auth(Role.dispatcher)
    job = _job(client, dispatcher)
    refused = client.patch(f"/jobs/{job['id']}", headers=dispatcher,
                           json={"required_skills": {"electrical": 1, "watr": 1}, "priority": 9})
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    assert detail.startswith("required_skills: 'watr' is no skill") and "water" in detail  # the known ones
    after = client.get(f"/jobs/{job['id']}", headers=dispatcher).json()
    assert (after["required_skills"], after["priority"], after["version"]) == (
        job["required_skills"], job["priority"], job["version"])
    # A skill no catalogue service needs but a technician has is a real skill: taken.
    create_technician(client, dispatcher, name="Drone Pilot", skills={"drone_survey": 2})
    taken = client.patch(f"/jobs/{job['id']}", headers=dispatcher, json={"required_skills": {"drone_survey": 1}})
    assert taken.status_code == 200, taken.text
    assert taken.json()["required_skills"] == {"drone_survey": 1}


def test_windows_must_be_ordered_apart_and_within_reason(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    dispatcher = auth(Role.dispatcher)
    job = _job(client, dispatcher)
    soon = utcnow() + timedelta(hours=2)
    bad = {
        "before it starts": [{"start": soon.isoformat(), "end": (soon - timedelta(hours=1)).isoformat()}],
        "must not overlap": [_window(2, 3), _window(3, 3)],
        "is over already": [_window(-5, 2)],
        "at most 14 days": [_window(2, 24 * 20)],
        "more than a year ahead": [_window(24 * 400, 2)],
    }
    for words, windows in bad.items():
        r = client.patch(f"/jobs/{job['id']}", headers=dispatcher, json={"time_windows": windows})
        assert r.status_code == 422, (words, r.text)
        assert "time_windows" in r.json()["detail"] and words in r.json()["detail"], r.text
    two = [_window(26, 2), _window(2, 3)]
    ok = client.patch(f"/jobs/{job['id']}", headers=dispatcher, json={"time_windows": two})
    assert ok.status_code == 200, ok.text
    starts = [w["start"] for w in ok.json()["time_windows"]]
    assert starts == sorted(starts)  # stored in order


def test_windows_the_job_had_stay_when_other_fields_are_saved(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    """The edit form sends the windows back as they were: a past one (yesterday's) is history, not a slip."""
    dispatcher = auth(Role.dispatcher)
    past = _window(-30, 4)
    job = _job(client, dispatcher, time_windows=[past])
    kept = client.patch(f"/jobs/{job['id']}", headers=dispatcher,
                        json={"time_windows": job["time_windows"], "description": "gate code 1234"})
    assert kept.status_code == 200, kept.text
    added = client.patch(f"/jobs/{job['id']}", headers=dispatcher,
                         json={"time_windows": [*job["time_windows"], _window(-2, 1)]})
    assert added.status_code == 422 and "window 2" in added.json()["detail"]


def test_sla_must_be_after_the_report_and_within_a_year(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    dispatcher = auth(Role.dispatcher)
    job = _job(client, dispatcher)
    before = client.patch(f"/jobs/{job['id']}", headers=dispatcher,
                          json={"sla_due_at": (utcnow() - timedelta(days=3)).isoformat()})
    assert before.status_code == 422 and before.json()["detail"].startswith("sla_due_at:")
    assert "before the job was reported" in before.json()["detail"]
    far = client.patch(f"/jobs/{job['id']}", headers=dispatcher,
                       json={"sla_due_at": (utcnow() + timedelta(days=500)).isoformat()})
    assert far.status_code == 422 and "more than a year ahead" in far.json()["detail"]
    cleared = client.patch(f"/jobs/{job['id']}", headers=dispatcher, json={"sla_due_at": None})
    assert cleared.status_code == 200 and cleared.json()["sla_due_at"] is None


def _edit_solves(app) -> list[SolveJob]:  # type: ignore[no-untyped-def]
    with Session(app.state.engine) as session:
        return list(session.exec(select(SolveJob).where(SolveJob.trigger == "job edited")).all())


def test_a_change_the_plan_reads_asks_for_a_replan_when_there_is_a_plan(client: TestClient, auth, app) -> None:  # type: ignore[no-untyped-def]
    dispatcher = auth(Role.dispatcher)
    job = _job(client, dispatcher)
    assert client.patch(f"/jobs/{job['id']}", headers=dispatcher, json={"lat": INSIDE[0], "lon": INSIDE[1]}).is_success
    assert _edit_solves(app) == []  # no plan yet: the morning plan will read the job as it is
    with Session(app.state.engine) as session:
        session.add(Plan(version=1, trigger="test"))
        session.commit()
    assert client.patch(f"/jobs/{job['id']}", headers=dispatcher, json={"description": "side gate"}).is_success
    assert _edit_solves(app) == []  # the plan reads nothing of a description
    moved = client.patch(f"/jobs/{job['id']}", headers=dispatcher, json={"time_windows": [_window(3, 2)]})
    assert moved.is_success, moved.text
    solves = _edit_solves(app)
    assert len(solves) == 1 and f"job {job['id']} edited" in solves[0].reasons[0]
    assert "time_windows" in solves[0].reasons[0]
