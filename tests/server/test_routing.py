"""FeatureRouter (server/core/routing.py): a router turns away paths none of its routes can match from a set
lookup, and routing through the whole app still finds every route, 405s and 404s."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRouter
from fastapi.testclient import TestClient
from starlette.routing import Match

from server.core.routing import FeatureRouter


def _scope(path: str, method: str = "GET") -> dict:
    return {"type": "http", "path": path, "root_path": "", "method": method, "headers": [], "query_string": b""}


def test_a_router_knows_the_first_segments_of_its_routes_and_sees_routes_added_later():
    router = FeatureRouter(prefix="/jobs")

    @router.get("")
    def board() -> list:
        return []

    assert router.first_segments() == {"jobs"}

    other = FeatureRouter()

    @other.get("/auth/token")
    def token() -> dict:
        return {}

    assert other.first_segments() == {"auth"}

    @other.get("/users/me")
    def me() -> dict:
        return {}

    assert other.first_segments() == {"auth", "users"}


def test_a_foreign_path_is_turned_away_without_trying_a_single_route(monkeypatch):
    """What the router is for: a plain APIRouter tries each of its routes against "/open311/..."."""
    app = FastAPI()
    jobs = FeatureRouter(prefix="/jobs")

    @jobs.get("/{job_id}")
    def job(job_id: int) -> dict:
        return {"job": job_id}

    app.include_router(jobs)
    route = jobs.routes[0]
    tried: list[str] = []
    original = type(route).matches
    monkeypatch.setattr(route, "matches", lambda scope: (tried.append(scope["path"]), original(route, scope))[1])
    client = TestClient(app)
    assert client.get("/open311/v2/services.json").status_code == 404
    assert tried == []
    assert client.get("/jobs/3").json() == {"job": 3}
    assert "/jobs/3" in tried
    assert jobs.matches(_scope("/open311/v2/services.json")) == (Match.NONE, {})


def test_a_parameter_in_the_first_segment_means_any_path_may_match():
    router = FeatureRouter()

    @router.get("/{kind}/latest")
    def latest(kind: str) -> dict:
        return {"kind": kind}

    assert router.first_segments() is None
    app = FastAPI()
    app.include_router(router)
    assert TestClient(app).get("/anything/latest").json() == {"kind": "anything"}


def test_through_an_app_routes_are_found_wrong_methods_are_405_and_unknown_paths_404():
    app = FastAPI()
    jobs, open311, plain = FeatureRouter(prefix="/jobs"), FeatureRouter(prefix="/open311/v2"), APIRouter()

    @jobs.get("/{job_id}")
    def job(job_id: int) -> dict:
        return {"job": job_id}

    @open311.get("/services.json")
    def services() -> list:
        return ["streetlight"]

    @plain.get("/health")
    def health() -> dict:
        return {"ok": True}

    for router in (jobs, open311, plain):
        app.include_router(router)
    client = TestClient(app)
    assert client.get("/jobs/7").json() == {"job": 7}
    assert client.get("/open311/v2/services.json").json() == ["streetlight"]
    assert client.get("/health").json() == {"ok": True}
    assert client.post("/open311/v2/services.json").status_code == 405
    assert client.get("/open311/v2/nothing.json").status_code == 404
    assert client.get("/elsewhere").status_code == 404


def test_the_app_still_answers_on_every_feature_path(client):
    assert client.get("/open311/v2/services.json").status_code == 200
    assert client.get("/jobs").status_code == 401  # found, and asks for a token
    assert client.get("/technicians").status_code == 401
    assert client.delete("/open311/v2/services.json").status_code == 405
    assert client.get("/no-such-feature").status_code == 404
