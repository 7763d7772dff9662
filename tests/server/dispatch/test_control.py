"""Dispatcher control: previews with their cost before committing, hard constraints refused with the reason,
pins kept by the next re-plan, locked days untouched, explanations, and the urgent-job insertion."""

from __future__ import annotations

from server.auth.models import Role
from server.dispatch import control
from tests.server.dispatch.conftest import job_body, technician_body, wait_solve


def _day(client, auth, settings):  # type: ignore[no-untyped-def]
    dispatcher = auth(Role.dispatcher)
    techs = [client.post("/technicians", json=technician_body(n, i, skills), headers=dispatcher).json()["id"]
             for i, (n, skills) in enumerate([("Ana Ruiz", {"electrical": 3}), ("Marcus Webb", {"roads": 3})])]
    jobs = [client.post("/jobs", json=job_body(settings, f"light {i}", 2 + i), headers=dispatcher).json()["id"]
            for i in range(4)]
    road = client.post("/jobs", headers=dispatcher, json={**job_body(settings, "pothole", 7),
                                                            "required_skills": {"roads": 1}}).json()["id"]
    wait_solve(client, dispatcher, client.post("/dispatch/solves", json={"time_limit_s": 0.5},
                                               headers=dispatcher).json()["id"])
    return dispatcher, techs, jobs, road


def test_preview_then_commit_an_assignment(client, auth, settings):
    dispatcher, (ana, _marcus), jobs, road = _day(client, auth, settings)
    missing = client.post("/dispatch/overrides/preview", headers=dispatcher,
                          json={"action": "assign", "job_id": road, "technician_id": ana})
    assert missing.status_code == 422 and "missing skill 'roads'" in missing.json()["detail"]
    commit_missing = client.post("/dispatch/overrides/commit", headers=dispatcher,
                                 json={"action": "assign", "job_id": road, "technician_id": ana})
    assert commit_missing.status_code == 422
    unassign = client.post("/dispatch/overrides/preview", headers=dispatcher,
                           json={"action": "unassign", "job_id": jobs[0]})
    assert unassign.status_code == 200, unassign.text
    body = unassign.json()
    assert body["feasible"] and body["added_travel_s"] <= 0 and body["affected_technicians"] == [ana]
    versions = client.get("/plans", headers=dispatcher).json()["total"]
    assert client.get("/plans", headers=dispatcher).json()["total"] == versions  # preview writes nothing
    reorder = client.post("/dispatch/overrides/preview", headers=dispatcher,
                          json={"action": "reorder", "technician_id": ana, "job_ids": list(reversed(jobs))})
    assert reorder.status_code == 200 and reorder.json()["added_travel_s"] >= 0
    wrong = client.post("/dispatch/overrides/preview", headers=dispatcher,
                        json={"action": "reorder", "technician_id": ana, "job_ids": [jobs[0]]})
    assert wrong.status_code == 422 and "job_ids" in wrong.json()["detail"]
    committed = client.post("/dispatch/overrides/commit", headers=dispatcher,
                            json={"action": "reorder", "technician_id": ana, "job_ids": list(reversed(jobs))})
    assert committed.status_code == 200, committed.text
    plan = client.get("/plans/current", headers=dispatcher).json()
    assert plan["trigger"] == "override:reorder"
    ana_stops = [s["job_id"] for s in sorted(plan["stops"], key=lambda s: s["sequence"]) if s["technician_id"] == ana]
    assert ana_stops == list(reversed(jobs))
    wait_solve(client, dispatcher, committed.json()["replan_solve_id"])
    after = client.get("/plans/current", headers=dispatcher).json()  # the pinned order survives the re-plan
    assert [s["job_id"] for s in sorted(after["stops"], key=lambda s: s["sequence"])
            if s["technician_id"] == ana] == list(reversed(jobs))
    assert client.post("/dispatch/overrides/preview", headers=auth(Role.agent),
                       json={"action": "unassign", "job_id": jobs[0]}).status_code == 403


def test_lock_keeps_a_day_and_explanations(client, auth, settings):
    dispatcher, (ana, marcus), _jobs, road = _day(client, auth, settings)
    locked = client.post("/dispatch/overrides/commit", headers=dispatcher,
                         json={"action": "lock", "technician_id": ana})
    assert locked.status_code == 200
    before = [s for s in client.get("/plans/current", headers=dispatcher).json()["stops"] if s["technician_id"] == ana]
    extra = client.post("/jobs", json=job_body(settings, "another light", 10), headers=dispatcher).json()["id"]
    wait_solve(client, dispatcher, client.post("/dispatch/solves", json={"time_limit_s": 0.5},
                                               headers=dispatcher).json()["id"])
    plan = client.get("/plans/current", headers=dispatcher).json()
    after = [s for s in plan["stops"] if s["technician_id"] == ana]
    assert [s["job_id"] for s in after] == [s["job_id"] for s in before]
    assert extra in [u["job_id"] for u in plan["unassigned"]]  # only Ana could do it, and her day is locked
    why = client.get(f"/dispatch/jobs/{extra}/explain", headers=dispatcher).json()
    assert why["status"] == "unassigned" and "no technician on shift has the required skill" in why["explanation"]
    why_road = client.get(f"/dispatch/jobs/{road}/explain", headers=dispatcher).json()
    assert why_road["technician_id"] == marcus and why_road["explanation"]
    assert client.get("/dispatch/jobs/999999/explain", headers=dispatcher).status_code == 404


def test_urgent_insert_assigns_and_tells_the_reporter(client, auth, settings, app):
    dispatcher, (ana, _), _, _ = _day(client, auth, settings)
    urgent = client.post("/jobs", headers=dispatcher, json={**job_body(settings, "live wire down", 11),
                                                             "priority": 9}).json()["id"]
    result = control.insert_urgent(engine=app.state.engine, settings=settings, job_id=urgent)
    assert result and result["assigned"] and result["technician_id"] == ana and result["eta_at"]
    assert control.insert_urgent(engine=app.state.engine, settings=settings, job_id=urgent) is None  # once only
    job = client.get(f"/jobs/{urgent}", headers=dispatcher).json()
    assert job["status"] == "assigned" and job["assigned_technician_id"] == ana
    assert client.get("/plans/current", headers=dispatcher).json()["trigger"] == "urgent job"


def test_urgent_insert_backs_off_when_a_dispatcher_placed_the_job_meanwhile(client, auth, settings, app, monkeypatch):
    """The watcher's insertion and a dispatcher's assignment race: the dispatcher's stands, whoever is second."""
    dispatcher, (_ana, marcus), _, _ = _day(client, auth, settings)
    urgent = client.post("/jobs", headers=dispatcher, json={**job_body(settings, "sinkhole", 11), "priority": 9,
                                                             "required_skills": {"roads": 1}}).json()["id"]
    real_snapshot = control.build_snapshot
    raced: list[bool] = []

    def snapshot_then_dispatcher_assigns(**kwargs):  # type: ignore[no-untyped-def]
        snap = real_snapshot(**kwargs)
        if raced:  # the dispatcher's own commit builds a snapshot too
            return snap
        raced.append(True)
        committed = client.post("/dispatch/overrides/commit", headers=dispatcher,
                                json={"action": "assign", "job_id": urgent, "technician_id": marcus})
        assert committed.status_code == 200, committed.text
        return snap

    monkeypatch.setattr(control, "build_snapshot", snapshot_then_dispatcher_assigns)
    assert control.insert_urgent(engine=app.state.engine, settings=settings, job_id=urgent) is None
    job = client.get(f"/jobs/{urgent}", headers=dispatcher).json()
    assert job["status"] == "assigned" and job["assigned_technician_id"] == marcus


def test_without_auto_replan_only_the_dispatcher_changes_the_plan(client, auth, settings):
    """A deployment that re-plans only on request: an override makes its own plan version and nothing more."""
    settings.dispatch_auto_replan = False
    dispatcher, (ana, _marcus), jobs, _road = _day(client, auth, settings)
    solves = len(client.get("/dispatch/solves", headers=dispatcher).json())
    committed = client.post("/dispatch/overrides/commit", headers=dispatcher,
                            json={"action": "reorder", "technician_id": ana, "job_ids": list(reversed(jobs))})
    assert committed.status_code == 200, committed.text
    assert committed.json()["replan_solve_id"] is None
    assert len(client.get("/dispatch/solves", headers=dispatcher).json()) == solves
    assert client.get("/plans/current", headers=dispatcher).json()["trigger"] == "override:reorder"


def test_explanation_names_each_technician_once(client, auth, settings):
    dispatcher, _techs, jobs, _road = _day(client, auth, settings)
    client.post("/dispatch/overrides/commit", headers=dispatcher, json={"action": "unassign", "job_id": jobs[0]})
    why = client.get(f"/dispatch/jobs/{jobs[0]}/explain", headers=dispatcher).json()
    ids = [a["technician_id"] for a in why["alternatives"]]
    assert ids and len(ids) == len(set(ids))
    costs = [a["added_cost"] for a in why["alternatives"]]
    assert costs == sorted(costs)
