"""Open311 with real clients against a real server: uvicorn serving the app on a loopback port, spoken to over
HTTP by PyPI's ``georeport`` 0.3.1 (an Open311 GeoReport v2 client) and by requests made exactly as FixMyStreet's
client makes them.

georeport 0.3.1 has methods for the service list, a service definition, the request list and one request (JSON,
or XML parsed with xmltodict); it has none for discovery, POST or FixMyStreet's updates extension. Those are made
with ``requests`` (the HTTP library georeport itself uses) with the parameters of mysociety/fixmystreet
perllib/Open311.pm: ``_populate_service_request_params`` (POST requests.xml), ``_add_photos_to_upload`` (photos
as multipart file parts ``photo1``...), ``get_service_request_updates`` (GET servicerequestupdates.xml with
start_date, end_date and api_key) and ``_populate_service_request_update_params`` (POST
servicerequestupdates.xml); answers are read the way its ``_get_xml_object`` reads them (XML::Simple with
ForceArray on the group tags: ``service_requests/request``, ``service_request_updates/request_update``...).

Specifications: http://wiki.open311.org/GeoReport_v2 and
https://github.com/mysociety/fixmystreet/wiki/Open311-FMS---Complete-Spec."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
import uvicorn
import xmltodict
from georeport import GeoReport
from sqlmodel import Session, select

from server.cases.models import Case
from server.conversations.models import Direction, Message
from server.open311 import service as open311
from tests.server.open311.conftest import LAT, LON, PNG, make_request, notice

# Open311.pm _get_xml_object: GroupTags/ForceArray, so that one item is a list as well.
GROUP_TAGS = ("service", "attribute", "value", "request", "error", "request_update", "group")


def fms_xml(text: bytes) -> dict:
    """An XML answer the way FixMyStreet reads it: the root's children, group tags always lists."""
    parsed = xmltodict.parse(text, force_list=GROUP_TAGS)
    (root,) = parsed.values()
    return root or {}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live(app, monkeypatch) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The app served by uvicorn on 127.0.0.1 (a thread of this process, so the test can look into its
    database); its Open311 root URL."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="open311-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 120  # a start-up bound, not a speed assertion
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/open311/v2"
    server.should_exit = True
    thread.join(timeout=60)


@pytest.fixture
def key(app) -> str:  # type: ignore[no-untyped-def]
    with Session(app.state.engine) as session:
        _row, plaintext = open311.issue_key(session=session, name="FixMyStreet", user_id=None)
        session.commit()
    return plaintext


def test_discovery_services_and_definition(live):
    discovery = requests.get(f"{live}/discovery.json", timeout=30)
    assert discovery.status_code == 200
    endpoint = discovery.json()["endpoints"][0]
    assert endpoint["url"] == live + "/" and endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert fms_xml(requests.get(f"{live}/discovery.xml", timeout=30).content)["endpoints"]["endpoint"]["formats"] \
        == {"format": ["text/xml", "application/json"]}

    for fmt in ("json", "xml"):
        client = GeoReport(live, output_format=fmt)
        services = client.get_service_list()
        codes = {s["service_code"]: s for s in services}
        assert codes["102"]["service_name"].startswith("Pothole") and "901" not in codes
        definition = client.get_service_definition("102")
        assert definition["service_code"] == "102"
        attributes = definition["attributes"] if fmt == "json" else definition["attributes"]["attribute"]
        assert {a["code"] for a in attributes} == {"safety_hazard", "access_notes"}
    with pytest.raises(requests.HTTPError) as missing:
        GeoReport(live, output_format="xml").get_service_definition("999")
    assert missing.value.response.status_code == 404
    assert fms_xml(missing.value.response.content)["error"][0]["code"] == "404"


@pytest.mark.slow
def test_post_get_and_list(live, app, key):
    """A request posted as FixMyStreet posts it, then read back with georeport, one by one and in lists."""
    form = {"api_key": key, "service_code": "102", "description": "Pothole\n\nDeep hole in the bus lane\n\n"
            "https://www.fixmystreet.com/report/1", "first_name": "Jo", "last_name": "Smith",
            "email": "jo@example.org", "lat": str(LAT), "long": str(LON)}
    posted = requests.post(f"{live}/requests.xml", data=form, timeout=120)
    assert posted.status_code == 201, posted.text
    request = fms_xml(posted.content)["request"][0]
    request_id = request["service_request_id"]  # what send_service_request returns: an id, so no token polling
    assert request_id.isdigit() and "token" not in request

    with_photo = requests.post(f"{live}/requests.xml", data={**form, "service_code": "305", "description": "Tags"},
                               files={"photo1": ("1.0.full.png", PNG, "image/png")}, timeout=120)
    assert with_photo.status_code == 201, with_photo.text
    photo_id = fms_xml(with_photo.content)["request"][0]["service_request_id"]
    old_id = make_request(app, sent_at=datetime.now(UTC) - timedelta(days=120))

    for fmt in ("json", "xml"):
        client = GeoReport(live, output_format=fmt)
        one = client.get_service_request(request_id)
        assert one["service_request_id"] == request_id and one["service_code"] == "102"
        assert one["status"] == "open" and one["description"].startswith("Pothole")
        assert float(one["lat"]) == pytest.approx(LAT, abs=0.01)
        photo = client.get_service_request(photo_id)
        assert photo["media_url"].startswith(live + "/media/")
        assert requests.get(photo["media_url"], timeout=30).content == PNG

        listed = client.get_service_requests()  # the default: the last 90 days
        listed = listed if isinstance(listed, list) else [listed]  # xmltodict: one item is no list
        assert {r["service_request_id"] for r in listed} == {request_id, photo_id}
        only = client.get_service_requests(service_code="102", status="open")
        only = only if isinstance(only, list) else [only]
        assert [r["service_request_id"] for r in only] == [request_id]
        old = client.get_service_requests(start_date=(datetime.now(UTC) - timedelta(days=150)).isoformat(),
                                          end_date=(datetime.now(UTC) - timedelta(days=100)).isoformat())
        old = old if isinstance(old, list) else [old]
        assert [r["service_request_id"] for r in old] == [str(old_id)]
        by_id = client.get_service_requests(service_request_id=f"{request_id},{old_id}")
        assert {r["service_request_id"] for r in by_id} == {request_id, str(old_id)}
    with pytest.raises(requests.HTTPError) as unknown:
        GeoReport(live).get_service_requests(service_code="999")
    assert unknown.value.response.status_code == 404


def test_updates_both_ways(live, app, key):
    """FixMyStreet fetches our notices on its reports (the last hours) and sends its users' comments."""
    now = datetime.now(UTC)
    case_id = make_request(app, sent_at=now - timedelta(hours=3))
    eta = notice(app, case_id, "Sam is on the way, arriving about 14:00–14:30.", "eta",
                 sent_at=now - timedelta(minutes=50))
    fixed = notice(app, case_id, "Update on your report: the pothole has been fixed. Thank you for telling us.",
                   "job_closed", sent_at=now - timedelta(minutes=10))
    window = {"api_key": key, "start_date": (now - timedelta(hours=2)).isoformat(timespec="seconds"),
              "end_date": (now + timedelta(minutes=1)).isoformat(timespec="seconds")}
    fetched = requests.get(f"{live}/servicerequestupdates.xml", params=window, timeout=30)
    assert fetched.status_code == 200, fetched.text
    updates = fms_xml(fetched.content)["request_update"]
    assert [(u["update_id"], u["service_request_id"], u["status"]) for u in updates] == [
        (str(eta), str(case_id), "OPEN"), (str(fixed), str(case_id), "CLOSED")]
    assert updates[1]["description"].endswith("Thank you for telling us.")
    assert datetime.fromisoformat(updates[1]["updated_datetime"].replace("Z", "+00:00")) <= now

    comment = {"updated_datetime": now.replace(microsecond=0).isoformat(), "service_request_id": str(case_id),
               "status": "CLOSED", "description": "Thanks, it looks good now.", "last_name": "Smith",
               "first_name": "Jo", "email": "jo@example.org", "update_id": "248", "api_key": key}
    posted = requests.post(f"{live}/servicerequestupdates.xml", data=comment, timeout=30)
    assert posted.status_code == 201, posted.text
    update_id = fms_xml(posted.content)["request_update"][0]["update_id"]
    with Session(app.state.engine) as session:
        message = session.exec(select(Message).where(Message.id == int(update_id))).one()
        case = session.get(Case, case_id)
        assert message.conversation_id == case.conversation_id and message.direction == Direction.inbound
        assert message.text == "Thanks, it looks good now." and message.meta["open311_update"]["status"] == "CLOSED"
    refused = requests.post(f"{live}/servicerequestupdates.xml", data={**comment, "api_key": "wrong"}, timeout=30)
    assert refused.status_code == 403 and fms_xml(refused.content)["error"][0]["code"] == "403"
