"""A technician's day as the app needs it: ordered stops with ETAs and the route along real streets."""

from __future__ import annotations

from server.auth.models import Role
from tests.server.dispatch.conftest import job_body, technician_body, wait_solve


def test_my_route_follows_the_plan_on_the_streets(client, auth, settings):
    dispatcher = auth(Role.dispatcher)
    techs = [client.post("/technicians", json=technician_body(f"Tech {i} Person", i), headers=dispatcher).json()["id"]
             for i in range(2)]
    for i in range(5):
        client.post("/jobs", json=job_body(settings, f"job {i}", 2 + i), headers=dispatcher)
    tech = auth(Role.technician, technician_id=techs[0])
    assert client.get("/technicians/me/route", headers=tech).status_code == 404  # no plan yet: said plainly
    solve = client.post("/dispatch/solves", json={"time_limit_s": 1}, headers=dispatcher).json()
    assert wait_solve(client, dispatcher, solve["id"])["status"] == "succeeded"

    plan = client.get("/plans/current", headers=dispatcher).json()
    mine = sorted((s for s in plan["stops"] if s["technician_id"] == techs[0]), key=lambda s: s["sequence"])
    route = client.get("/technicians/me/route", headers=tech)
    assert route.status_code == 200, route.text
    body = route.json()
    assert body["plan_version"] == plan["version"] and body["technician_id"] == techs[0]
    assert [s["job_id"] for s in body["stops"]] == [s["job_id"] for s in mine]
    assert all(s["arrival_at"] <= s["start_at"] <= s["end_at"] for s in body["stops"])
    lines = body["geometry"]["coordinates"]
    assert body["on_streets"] is True and len(lines) == len(mine) + 1  # home → each stop → home
    assert all(len(line) >= 2 for line in lines)
    # staff may read anyone's day; a technician only their own (no such route for others)
    assert client.get(f"/technicians/{techs[1]}/route", headers=dispatcher).status_code == 200
    assert client.get(f"/technicians/{techs[1]}/route", headers=tech).status_code == 403
    unlinked = auth(Role.technician)
    assert "not linked" in client.get("/technicians/me/route", headers=unlinked).json()["detail"]


def test_a_leg_that_cannot_be_routed_is_drawn_straight_and_the_rest_follow_the_streets(settings):
    from server.core.city import load_city
    from server.plans.service import route_lines
    from tests.server.dispatch.conftest import SITES

    city = load_city(settings)
    off_the_map = (39.60, -76.20)  # 40 km north-east of the extract: no street to snap to
    points = [SITES[0], SITES[2], SITES[3], off_the_map, SITES[0]]
    lines, on_streets = route_lines(city=city, points=points)
    assert on_streets is False and len(lines) == 4
    assert all(len(line) > 2 for line in lines[:2])  # along the streets: many vertices
    assert lines[2] == [[SITES[3][1], SITES[3][0]], [off_the_map[1], off_the_map[0]]]  # straight, lon/lat
    assert lines[3] == [[off_the_map[1], off_the_map[0]], [SITES[0][1], SITES[0][0]]]
    assert route_lines(city=city, points=points[:3]) == (lines[:2], True)
