"""Issue 25, robustness and authorization leaks: bad input is a 4xx naming the field (never a 500), routes are drawn
whatever street point a job lies on, and nobody learns or changes what their role does not give them."""

from __future__ import annotations

import base64
import random
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
import shapely
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from server.auth.models import Role
from server.config import Settings
from tests.conftest import WORKING_TZ
from tests.security.conftest import World, _user, build_world
from tests.server.conftest import TECH_BODY, sign_in
from tests.server.dispatch.conftest import CITY_CACHE

DEMO_OSM = Path(__file__).resolve().parents[2] / "server" / "demo" / "data" / "baltimore_central.osm.bz2"
# A destination the random search below found (seed 0): it lies within a metre of a junction at the end of a one-way
# street, where the old drawing looked for a street leaving through that junction and raised StopIteration.
JUNCTION_POINT = (39.2807283977384, -76.58682929628371)
HOME = (39.2833, -76.5930)


# --- 1. routes on every street point (Medium 4) ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_city():  # type: ignore[no-untyped-def]
    from geodata import load_city

    return load_city(DEMO_OSM, CITY_CACHE, with_gazetteer=False)


def test_a_route_is_drawn_to_any_random_destination(demo_city):  # type: ignore[no-untyped-def]
    """As the prober did: many random destinations in the service area, driven to and from; every leg that the
    network can route is drawn (some of these once raised StopIteration), none raises anything but a GeodataError."""
    from geodata import GeodataError

    rng = random.Random(0)
    min_lon, min_lat, max_lon, max_lat = demo_city.service_area.bounds
    points: list[tuple[float, float]] = []
    while len(points) < 3000:
        lon, lat = rng.uniform(min_lon, max_lon), rng.uniform(min_lat, max_lat)
        if demo_city.service_area.contains(shapely.Point(lon, lat)):
            points.append((lat, lon))
    assert JUNCTION_POINT in points
    drawn = 0
    for point in points:
        try:
            legs = demo_city.network.route_geojson([HOME, point, HOME])["features"]
        except GeodataError:  # off the road or cut off: the API draws that leg straight (server/plans)
            continue
        drawn += 1
        for leg in legs:
            coords = leg["geometry"]["coordinates"]
            assert len(coords) >= 2 and leg["properties"]["travel_time_s"] >= 0
            assert leg["properties"].get("on_streets", True), (point, leg)  # a stop at a junction is joined through it
    assert drawn > 2000


@pytest.fixture
def city_settings(sqlite_factory, tmp_path: Path) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(database_url=sqlite_factory.new_url(), data_dir=tmp_path, secret_key="sec-secret-" + "y" * 32,
                    load_city=True, GROUNDCREW_CACHE_DIR=CITY_CACHE, dispatch_background=False,
                    dispatch_morning_at=None, timezone=WORKING_TZ)  # a working day under way whenever the suite runs


def test_map_routes_and_technician_route_answer_with_a_job_on_a_junction_point(city_settings):  # type: ignore[no-untyped-def]
    from server.app import create_app
    from server.jobs.models import Job
    from server.plans.models import Plan, PlanStatus, PlanStop

    app = create_app(city_settings)
    with TestClient(app) as client:
        _user(app, "dispatcher", Role.dispatcher)
        staff = sign_in(client, "dispatcher")
        tech_id = client.post("/technicians", headers=staff, json={
            **TECH_BODY, "home_lat": HOME[0], "home_lon": HOME[1]}).json()["id"]
        job = client.post("/jobs", headers=staff, json={
            "title": "Pothole", "category": "pothole", "lat": JUNCTION_POINT[0], "lon": JUNCTION_POINT[1]})
        assert job.status_code == 201, job.text
        with Session(app.state.engine) as session:
            plan = Plan(version=1, status=PlanStatus.active)
            session.add(plan)
            session.flush()
            now = datetime.now(UTC)
            session.add(PlanStop(plan_id=plan.id, technician_id=tech_id, job_id=job.json()["id"], sequence=0,
                                 arrival_at=now, start_at=now, end_at=now))
            row = session.get(Job, job.json()["id"])
            row.assigned_technician_id, row.status = tech_id, "assigned"
            session.add(row)
            session.commit()
        routes = client.get("/map/routes", headers=staff)
        assert routes.status_code == 200, routes.text
        feature = routes.json()["features"][0]
        assert feature["properties"]["on_streets"] is True
        assert all(len(line) >= 2 for line in feature["geometry"]["coordinates"])
        day = client.get(f"/technicians/{tech_id}/route", headers=staff)
        assert day.status_code == 200, day.text
        assert len(day.json()["geometry"]["coordinates"]) == 2
    app.state.engine.dispose()


# --- 2. dispatch status is the dispatcher's (Medium 10) --------------------------------------------------------------

def test_an_agent_cannot_change_a_technicians_dispatch_status(sec_client: TestClient, world: World):
    tech = world.own["technician_id"]
    refused = sec_client.post(f"/technicians/{tech}/dispatch-status", headers=world.headers["agent"],
                              json={"status": "off_sick"})
    assert refused.status_code == 403, refused.text
    assert "dispatcher" in refused.json()["detail"]
    job = sec_client.get(f"/jobs/{world.own['job_id']}", headers=world.headers["dispatcher"]).json()
    assert job["assigned_technician_id"] == tech  # nothing went back to the pool
    allowed = sec_client.post(f"/technicians/{tech}/dispatch-status", headers=world.headers["dispatcher"],
                              json={"status": "running_late", "late_min": 10})
    assert allowed.status_code == 200, allowed.text
    own = sec_client.post(f"/technicians/{tech}/dispatch-status", headers=world.headers["technician"],
                          json={"status": "running_late", "late_min": 5})
    assert own.status_code == 200, own.text


# --- 3. 500s become 4xx naming the field -----------------------------------------------------------------------------

@pytest.mark.parametrize("body, field", [({"title": None}, "title"), ({"lat": None}, "lat"),
                                         ({"category": None}, "category"), ({"lon": None}, "lon"),
                                         ({"required_skills": None}, "required_skills")])
def test_a_null_in_a_job_patch_is_a_422_naming_the_field(sec_client: TestClient, world: World, body, field):
    r = sec_client.patch(f"/jobs/{world.own['job_id']}", json=body, headers=world.headers["dispatcher"])
    assert r.status_code == 422, r.text
    assert field in r.json()["detail"]


@pytest.mark.parametrize("body, field", [({"name": None}, "name"), ({"home_lat": None}, "home_lat"),
                                         ({"shift_start": None}, "shift_start")])
def test_a_null_in_a_technician_patch_is_a_422_naming_the_field(sec_client: TestClient, world: World, body, field):
    r = sec_client.patch(f"/technicians/{world.own['technician_id']}", json=body,
                         headers=world.headers["dispatcher"])
    assert r.status_code == 422, r.text
    assert field in r.json()["detail"]


@pytest.mark.parametrize("shift", [{"shift_end": 0}, {"shift_end": "18:00:00+02:00"},
                                   {"shift_start": "08:00:00Z"},
                                   {"breaks": [{"earliest": "11:30+02:00", "latest": "14:00", "duration_min": 30}]}])
def test_a_technician_shift_must_be_a_plain_local_time(sec_client: TestClient, world: World, shift):
    r = sec_client.post("/technicians", json={**TECH_BODY, **shift}, headers=world.headers["dispatcher"])
    assert r.status_code == 422, r.text
    assert next(iter(shift)) in r.json()["detail"]
    patched = sec_client.patch(f"/technicians/{world.own['technician_id']}", json=shift,
                               headers=world.headers["dispatcher"])
    assert patched.status_code == 422, patched.text


def test_a_null_customer_name_is_a_422_naming_the_field(sec_client: TestClient, world: World):
    r = sec_client.patch(f"/customers/{world.own['customer_id']}", json={"display_name": None},
                         headers=world.headers["agent"])
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith("display_name:")
    cleared = sec_client.patch(f"/customers/{world.own['customer_id']}", json={"address": None},
                               headers=world.headers["agent"])
    assert cleared.status_code == 200 and cleared.json()["address"] is None


def test_an_identity_handle_that_normalizes_to_nothing_is_a_422(sec_client: TestClient, world: World):
    r = sec_client.post(f"/customers/{world.own['customer_id']}/identities", headers=world.headers["agent"],
                        json={"channel": "sms", "handle": "abc"})
    assert r.status_code == 422, r.text
    assert "handle" in r.json()["detail"]
    ok = sec_client.post(f"/customers/{world.own['customer_id']}/identities", headers=world.headers["agent"],
                         json={"channel": "sms", "handle": "+1 410 555 0100"})
    assert ok.status_code == 201 and ok.json()["handle"] == "+14105550100"


def test_explain_answers_for_a_job_of_a_technician_whose_day_is_locked(city_settings):  # type: ignore[no-untyped-def]
    from server.app import create_app

    app = create_app(city_settings)
    with TestClient(app) as client:
        world = build_world(client, app)
        staff = world.headers["dispatcher"]
        locked = client.post("/dispatch/overrides/commit", headers=staff, json={
            "action": "lock", "technician_id": world.own["technician_id"]})
        assert locked.status_code == 200, locked.text
        r = client.get(f"/dispatch/jobs/{world.own['job_id']}/explain", headers=staff)
        assert r.status_code == 200, r.text
        assert "lock" in r.json()["explanation"]
    app.state.engine.dispose()


@pytest.mark.parametrize("path", ["/static/index.html%00.js", "/static/%00", "/static/assets/x%00.css"])
def test_a_nul_byte_in_a_static_path_is_a_404(sec_client: TestClient, path: str):
    r = sec_client.get(path)
    assert r.status_code == 404, r.text
    assert "static file" in r.json()["detail"]


def test_a_not_null_violation_is_a_422_naming_the_column(database_url: str, tmp_path: Path):
    """Through the app's IntegrityError answer (server/core/errors.py) on both databases."""
    from sqlalchemy.exc import IntegrityError

    from server.core.db import make_engine
    from server.core.errors import integrity_error_answer
    from server.technicians.models import Technician

    engine = make_engine(Settings(database_url=database_url, data_dir=tmp_path, load_city=False))
    with Session(engine) as session:
        tech = Technician(name="Ana", home_lat=39.28, home_lon=-76.59)
        tech.name = None  # type: ignore[assignment]
        session.add(tech)
        with pytest.raises(IntegrityError) as caught:
            session.flush()
    engine.dispose()
    status, detail = integrity_error_answer(caught.value)
    assert status == 422 and detail.startswith("name:"), detail
    duplicate = IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed: identity.channel, identity.handle"))
    assert integrity_error_answer(duplicate)[0] == 409


# --- 4. what a caller may see ----------------------------------------------------------------------------------------

def test_the_customer_360_shows_a_technician_only_their_own_jobs(sec_client: TestClient, sec_app, world: World):
    from server.jobs.models import JobReport

    with Session(sec_app.state.engine) as session:  # tech A's customer also reported tech B's job
        session.add(JobReport(job_id=world.other["job_id"], customer_id=world.own["customer_id"], channel="twitter"))
        session.commit()
    mine = sec_client.get(f"/customers/{world.own['customer_id']}/360", headers=world.headers["technician"])
    assert mine.status_code == 200, mine.text
    assert [j["id"] for j in mine.json()["jobs"]] == [world.own["job_id"]]
    staff = sec_client.get(f"/customers/{world.own['customer_id']}/360", headers=world.headers["agent"]).json()
    assert {j["id"] for j in staff["jobs"]} == {world.own["job_id"], world.other["job_id"]}


def test_a_job_not_yours_is_the_same_404_as_a_job_that_does_not_exist(sec_client: TestClient, world: World):
    tech = world.headers["technician"]
    missing = sec_client.post("/jobs/999999/status", json={"status": "en_route"}, headers=tech)
    not_mine = sec_client.post(f"/jobs/{world.other['job_id']}/status", json={"status": "en_route"}, headers=tech)
    assert missing.status_code == not_mine.status_code == 404
    assert missing.json()["detail"].replace("999999", "N") == not_mine.json()["detail"].replace(
        str(world.other["job_id"]), "N")
    for path in ("/jobs/{}", "/jobs/{}/events", "/jobs/{}/reports", "/jobs/{}/attachments"):
        gone = sec_client.get(path.format(999999), headers=tech)
        other = sec_client.get(path.format(world.other["job_id"]), headers=tech)
        assert gone.status_code == other.status_code == 404, (path, gone.text, other.text)


def test_an_idempotency_replay_is_checked_for_ownership_first(sec_client: TestClient, world: World):
    body = {"status": "en_route", "idempotency_key": "outbox-b-1"}
    first = sec_client.post(f"/jobs/{world.other['job_id']}/status", json=body, headers=world.headers["dispatcher"])
    assert first.status_code == 200, first.text
    replay = sec_client.post(f"/jobs/{world.other['job_id']}/status", json=body, headers=world.headers["technician"])
    assert replay.status_code == 404, replay.text
    assert "Idempotent-Replay" not in replay.headers


def test_prometheus_metrics_carry_no_technician_names(sec_client: TestClient, sec_app, world: World):
    """Prometheus scrapes without a login by default: the per-technician gauges carry ids, not names."""
    from server.plans.models import Plan, PlanStatus

    with Session(sec_app.state.engine) as session:
        session.add(Plan(version=1, status=PlanStatus.active))
        session.commit()
    body = sec_client.get("/metrics")
    assert body.status_code == 200
    assert "Tech A" not in body.text and "Tech B" not in body.text
    assert f'technician_id="{world.own["technician_id"]}"' in body.text


def _complete(client: TestClient, world: World) -> dict:
    tech = world.headers["technician"]
    for step in ("en_route", "on_site"):
        moved = client.post(f"/jobs/{world.own['job_id']}/status", json={"status": step}, headers=tech)
        assert moved.status_code == 200, moved.text
    photo = base64.b64encode(b"\x89PNG\r\n\x1a\n the lamp, after").decode()
    done = client.post(f"/jobs/{world.own['job_id']}/status", headers=tech, json={
        "status": "completed", "notes": "new lamp", "photos": [{"filename": "after.png", "content_base64": photo}],
        "signature": {"filename": "sig.png", "content_base64": photo}, "signed_by": "Sam"})
    assert done.status_code == 200, done.text
    return done.json()


def test_uploads_and_the_sqlite_file_are_private_to_the_server(sec_client: TestClient, sec_settings: Settings,
                                                                world: World):
    _complete(sec_client, world)
    folder = sec_settings.data_dir / "uploads" / "jobs" / str(world.own["job_id"])
    for path in [*folder.iterdir(), folder, folder.parent, folder.parent.parent]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, (path, oct(mode))
    db_file = Path(sec_settings.resolved_database_url.removeprefix("sqlite:///"))
    assert stat.S_IMODE(db_file.stat().st_mode) & 0o077 == 0, oct(db_file.stat().st_mode)


def test_completion_photos_and_signature_are_served_to_those_who_may_see_the_job(sec_client: TestClient,
                                                                                  world: World):
    _complete(sec_client, world)
    job_id = world.own["job_id"]
    listing = sec_client.get(f"/jobs/{job_id}/attachments", headers=world.headers["technician"])
    assert listing.status_code == 200, listing.text
    names = {a["kind"]: a["name"] for a in listing.json()}
    assert names == {"photo": "photo0-after.png", "signature": "signature-sig.png"}
    for who in ("technician", "dispatcher", "agent", "admin"):
        got = sec_client.get(f"/jobs/{job_id}/attachments/{names['photo']}", headers=world.headers[who])
        assert got.status_code == 200 and got.content == b"\x89PNG\r\n\x1a\n the lamp, after", (who, got.text)
        assert got.headers["content-type"] == "image/png"
    assert sec_client.get(f"/jobs/{job_id}/attachments/{names['photo']}").status_code == 401
    assert sec_client.get(f"/jobs/{job_id}/attachments/..%2F..%2Fsecret_key",
                          headers=world.headers["admin"]).status_code == 404
    assert sec_client.get(f"/jobs/{job_id}/attachments/nope.png", headers=world.headers["admin"]).status_code == 404


def test_an_attachment_of_a_job_not_yours_is_a_404(sec_client: TestClient, sec_app, world: World):
    _complete(sec_client, world)
    _user(sec_app, "techb", Role.technician, world.other["technician_id"])
    other = sign_in(sec_client, "techb")
    r = sec_client.get(f"/jobs/{world.own['job_id']}/attachments/photo0-after.png", headers=other)
    assert r.status_code == 404
    assert sec_client.get(f"/jobs/{world.own['job_id']}/attachments", headers=other).status_code == 404


# --- 5. one closing message per reporter -----------------------------------------------------------------------------

def test_each_reporter_gets_exactly_one_closing_message(sec_client: TestClient, sec_app, world: World):
    from server.conversations.models import Direction, Message

    _complete(sec_client, world)
    with Session(sec_app.state.engine) as session:
        out = session.exec(select(Message).where(Message.conversation_id == world.own["conversation_id"],
                                                 Message.direction == Direction.outbound)).all()
    closing = [m for m in out if "fixed" in m.text or "closing" in m.text or "finished" in m.text]
    assert len(closing) == 1, [m.text for m in out]
