"""The console's own JSON endpoints against the real demo server: streets, service area, inbox, routes."""

from __future__ import annotations

import gzip
import json
import re
import urllib.request

from tests.console.conftest import LiveServer, assignable


def test_streets_are_geojson_lines_clipped_to_a_bbox(live_server: LiveServer) -> None:
    token = live_server.token("agent")
    _, area = live_server.request("GET", "/map/service-area", token=token)
    w, s, e, n = area["properties"]["bbox"]
    assert area["geometry"]["type"] == "Polygon" and w < e and s < n
    _, everything = live_server.request("GET", "/map/streets", token=token)
    assert everything["type"] == "FeatureCollection" and len(everything["features"]) > 1000
    assert {f["geometry"]["type"] for f in everything["features"]} == {"LineString"}
    mid_lon, mid_lat = (w + e) / 2, (s + n) / 2
    _, part = live_server.request("GET", f"/map/streets?bbox={w},{s},{mid_lon},{mid_lat}", token=token)
    assert 0 < len(part["features"]) < len(everything["features"])
    # Served gzipped to browsers that accept it (1.4 MB of GeoJSON becomes ~150 kB).
    req = urllib.request.Request(live_server.url + "/map/streets", headers={
        "Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"})
    with urllib.request.urlopen(req, timeout=60) as res:
        assert res.headers["Content-Encoding"] == "gzip"
        assert json.loads(gzip.decompress(res.read()))["features"]


def test_bad_bbox_is_refused_naming_the_field(live_server: LiveServer) -> None:
    token = live_server.token("agent")
    for bad in ("1,2", "a,b,c,d", "2,2,1,1"):
        status, body = live_server.request("GET", f"/map/streets?bbox={bad}", token=token)
        assert status == 422 and body["detail"].startswith("bbox:"), (bad, body)


def test_inbox_rows_carry_customer_last_message_and_triage(live_server: LiveServer) -> None:
    token = live_server.token("agent")
    status, page = live_server.request("GET", "/console/inbox?needs_attention=true&limit=20", token=token)
    assert status == 200 and page["total"] > 0 and len(page["items"]) <= 20
    row = page["items"][0]
    assert row["customer"]["id"] and row["last_message"]["text"]
    # The inbox's rule (server/conversations/inbox.py answers this route too): an open conversation whose case is
    # still open, or whose customer wrote again after the case was handed off and waits for an answer.
    for item in page["items"]:
        assert item["status"] == "open"
        assert item["case"]["status"] in ("open", "needs_location") or item["awaiting_since"], item
    stamps = [r["last_message_at"] for r in page["items"]]
    assert stamps == sorted(stamps, reverse=True)
    status, sms = live_server.request("GET", "/console/inbox?channel=sms", token=token)
    assert status == 200 and all(r["channel"] == "sms" for r in sms["items"])
    # Technicians are not staff: no inbox for them.
    status, body = live_server.request("GET", "/console/inbox", token=live_server.token("ana"))
    assert status == 403, body


def test_routes_follow_the_active_plan(live_server: LiveServer) -> None:
    token = live_server.token("dispatcher")
    plan_status, plan = live_server.request("GET", "/plans/current", token=token)
    if plan_status == 404:
        status, routes = live_server.request("GET", "/map/routes", token=token)
        assert status == 404 and "no plan yet" in routes["detail"]
        job_id, tech_id = assignable(live_server, token)  # an assignment makes the first plan version
        status, body = live_server.request("POST", "/dispatch/overrides/commit", token=token,
                                           body={"action": "assign", "job_id": job_id, "technician_id": tech_id})
        assert status == 200, body
    for _ in range(5):  # a re-plan may land between the two reads; read both again until they agree
        _, plan = live_server.request("GET", "/plans/current", token=token)
        status, routes = live_server.request("GET", "/map/routes", token=token)
        if status == 200 and routes["plan_version"] == plan["version"]:
            break
    assert status == 200 and routes["plan_version"] == plan["version"]
    planned = {s["technician_id"] for s in plan["stops"]}
    assert {f["properties"]["technician_id"] for f in routes["features"]} == planned
    for feature in routes["features"]:
        mine = [s["job_id"] for s in sorted(plan["stops"], key=lambda s: s["sequence"])
                if s["technician_id"] == feature["properties"]["technician_id"]]
        assert feature["properties"]["job_ids"] == mine
        assert feature["geometry"]["type"] == "MultiLineString" and feature["geometry"]["coordinates"]


def test_board_labels_and_explanations_name_people_not_ids(live_server: LiveServer) -> None:
    """GET /console/board names the customer of each planned job; the dispatch explanations the console shows name
    technicians ("the cheapest option is Ana Ruiz"), never "technician 6", and carry no solver cost."""
    token = live_server.token("dispatcher")
    status, config = live_server.request("GET", "/console/config", token=token)
    assert status == 200 and config["eta_window_min"] > 0 and config["eta_margin_min"] > 0
    job_id, tech_id = assignable(live_server, token)
    _, why = live_server.request("GET", f"/dispatch/jobs/{job_id}/explain", token=token)
    _, techs = live_server.request("GET", "/technicians?limit=100", token=token)
    names = {t["id"]: t["name"] for t in techs["items"]}
    assert names[tech_id] in why["explanation"], why
    status, body = live_server.request("POST", "/dispatch/overrides/commit", token=token,
                                       body={"action": "assign", "job_id": job_id, "technician_id": tech_id})
    assert status == 200, body
    _, assigned = live_server.request("GET", "/jobs?status=assigned&limit=100", token=token)
    for job in [*assigned["items"][:8], {"id": job_id}]:
        _, why = live_server.request("GET", f"/dispatch/jobs/{job['id']}/explain", token=token)
        text = why.get("explanation", "")
        assert not re.search(r"technician \d", text) and "(cost" not in text, text
    _, board = live_server.request("GET", "/console/board", token=token)
    _, plan = live_server.request("GET", "/plans/current", token=token)
    planned = {s["job_id"] for s in plan["stops"]}
    assert board["plan_version"] == plan["version"] and board["customers"]
    assert {int(k) for k in board["customers"]} <= planned
    assert all(isinstance(v, str) and v for v in board["customers"].values())
