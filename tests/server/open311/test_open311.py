"""Open311 GeoReport v2: discovery, services, requests (JSON and XML), api keys and the spec's errors."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, func, select

from server.auth.models import Role
from server.cases.models import Case
from server.conversations.models import Message
from server.jobs.models import Job, JobStatus

V2 = "/open311/v2"
# A point on a street inside the demo map (Eastern Ave, Highlandtown).
LAT, LON = 39.2856, -76.5733


def _xml(response) -> ET.Element:
    assert response.headers["content-type"].startswith("text/xml")
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(response.content)


def _counts(app) -> tuple[int, int, int]:
    with Session(app.state.engine) as session:
        return (session.exec(select(func.count()).select_from(Message)).one(),
                session.exec(select(func.count()).select_from(Case)).one(),
                session.exec(select(func.count()).select_from(Job)).one())


# ------------------------------------------------------------------ discovery and services
def test_discovery_json_and_xml(client):
    data = client.get(f"{V2}/discovery.json").json()
    assert data["endpoints"][0]["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert set(data["endpoints"][0]["formats"]) == {"text/xml", "application/json"}
    root = _xml(client.get(f"{V2}/discovery.xml"))
    assert root.tag == "discovery"
    assert [f.text for f in root.find("endpoints/endpoint/formats")] == ["text/xml", "application/json"]


def test_services_json_and_xml(client):
    services = client.get(f"{V2}/services.json").json()
    codes = {s["service_code"]: s for s in services}
    assert all(isinstance(code, str) for code in codes)
    assert codes["102"]["service_name"].startswith("Pothole") and codes["102"]["metadata"] is True
    assert codes["102"]["type"] == "realtime"
    assert "901" not in codes  # billing is no field work: not an Open311 service
    root = _xml(client.get(f"{V2}/services.xml"))
    assert root.tag == "services"
    assert {s.findtext("service_code") for s in root.findall("service")} == set(codes)
    assert root.find("service/metadata").text in ("true", "false")


def test_service_definition_with_attributes(client):
    data = client.get(f"{V2}/services/102.json").json()
    assert data["service_code"] == "102"
    hazard = next(a for a in data["attributes"] if a["code"] == "safety_hazard")
    assert hazard["datatype"] == "singlevaluelist" and {v["key"] for v in hazard["values"]} == {"yes", "no"}
    root = _xml(client.get(f"{V2}/services/102.xml"))
    assert root.tag == "service_definition"
    assert root.find("attributes/attribute/values/value/key").text == "yes"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_unknown_service_code_is_a_404_in_the_spec_format(client, fmt):
    response = client.get(f"{V2}/services/nope.{fmt}")
    assert response.status_code == 404
    if fmt == "json":
        assert response.json()[0]["code"] == 404 and "service_code" in response.json()[0]["description"]
    else:
        root = _xml(response)
        assert root.tag == "errors" and root.find("error/code").text == "404"


def test_unknown_format_is_a_400(client):
    response = client.get(f"{V2}/services.yaml")
    assert response.status_code == 400 and response.json()[0]["code"] == 400


# ------------------------------------------------------------------ api keys
def test_keys_are_admin_only_hashed_and_revocable(client, auth, api_key, app):
    assert client.post("/open311/keys", json={"name": "x"}, headers=auth(Role.agent)).status_code == 403
    listed = client.get("/open311/keys", headers=auth(Role.admin)).json()
    assert len(listed) == 1 and "api_key" not in listed[0] and api_key.startswith(listed[0]["prefix"])
    from server.open311.models import Open311Key

    with Session(app.state.engine) as session:
        stored = session.exec(select(Open311Key)).one()
        assert api_key not in stored.key_hash
    assert client.delete(f"/open311/keys/{listed[0]['id']}", headers=auth(Role.admin)).status_code == 204
    response = client.post(f"{V2}/requests.json", data={"api_key": api_key, "service_code": "102",
                                                       "lat": LAT, "long": LON})
    assert response.status_code == 403 and "revoked" in response.json()[0]["description"]
    assert client.delete("/open311/keys/999", headers=auth(Role.admin)).status_code == 404


# ------------------------------------------------------------------ POST: bad input writes nothing
GOOD = {"service_code": "102", "lat": str(LAT), "long": str(LON), "description": "Deep pothole in the bus lane",
        "email": "resident@example.org"}


@pytest.mark.parametrize(("change", "status", "needle"), [
    ({"api_key": None}, 403, "api_key: required"),
    ({"api_key": "o311_wrong"}, 403, "api_key: not valid"),
    ({"lat": None, "long": None}, 400, "location"),
    ({"service_code": "999"}, 404, "service_code: '999' not found"),  # GeoReport v2: unknown code is a 404
    ({"service_code": None}, 400, "service_code: required"),
    ({"service_code": "901"}, 404, "service_code"),  # billing: not a field service
    ({"description": "x" * 5000}, 400, "description: longer than"),
    ({"lat": "91"}, 400, "lat:"),
    ({"long": "-200"}, 400, "long:"),
    ({"lat": "north"}, 400, "lat:"),
    ({"long": None}, 400, "lat/long"),
    ({"media_url": "javascript:alert(1)"}, 400, "media_url"),
    ({"attribute[safety_hazard]": "maybe"}, 400, "safety_hazard"),
    ({"email": "not an email"}, 400, "email"),
])
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_bad_post_is_the_spec_error_and_writes_nothing(client, app, api_key, change, status, needle, fmt):
    before = _counts(app)
    form = {**GOOD, "api_key": api_key, **change}
    form = {k: v for k, v in form.items() if v is not None}
    response = client.post(f"{V2}/requests.{fmt}", data=form)
    assert response.status_code == status, response.text
    if fmt == "json":
        errors = response.json()
    else:
        root = _xml(response)
        assert root.tag == "errors"
        errors = [{"code": int(e.findtext("code")), "description": e.findtext("description")}
                  for e in root.findall("error")]
    assert errors[0]["code"] == status and needle in errors[0]["description"]
    assert _counts(app) == before


@pytest.mark.parametrize(("ctype", "body", "needle"), [
    ("application/json", b'{"service_code": "102", "lat": ', "malformed JSON"),
    ("application/json", b'["a"]', "JSON object"),
    ("text/xml", b"<request><service_code>102</service_code><lat>39.2", "malformed XML"),
    ("text/xml", b'<!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>', "DOCTYPE"),
    ("application/octet-stream", b"\x00\x01", "content type"),
])
def test_bad_bodies_are_400(client, app, ctype, body, needle):
    before = _counts(app)
    response = client.post(f"{V2}/requests.json", content=body, headers={"content-type": ctype})
    assert response.status_code == 400 and needle in response.json()[0]["description"]
    assert _counts(app) == before


# ------------------------------------------------------------------ POST and GET round trip
@pytest.mark.slow
def test_post_json_then_get_json_and_xml(client, app, api_key):
    response = client.post(f"{V2}/requests.json", data={**GOOD, "api_key": api_key,
                                                        "attribute[safety_hazard]": "yes",
                                                        "media_url": "https://example.org/p.jpg"})
    assert response.status_code == 201, response.text
    created = response.json()[0]
    request_id = created["service_request_id"]
    assert request_id and "token" not in created  # GeoReport v2: no token once the id is known
    with Session(app.state.engine) as session:
        token = session.exec(select(Message.external_id).where(Message.channel == "open311")).one()
    assert client.get(f"{V2}/tokens/{token}.json").json() == [{"service_request_id": request_id, "token": token}]
    item = client.get(f"{V2}/requests/{request_id}.json").json()[0]
    assert item["service_code"] == "102" and isinstance(item["service_code"], str)
    assert item["status"] == "open" and item["status_notes"]
    assert item["description"].startswith("Deep pothole") and item["media_url"] == "https://example.org/p.jpg"
    assert abs(item["lat"] - LAT) < 0.01 and abs(item["long"] - LON) < 0.01
    assert item["requested_datetime"].endswith("Z")
    assert [r["service_request_id"] for r in client.get(f"{V2}/requests.json", params={"status": "open"}).json()] \
        == [request_id]
    root = _xml(client.get(f"{V2}/requests/{request_id}.xml"))
    assert root.tag == "service_requests" and root.find("request/service_request_id").text == request_id
    assert root.find("request/service_code").text == "102"

    # The job's ETA is the expected_datetime; a completed job closes the request.
    with Session(app.state.engine) as session:
        case = session.get(Case, int(request_id))
        assert case.category == "pothole" and case.triage
        if case.job_id is None:
            job = Job(title="pothole", lat=LAT, lon=LON, category="pothole")
            session.add(job)
            session.flush()
            case.job_id = job.id
            session.add(case)
        job = session.get(Job, case.job_id)
        eta = datetime(2030, 1, 2, 15, 30, tzinfo=UTC)
        job.eta_at, job.status = eta, JobStatus.assigned
        session.add(job)
        session.commit()
        job_id = job.id
    item = client.get(f"{V2}/requests/{request_id}.json").json()[0]
    assert item["expected_datetime"] == "2030-01-02T15:30:00Z" and "assigned" in item["status_notes"]
    assert client.get(f"{V2}/requests.json", params={"status": "closed"}).json() == []
    with Session(app.state.engine) as session:
        job = session.get(Job, job_id)
        job.status = JobStatus.completed
        session.add(job)
        session.commit()
    closed = client.get(f"{V2}/requests.json", params={"status": "closed"}).json()
    assert [r["service_request_id"] for r in closed] == [request_id]
    assert closed[0]["status"] == "closed" and closed[0]["expected_datetime"] is None
    assert client.get(f"{V2}/requests.json", params={"status": "open"}).json() == []


@pytest.mark.slow
def test_post_xml_with_address_and_list_filters(client, app, api_key):
    body = (f"<request><api_key>{api_key}</api_key><service_code>305</service_code>"
            "<address_string>Eastern Ave and S Conkling St</address_string>"
            "<description>Graffiti all over the bus shelter</description></request>").encode()
    response = client.post(f"{V2}/requests.xml", content=body, headers={"content-type": "text/xml"})
    assert response.status_code == 201, response.text
    graffiti_id = _xml(response).find("request/service_request_id").text
    form = {**GOOD, "api_key": api_key}
    pothole_id = client.post(f"{V2}/requests.json", data=form).json()[0]["service_request_id"]
    assert {graffiti_id, pothole_id} <= {r["service_request_id"] for r in client.get(f"{V2}/requests.json").json()}
    only = client.get(f"{V2}/requests.json", params={"service_code": "305"}).json()
    assert [r["service_request_id"] for r in only] == [graffiti_id]
    both = client.get(f"{V2}/requests.json", params={"service_request_id": f"{graffiti_id},{pothole_id}"}).json()
    assert {r["service_request_id"] for r in both} == {graffiti_id, pothole_id}
    page = client.get(f"{V2}/requests.json", params={"page_size": 1, "page": 2}).json()
    assert len(page) == 1
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert client.get(f"{V2}/requests.json", params={"start_date": future}).json() == []
    xml_list = _xml(client.get(f"{V2}/requests.xml", params={"service_code": "305"}))
    assert [r.findtext("service_request_id") for r in xml_list.findall("request")] == [graffiti_id]
    # Posting is idempotent per token; a retried identical POST makes a new request with a new token.
    assert json.loads(client.get(f"{V2}/requests/{graffiti_id}.json").content)[0]["service_code"] == "305"


@pytest.mark.parametrize(("params", "needle"), [
    ({"start_date": "yesterday"}, "start_date"),
    ({"status": "pending"}, "status"),
    ({"page_size": "0"}, "page_size"),
    ({"service_request_id": "abc"}, "service_request_id"),
    ({"start_date": "2024-02-01T00:00:00Z", "end_date": "2024-01-01T00:00:00Z"}, "end_date"),
])
def test_bad_get_requests_filters(client, params, needle):
    response = client.get(f"{V2}/requests.json", params=params)
    assert response.status_code == 400 and needle in response.json()[0]["description"]


@pytest.mark.parametrize("path", ["requests/12345.json", "requests/abc.xml", "tokens/nope.json"])
def test_missing_request_or_token_is_404(client, path):
    response = client.get(f"{V2}/{path}")
    assert response.status_code == 404
    if path.endswith(".json"):
        assert response.json()[0]["code"] == 404
    else:
        assert _xml(response).find("error/code").text == "404"


@pytest.mark.slow
def test_address_string_is_where_the_problem_is_and_a_wrong_street_waits_for_a_person(client, app, api_key):
    """An Open311 request carrying only an address: a well-resolved address_string is a statement of the place
    (dispatched at its own calibrated confidence, not capped at 50% as a customer's address on file); an address
    the map only matches approximately (a misspelt street that may be another one) is not dispatched."""
    good = {"api_key": api_key, "service_code": "102", "address_string": "3400 EASTERN AVE, BALTIMORE, MD 21224",
            "description": "Deep pothole in the bus lane", "email": "resident@example.org"}
    response = client.post(f"{V2}/requests.json", data=good)
    assert response.status_code == 201, response.text
    wrong = {**good, "address_string": "3400 Estern Avenue", "email": "other@example.org",
             "description": "Another pothole"}
    assert client.post(f"{V2}/requests.json", data=wrong).status_code == 201
    with Session(app.state.engine) as session:
        cases = session.exec(select(Case).order_by(Case.id)).all()
        assert len(cases) == 2
        first, second = cases
        assert first.geotag["kind"] == "stated_address" and first.geotag["confident"] is True
        assert first.geotag["confidence"] >= 0.9 and first.job_id is not None
        job = session.get(Job, first.job_id)
        assert abs(job.lat - 39.2865) < 0.002 and abs(job.lon - -76.5703) < 0.002
        assert second.geotag["confident"] is False and second.job_id is None
        assert "approximately" in second.geotag["explanation"]


def test_public_description_never_holds_access_notes() -> None:
    from server.open311.service import PRIVATE_MARK, public_description

    assert public_description("Streetlight out" + PRIVATE_MARK + "gate code 4711") == "Streetlight out"
    assert public_description("Streetlight out Access: gate code 4711") == "Streetlight out"  # stored before
    assert public_description("Streetlight out on Main St") == "Streetlight out on Main St"
