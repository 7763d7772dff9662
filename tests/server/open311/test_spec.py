"""Open311 as the specifications say, one test per rule (each failed on the code before issue 26, item 3).

- GeoReport v2, http://wiki.open311.org/GeoReport_v2 (open311/open311.github.io, GeoReport_v2/index.md):
  GET Service Requests "Response Volume: Default query limit is a span of 90 days or first 1000 requests returned,
  whichever is smallest"; start_date/end_date "search for requests which have a requested_datetime that matches a
  given range, but may not span more than 90 days. When not specified, the range defaults to most recent 90 days";
  POST Service Request "404 - service_code ... was not found", "service_request_id: This should not be returned if
  token is returned", "token: This should not be returned if service_request_id is returned".
- FixMyStreet's extension, https://github.com/mysociety/fixmystreet/wiki/Open311-FMS---Complete-Spec
  ("GET Service Request Updates": servicerequestupdates.[format]?start_date&end_date, answering
  ``service_request_updates/request_update`` with update_id, service_request_id, status (OPEN, CLOSED),
  updated_datetime, description, media_url), and the client that speaks it, mysociety/fixmystreet
  perllib/Open311.pm: ``post_service_request_update`` posts updated_datetime, service_request_id, status,
  description, first_name, last_name, email, update_id and api_key, and reads
  ``<service_request_updates><request_update><update_id>`` back; ``_add_photos_to_upload`` sends photos as
  multipart file parts ``photo1``, ``photo2``...
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, func, select

from server.auth.models import Role
from server.cases.models import Case, CaseStatus
from server.conversations.models import AuthorKind, Conversation, Direction, Message, Visibility
from server.customers.models import Channel, Customer
from tests.server.open311.conftest import LAT, LON, PNG, make_request, notice

V2 = "/open311/v2"


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [r["service_request_id"] for r in response.json()]


NOW = datetime.now(UTC)


# ------------------------------------------------------------------ GET Service Requests: volume and window
def test_list_returns_up_to_1000_by_default(client, app):
    """Clients that do not page (georeport, FixMyStreet) saw 50 of 60 requests before."""
    for i in range(60):
        make_request(app, sent_at=NOW - timedelta(hours=i + 1))
    assert len(_ids(client.get(f"{V2}/requests.json"))) == 60
    assert len(_ids(client.get(f"{V2}/requests.json", params={"page_size": 25, "page": 3}))) == 10
    bad = client.get(f"{V2}/requests.json", params={"page_size": 1001})
    assert bad.status_code == 400 and "page_size" in bad.json()[0]["description"]


def test_default_window_is_the_last_90_days(client, app):
    recent = make_request(app, sent_at=NOW - timedelta(days=89))
    make_request(app, sent_at=NOW - timedelta(days=91))
    old = make_request(app, sent_at=NOW - timedelta(days=150))
    assert _ids(client.get(f"{V2}/requests.json")) == [str(recent)]
    start = (NOW - timedelta(days=200)).isoformat()  # and the 90 days after it: to 110 days ago
    assert _ids(client.get(f"{V2}/requests.json", params={"start_date": start})) == [str(old)]
    end = (NOW - timedelta(days=120)).isoformat()  # and the 90 days before it
    assert _ids(client.get(f"{V2}/requests.json", params={"end_date": end})) == [str(old)]


def test_dates_filter_on_requested_datetime_not_on_when_it_was_stored(client, app):
    """A request made in March 2024 and imported today is found by a March 2024 search, and by no search of today."""
    imported = make_request(app, sent_at=datetime(2024, 3, 1, 12, tzinfo=UTC), stored_at=NOW)
    march = {"start_date": "2024-02-15T00:00:00Z", "end_date": "2024-03-15T00:00:00Z"}
    assert _ids(client.get(f"{V2}/requests.json", params=march)) == [str(imported)]
    item = client.get(f"{V2}/requests/{imported}.json").json()[0]
    assert item["requested_datetime"] == "2024-03-01T12:00:00Z"
    assert _ids(client.get(f"{V2}/requests.json")) == []


@pytest.mark.parametrize(("params", "needle"), [
    ({"start_date": "2024-01-01T00:00:00Z", "end_date": "2024-06-01T00:00:00Z"}, "at most 90 days"),
    ({"start_date": "2024-02-01T00:00:00Z", "end_date": "2024-01-01T00:00:00Z"}, "before start_date"),
    ({"end_date": "soon"}, "end_date"),
])
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_bad_windows_are_400_in_the_spec_format(client, params, needle, fmt):
    response = client.get(f"{V2}/requests.{fmt}", params=params)
    assert response.status_code == 400
    description = (response.json()[0]["description"] if fmt == "json"
                   else ET.fromstring(response.content).findtext("error/description"))
    assert needle in description


def test_a_list_of_ids_may_hold_up_to_1000_and_overrides_the_window(client, app):
    old = make_request(app, sent_at=NOW - timedelta(days=400))
    ids = [str(old)] + [str(900_000 + i) for i in range(249)]  # 250 ids (before: 400 past 200)
    assert _ids(client.get(f"{V2}/requests.json", params={"service_request_id": ",".join(ids)})) == [str(old)]
    too_many = ",".join(str(i) for i in range(1, 1002))
    response = client.get(f"{V2}/requests.json", params={"service_request_id": too_many})
    assert response.status_code == 400 and "at most 1000" in response.json()[0]["description"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_unknown_service_code_filter_is_a_404(client, fmt):
    response = client.get(f"{V2}/requests.{fmt}", params={"service_code": "102,999"})
    assert response.status_code == 404
    if fmt == "xml":
        root = ET.fromstring(response.content)
        assert root.tag == "errors" and root.findtext("error/code") == "404"
        assert "'999' not found" in root.findtext("error/description")


# ------------------------------------------------------------------ POST Service Request
@pytest.mark.parametrize("code", ["999", "901"])  # unknown; billing (a service code, but no field service)
def test_post_with_an_unknown_service_code_is_a_404_and_writes_nothing(client, app, api_key, code):
    response = client.post(f"{V2}/requests.xml", data={"api_key": api_key, "service_code": code, "lat": LAT,
                                                       "long": LON, "description": "Hole"})
    assert response.status_code == 404
    assert ET.fromstring(response.content).findtext("error/code") == "404"
    with Session(app.state.engine) as session:
        assert session.exec(select(func.count()).select_from(Message)).one() == 0


@pytest.mark.slow
def test_post_answers_the_id_without_a_token(client, app, api_key):
    response = client.post(f"{V2}/requests.xml", data={"api_key": api_key, "service_code": "102", "lat": LAT,
                                                       "long": LON, "description": "Deep pothole"})
    assert response.status_code == 201, response.text
    request = ET.fromstring(response.content).find("request")
    assert request.findtext("service_request_id").isdigit()
    assert request.find("token") is None


@pytest.mark.slow
def test_a_photo_upload_is_kept_and_published_as_media_url(client, app, api_key, settings):
    """multipart/form-data with the photo as a file part (``media``; FixMyStreet: ``photo1``), as
    HTTP::Request::Common's form-data POST in Open311.pm sends it. Before, the file part was dropped silently."""
    form = {"api_key": api_key, "service_code": "102", "lat": str(LAT), "long": str(LON),
            "description": "Pothole, photo attached"}
    response = client.post(f"{V2}/requests.json", data=form, files={"photo1": ("IMG_0001.PNG", PNG, "image/png")})
    assert response.status_code == 201, response.text
    request_id = response.json()[0]["service_request_id"]
    media_url = client.get(f"{V2}/requests/{request_id}.json").json()[0]["media_url"]
    assert media_url.startswith("http://testserver/open311/v2/media/") and media_url.endswith(".png")
    photo = client.get(media_url)
    assert photo.status_code == 200 and photo.content == PNG and photo.headers["content-type"] == "image/png"
    assert "IMG_0001" not in media_url  # our own name, nothing the client chose
    stored = list((settings.data_dir / "uploads" / "open311").rglob("*.png"))
    assert len(stored) == 1 and oct(stored[0].stat().st_mode & 0o777) == "0o600"
    # an unknown name, or another message's id, is no photo
    assert client.get(media_url.rsplit("/", 1)[0] + "/0123456789abcdef.png").status_code == 404
    assert client.get(f"{V2}/media/999/{media_url.rsplit('/', 1)[1]}").status_code == 404


@pytest.mark.parametrize(("files", "needle"), [
    ({"media": ("x.png", b"<svg onload=alert(1)>", "image/png")}, "only JPEG, PNG, GIF or WebP"),
    ({"media": ("x.jpg", b"", "image/jpeg")}, "empty"),
    ({"attachment": ("x.png", PNG, "image/png")}, "attachment: files are accepted as media"),
    ([(f"photo{i}", (f"{i}.png", PNG, "image/png")) for i in range(1, 7)], "Too many files"),
])
def test_a_bad_upload_is_a_400_and_writes_nothing(client, app, api_key, settings, files, needle):
    form = {"api_key": api_key, "service_code": "102", "lat": str(LAT), "long": str(LON)}
    response = client.post(f"{V2}/requests.json", data=form, files=files)
    assert response.status_code == 400 and needle in response.json()[0]["description"]
    with Session(app.state.engine) as session:
        assert session.exec(select(func.count()).select_from(Message)).one() == 0
    assert not (settings.data_dir / "uploads" / "open311").exists()


# ------------------------------------------------------------------ CORS
def test_public_reads_allow_any_origin_and_nothing_else_does(client, app, auth):
    origin = {"Origin": "https://map.example.org"}
    for path in ("discovery.json", "services.xml", "requests.json", "servicerequestupdates.xml",
                 "requests/999.json"):
        response = client.get(f"{V2}/{path}", headers=origin)
        assert response.headers.get("access-control-allow-origin") == "*", path
        assert "access-control-allow-credentials" not in response.headers
    preflight = client.options(f"{V2}/requests.json", headers={**origin, "Access-Control-Request-Method": "GET"})
    assert preflight.status_code == 200 and "GET" in preflight.headers["access-control-allow-methods"]
    # a browser may not POST (an api_key in a web page) nor read the authenticated API
    post = client.options(f"{V2}/requests.json", headers={**origin, "Access-Control-Request-Method": "POST"})
    assert post.status_code == 400 and "POST" not in post.headers.get("access-control-allow-methods", "")
    posted = client.post(f"{V2}/requests.json", headers=origin, data={"service_code": "102"})
    assert "access-control-allow-origin" not in posted.headers
    jobs = client.get("/jobs", headers={**origin, **auth(Role.admin)})
    assert jobs.status_code == 200 and "access-control-allow-origin" not in jobs.headers
    keys = client.get("/open311/keys", headers={**origin, **auth(Role.admin)})
    assert "access-control-allow-origin" not in keys.headers


# ------------------------------------------------------------------ servicerequestupdates out
def test_our_notices_are_updates_clients_can_poll(client, app):
    case_id = make_request(app, sent_at=NOW - timedelta(hours=5))
    eta = notice(app, case_id, "Sam from our field crew will come to fix this, arriving about 14:00–14:30.",
                 "scheduled", sent_at=NOW - timedelta(hours=4))
    notice(app, case_id, "Call me on 410-555-0199 when you are done", "reply", sent_at=NOW - timedelta(hours=3),
           author_kind=AuthorKind.agent)  # a private staff reply: not published
    public = notice(app, case_id, "We will also check the drain; questions to crew@example.org",
                    "reply", sent_at=NOW - timedelta(hours=2), author_kind=AuthorKind.agent,
                    visibility=Visibility.public)
    closed = notice(app, case_id, "Update on your report: the pothole has been fixed. Thank you for telling us.",
                    "job_closed", sent_at=NOW - timedelta(hours=1))
    updates = client.get(f"{V2}/servicerequestupdates.json").json()
    assert [u["update_id"] for u in updates] == [str(eta), str(public), str(closed)]  # oldest first
    assert {u["service_request_id"] for u in updates} == {str(case_id)}
    assert [u["status"] for u in updates] == ["OPEN", "OPEN", "CLOSED"]
    assert "[email]" in updates[1]["description"] and "crew@example.org" not in updates[1]["description"]
    assert updates[0]["updated_datetime"].endswith("Z")

    root = ET.fromstring(client.get(f"{V2}/servicerequestupdates.xml").content)
    assert root.tag == "service_request_updates"
    assert [u.findtext("update_id") for u in root.findall("request_update")] == [str(eta), str(public), str(closed)]
    assert root.find("request_update/status").text == "OPEN"

    # FixMyStreet asks for a window (the last hours): only what falls in it
    window = {"start_date": (NOW - timedelta(hours=1, minutes=30)).isoformat(), "end_date": NOW.isoformat()}
    assert [u["update_id"] for u in client.get(f"{V2}/servicerequestupdates.json", params=window).json()] \
        == [str(closed)]
    bad = client.get(f"{V2}/servicerequestupdates.json", params={"start_date": "last week"})
    assert bad.status_code == 400 and "start_date" in bad.json()[0]["description"]


def test_notices_on_other_channels_are_not_open311_updates(client, app):
    case_id = make_request(app, sent_at=NOW - timedelta(hours=2))
    with Session(app.state.engine) as session:
        customer = Customer(display_name="Tweeter")
        session.add(customer)
        session.flush()
        conversation = Conversation(customer_id=customer.id, channel=Channel.twitter, external_thread_id="x1")
        session.add(conversation)
        session.flush()
        session.add(Message(conversation_id=conversation.id, channel=Channel.twitter, direction=Direction.outbound,
                            author_kind=AuthorKind.system, text="On the way", meta={"kind": "eta"}))
        session.commit()
    assert client.get(f"{V2}/servicerequestupdates.json").json() == []
    only = notice(app, case_id, "On the way", "eta", sent_at=NOW - timedelta(minutes=5))
    assert [u["update_id"] for u in client.get(f"{V2}/servicerequestupdates.json").json()] == [str(only)]


# ------------------------------------------------------------------ servicerequestupdates in
def _fms_update(key: str, case_id: int, **change: str | None) -> dict[str, str]:
    """The parameters FixMyStreet's Open311.pm ``_populate_service_request_update_params`` posts."""
    params = {"updated_datetime": "2026-12-05T09:30:00+00:00", "service_request_id": str(case_id),
              "status": "OPEN", "description": "Still there, and it is getting deeper.", "last_name": "Smith",
              "first_name": "Jo", "email": "jo@example.org", "update_id": "4711", "api_key": key}
    params.update(change)
    return {k: v for k, v in params.items() if v is not None}


def test_a_citizen_update_is_stored_in_the_request_conversation(client, app, api_key):
    case_id = make_request(app, sent_at=NOW - timedelta(hours=2))
    response = client.post(f"{V2}/servicerequestupdates.xml", data=_fms_update(api_key, case_id))
    assert response.status_code == 201, response.text
    root = ET.fromstring(response.content)
    assert root.tag == "service_request_updates"
    update_id = root.findtext("request_update/update_id")
    with Session(app.state.engine) as session:
        case = session.get(Case, case_id)
        message = session.get(Message, int(update_id))
        assert message.conversation_id == case.conversation_id and message.direction == Direction.inbound
        assert message.text == "Still there, and it is getting deeper."
        assert message.sent_at == datetime(2026, 12, 5, 9, 30, tzinfo=UTC)
        assert message.meta["open311_update"] == {"update_id": "4711", "status": "OPEN"}
        assert message.author_name == "Jo Smith"
        assert case.status == CaseStatus.open  # a citizen's status is recorded, it closes nothing by itself
    # FixMyStreet retries when it missed the answer: the same id again, nothing new
    again = client.post(f"{V2}/servicerequestupdates.xml", data=_fms_update(api_key, case_id))
    assert again.status_code == 200 and ET.fromstring(again.content).findtext("request_update/update_id") == update_id
    reused = client.post(f"{V2}/servicerequestupdates.json", data=_fms_update(api_key, case_id, description="Other"))
    assert reused.status_code == 409 and "update_id" in reused.json()[0]["description"]
    # our own feed lists what we said, not what the citizen said
    assert client.get(f"{V2}/servicerequestupdates.json").json() == []


def test_a_citizen_update_may_carry_a_photo(client, app, api_key):
    case_id = make_request(app, sent_at=NOW - timedelta(hours=2))
    response = client.post(f"{V2}/servicerequestupdates.json", data=_fms_update(api_key, case_id, description=""),
                           files={"photo1": ("1.png", PNG, "image/png")})
    assert response.status_code == 201, response.text
    with Session(app.state.engine) as session:
        message = session.get(Message, int(response.json()[0]["update_id"]))
        assert message.text == "(a photo, no text)" and len(message.media) == 1
    assert client.get("http://testserver" + message.media[0]).content == PNG
    assert client.get(f"{V2}/media/{message.id}/..%2F..%2Fopen311.db").status_code == 404


def test_photos_of_a_few_megabytes_pass_the_body_limit(client, app, api_key):
    """Phone photos are megabytes (FixMyStreet shrinks its own to 2048 px JPEGs): an Open311 POST may be up to
    10 MB, 5 MB a photo, where the server's default body limit is 1 MB."""
    case_id = make_request(app, sent_at=NOW - timedelta(hours=2))
    photo = b"\xff\xd8\xff\xe0" + bytes(2_500_000)
    response = client.post(f"{V2}/servicerequestupdates.json", data=_fms_update(key=api_key, case_id=case_id),
                           files={"photo1": ("IMG_2001.JPG", photo, "image/jpeg")})
    assert response.status_code == 201, response.text
    with Session(app.state.engine) as session:
        message = session.get(Message, int(response.json()[0]["update_id"]))
    assert client.get("http://testserver" + message.media[0]).content == photo
    too_big = client.post(f"{V2}/servicerequestupdates.json", data=_fms_update(api_key, case_id, update_id="2"),
                          files={"photo1": ("big.jpg", b"\xff\xd8\xff\xe0" + bytes(6_000_000), "image/jpeg")})
    assert too_big.status_code == 400 and "photo1: larger than 5000000 bytes" in too_big.json()[0]["description"]
    huge = client.post(f"{V2}/requests.json", data={"api_key": api_key}, files={
        f"photo{i}": (f"{i}.jpg", b"\xff\xd8\xff\xe0" + bytes(4_000_000), "image/jpeg") for i in range(1, 4)})
    assert huge.status_code == 413 and "Open311" in huge.json()["detail"]


@pytest.mark.parametrize(("change", "status", "needle"), [
    ({"api_key": None}, 403, "api_key: required"),
    ({"api_key": "o311_wrong"}, 403, "api_key: not valid"),
    ({"service_request_id": "99999"}, 404, "service_request_id: '99999' not found"),
    ({"service_request_id": None}, 400, "service_request_id: required"),
    ({"update_id": None}, 400, "update_id: required"),
    ({"status": None}, 400, "status: required"),
    ({"status": "MAYBE"}, 400, "status: 'MAYBE' is not one of"),
    ({"updated_datetime": None}, 400, "updated_datetime: required"),
    ({"updated_datetime": "yesterday"}, 400, "updated_datetime"),
    ({"email": "not an email"}, 400, "email"),
    ({"media_url": "javascript:alert(1)"}, 400, "media_url"),
    ({"update_id": "x" * 101}, 400, "update_id: longer than 100"),
    ({"description": "x" * 4001}, 400, "description: longer than"),
])
def test_a_bad_update_is_the_spec_error_and_writes_nothing(client, app, api_key, change, status, needle):
    case_id = make_request(app, sent_at=NOW - timedelta(hours=2))
    with Session(app.state.engine) as session:
        before = session.exec(select(func.count()).select_from(Message)).one()
    response = client.post(f"{V2}/servicerequestupdates.xml", data=_fms_update(api_key, case_id, **change))
    assert response.status_code == status, response.text
    root = ET.fromstring(response.content)
    assert root.findtext("error/code") == str(status) and needle in root.findtext("error/description")
    with Session(app.state.engine) as session:
        assert session.exec(select(func.count()).select_from(Message)).one() == before


def test_an_update_to_a_request_of_another_channel_is_a_404(client, app, api_key):
    with Session(app.state.engine) as session:
        customer = Customer(display_name="Texter")
        session.add(customer)
        session.flush()
        conversation = Conversation(customer_id=customer.id, channel=Channel.sms, external_thread_id="+14105550100")
        session.add(conversation)
        session.flush()
        case = Case(conversation_id=conversation.id, customer_id=customer.id, category="pothole")
        session.add(case)
        session.commit()
        case_id = case.id
    response = client.post(f"{V2}/servicerequestupdates.json", data=_fms_update(api_key, case_id))
    assert response.status_code == 404


# ------------------------------------------------------------------ the documentation says what really happens
def test_openapi_documents_the_real_answers_and_no_422(client):
    spec = client.get("/openapi.json").json()
    operations = {(m, p): op for p, ops in spec["paths"].items() if p.startswith("/open311/v2/")
                  for m, op in ops.items()}
    assert ("post", "/open311/v2/servicerequestupdates.{fmt}") in operations
    assert ("get", "/open311/v2/servicerequestupdates.{fmt}") in operations
    for (method, path), op in operations.items():
        assert "422" not in op["responses"], (method, path)
    post = operations[("post", "/open311/v2/requests.{fmt}")]
    assert {"201", "400", "403", "404", "413", "429", "500", "503"} <= set(post["responses"])
    assert "text/xml" in post["responses"]["404"]["content"]
    assert "<errors><error><code>404</code>" in post["responses"]["404"]["content"]["text/xml"]["example"]
    assert "multipart/form-data" in post["requestBody"]["content"]
    listing = operations[("get", "/open311/v2/requests.{fmt}")]
    assert {p["name"] for p in listing["parameters"]} >= {"service_request_id", "service_code", "start_date",
                                                           "end_date", "status", "fmt"}
