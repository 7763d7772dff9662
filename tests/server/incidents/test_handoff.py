"""Hand-off (`POST /cases/{id}/handoff`): a job is made only at a place the agent placed or confirmed (lat and lon
sent), never at the geotagger's guess alone, and never off the city's map."""

from __future__ import annotations

from fastapi.testclient import TestClient

from server.auth.models import Role

OUTSIDE = (39.4000, -76.4000)  # north-east of the demo extract: a real place, not on this map


def _case(client: TestClient, submission: str, text: str) -> dict:
    made = client.post("/channels/webform", json={"submission_id": submission, "email": f"{submission}@example.org",
                                                  "text": text})
    assert made.status_code in (200, 201), made.text
    body = made.json()
    assert body["job_id"] is None  # intake hands nothing off here (auto_handoff off)
    return body


def test_a_geotagged_place_must_be_confirmed_before_a_job_is_made(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    agent = auth(Role.agent)
    case_id = _case(client, "c-1", "Streetlight out at 2600 E Baltimore St")["case_id"]
    case = client.get(f"/cases/{case_id}", headers=agent).json()
    assert case["lat"] is not None, case["geotag"]  # the geotagger found it: only a suggestion

    unconfirmed = client.post(f"/cases/{case_id}/handoff", headers=agent)
    assert unconfirmed.status_code == 422
    detail = unconfirmed.json()["detail"]
    assert detail.startswith("lat/lon:") and "confirm" in detail and f"{case['lat']:.5f}" in detail
    assert client.get(f"/cases/{case_id}", headers=agent).json()["status"] != "handed_off"

    confirmed = client.post(f"/cases/{case_id}/handoff", json={"lat": case["lat"], "lon": case["lon"]}, headers=agent)
    assert confirmed.status_code == 201, confirmed.text
    job = confirmed.json()["job"]
    assert (job["lat"], job["lon"]) == (case["lat"], case["lon"])
    after = client.get(f"/cases/{case_id}", headers=agent).json()
    assert after["status"] == "handed_off" and after["job_id"] == job["id"]
    assert after["geotag"]["explanation"].startswith("confirmed by agent")
    again = client.post(f"/cases/{case_id}/handoff", headers=agent)  # a repeated call answers with its job
    assert again.status_code == 200 and again.json()["job"]["id"] == job["id"]


def test_no_place_no_job_until_one_is_placed_and_never_off_the_map(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    agent = auth(Role.agent)
    case_id = _case(client, "c-2", "Rats everywhere behind the houses")["case_id"]
    assert client.get(f"/cases/{case_id}", headers=agent).json()["lat"] is None
    none = client.post(f"/cases/{case_id}/handoff", json={}, headers=agent)
    assert none.status_code == 422 and "has no location yet" in none.json()["detail"]
    off = client.post(f"/cases/{case_id}/handoff", json={"lat": OUTSIDE[0], "lon": OUTSIDE[1]}, headers=agent)
    assert off.status_code == 422 and "outside the service area" in off.json()["detail"]
    assert client.get(f"/cases/{case_id}", headers=agent).json()["job_id"] is None
    placed = client.post(f"/cases/{case_id}/handoff", json={"lat": 39.2860, "lon": -76.5750,
                                                             "address": "behind 2800 E Fairmount Ave"}, headers=agent)
    assert placed.status_code == 201, placed.text
    case = client.get(f"/cases/{case_id}", headers=agent).json()
    assert case["geotag"]["explanation"].startswith("placed by agent")
    assert case["location_text"] == "behind 2800 E Fairmount Ave"
