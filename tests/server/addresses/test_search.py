"""Staff address search (`GET /addresses/search`): the complaint geotagger answering a person who types a place, for
hand-off, job edits and technicians' home bases."""

from __future__ import annotations

from geodata.projection import haversine_m
from server.auth.models import Role


def test_an_intersection_is_found_where_its_streets_cross(client, auth):
    got = client.get("/addresses/search", params={"q": "E Baltimore St & N Broadway"}, headers=auth(Role.dispatcher))
    assert got.status_code == 200, got.text
    best = got.json()[0]
    assert best["kind"] == "intersection" and best["inside_service_area"] is True
    # Broadway crosses Baltimore St at about (39.2915, -76.5940); within 60 m is the same corner
    assert float(haversine_m(best["lat"], best["lon"], 39.2915, -76.5940)) < 60
    assert 0 < best["confidence"] <= 1 and best["label"]


def test_answers_are_distinct_places_best_first_and_capped(client, auth):
    params = {"q": "1600 E Baltimore St near Patterson Park", "limit": 3}
    got = client.get("/addresses/search", params=params, headers=auth(Role.agent)).json()
    assert len(got) <= 3
    assert [m["confidence"] for m in got] == sorted((m["confidence"] for m in got), reverse=True)
    for i, a in enumerate(got):
        for b in got[i + 1:]:
            assert float(haversine_m(a["lat"], a["lon"], b["lat"], b["lon"])) >= 25


def test_nothing_known_is_an_empty_list_not_a_guess(client, auth):
    got = client.get("/addresses/search", params={"q": "zzqx blorf"}, headers=auth(Role.dispatcher))
    assert got.status_code == 200 and got.json() == []


def test_staff_only_and_bad_input_is_refused(client, auth):
    assert client.get("/addresses/search", params={"q": "Charles St"}).status_code == 401
    assert client.get("/addresses/search", params={"q": "Charles St"},
                      headers=auth(Role.technician)).status_code == 403
    assert client.get("/addresses/search", params={"q": "x"}, headers=auth(Role.dispatcher)).status_code == 422
    assert client.get("/addresses/search", params={"q": "a" * 301}, headers=auth(Role.dispatcher)).status_code == 422
