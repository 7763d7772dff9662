"""The inbox's access rules beyond the role matrix: a technician reads (and writes in) only the threads and cases
tied to their own jobs — not the same customer's other threads (another complaint, a complaint about them) — and
never an agent's private note; every inbox route is closed to technicians; agents change no dispatch."""

from __future__ import annotations

import re

import pytest

from tests.security.test_authz_matrix import BODIES

COMPLAINT = "The technician you sent last week was rude to my mother."
NOTE = "Customer is disputing the bill; legal is aware."


def _second_thread(client, world) -> int:
    """Tech A's customer (@alice) writes again on SMS about something else: a thread no job of tech A is tied to,
    with a case and an agent's private note on it."""
    agent = world.headers["agent"]
    cid = world.own["customer_id"]
    assert client.post(f"/customers/{cid}/identities", headers=agent,
                       json={"channel": "sms", "handle": "+14105550123", "verified": True}).status_code == 201
    msg = client.post("/conversations/inbound", headers=agent, json={
        "channel": "sms", "external_id": "sms-complaint-1", "author_handle": "+14105550123", "text": COMPLAINT})
    assert msg.status_code == 201, msg.text
    assert msg.json()["customer_id"] == cid
    conv = msg.json()["conversation_id"]
    assert conv != world.own["conversation_id"]
    case = client.post("/cases", headers=agent, json={"conversation_id": conv, "category": "complaint"})
    assert case.status_code == 201, case.text
    assert client.post(f"/conversations/{conv}/notes", headers=agent, json={"text": NOTE}).status_code == 201
    return conv


def test_a_technician_reads_only_the_threads_and_cases_of_their_jobs(sec_client, world):
    tech, agent = world.headers["technician"], world.headers["agent"]
    other_thread = _second_thread(sec_client, world)
    own_thread = world.own["conversation_id"]
    assert sec_client.post(f"/conversations/{own_thread}/notes", headers=agent, json={"text": NOTE}).status_code == 201
    # The thread of their job: readable (without the note), and they can answer in it.
    own = sec_client.get(f"/conversations/{own_thread}", headers=tech)
    assert own.status_code == 200 and NOTE not in own.text
    assert sec_client.post(f"/conversations/{own_thread}/messages", headers=tech,
                           json={"text": "On my way."}).status_code == 201
    # The same customer's other thread: not listed, not readable, not writable.
    listed = sec_client.get("/conversations", headers=tech).json()["items"]
    assert {c["id"] for c in listed} == {own_thread}
    listed = sec_client.get(f"/conversations?customer_id={world.own['customer_id']}", headers=tech).json()["items"]
    assert {c["id"] for c in listed} == {own_thread}
    assert sec_client.get(f"/conversations/{other_thread}", headers=tech).status_code in (403, 404)
    assert sec_client.post(f"/conversations/{other_thread}/messages", headers=tech,
                           json={"text": "Sorry about that"}).status_code in (403, 404)
    # Nor through the customer 360: only their job's thread, its case, no note, no complaint.
    view = sec_client.get(f"/customers/{world.own['customer_id']}/360", headers=tech)
    assert view.status_code == 200, view.text
    body = view.json()
    assert [c["id"] for c in body["conversations"]] == [own_thread]
    assert {m["conversation_id"] for m in body["timeline"]} == {own_thread}
    assert all(c["conversation_id"] == own_thread for c in body["cases"])
    assert COMPLAINT not in view.text and NOTE not in view.text
    # Staff still see everything.
    staff = sec_client.get(f"/customers/{world.own['customer_id']}/360", headers=agent).json()
    assert {c["id"] for c in staff["conversations"]} == {own_thread, other_thread}
    assert sec_client.get(f"/conversations/{other_thread}", headers=agent).status_code == 200


def test_a_technician_loses_the_thread_when_the_job_is_reassigned(sec_client, sec_app, world):
    from sqlmodel import Session

    from server.jobs.models import Job

    tech = world.headers["technician"]
    own_thread = world.own["conversation_id"]
    assert sec_client.get(f"/conversations/{own_thread}", headers=tech).status_code == 200
    with Session(sec_app.state.engine) as session:  # the job goes to tech B (as a re-plan or an override does)
        job = session.get(Job, world.own["job_id"])
        job.assigned_technician_id = world.other["technician_id"]
        session.add(job)
        session.commit()
    assert sec_client.get(f"/conversations/{own_thread}", headers=tech).status_code in (403, 404)
    assert sec_client.get("/conversations", headers=tech).json()["items"] == []


def _routes(app, *, tags: set[str] | None = None, prefixes: tuple[str, ...] = (), methods: set[str]) -> list:
    found = []
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            if method.upper() not in methods:
                continue
            if (tags and tags & set(operation.get("tags", []))) or (prefixes and path.startswith(prefixes)):
                found.append((method.upper(), path))
    return sorted(set(found))


def _call(client, method: str, path: str, headers: dict[str, str], ids: dict[str, int] | None = None) -> int:
    """The route called on real objects (``ids``, else an id that does not exist) with the matrix's valid body
    where the handler itself decides who may act (so the answer is the access rule's, not validation's)."""
    url = path.replace("{fmt}", "json")
    for name in re.findall(r"{(\w+)}", path):
        url = url.replace("{" + name + "}", str((ids or {}).get(name, 987654)))
    body = BODIES.get((method, path), {}) if method != "GET" else None
    return client.request(method, url, headers=headers, json=body).status_code


def test_every_inbox_route_is_closed_to_technicians(sec_client, sec_app, world):
    """Whatever is added to the inbox later (tag "inbox", the staff-only conversation actions, /cases, the console's
    inbox) is refused to a technician — not only the routes listed in the matrix today."""
    tech = world.headers["technician"]
    routes = _routes(sec_app, tags={"inbox", "cases"}, prefixes=("/console/inbox", "/cases"),
                     methods={"GET", "POST", "PATCH", "PUT", "DELETE"})
    routes += [(m, p) for m, p in _routes(sec_app, prefixes=("/conversations/{conversation_id}/",),
                                          methods={"GET", "POST", "PATCH", "PUT", "DELETE"})
               if not p.endswith("/messages")]  # a technician answers in their own job's thread
    assert ("GET", "/inbox") in routes and ("POST", "/conversations/{conversation_id}/notes") in routes
    opened = {(m, p): code for m, p in routes if (code := _call(sec_client, m, p, tech)) not in (403, 404)}
    assert opened == {}


@pytest.mark.parametrize("prefix", ["/dispatch", "/technicians", "/horizon", "/appointments/jobs"])
def test_agents_change_no_dispatch(sec_client, sec_app, world, prefix):
    """Agents answer customers and hand cases off; who goes where and when (solves, overrides, plans, technicians,
    their absences, the horizon, appointment offers, a job's field status) is the dispatchers'."""
    agent = world.headers["agent"]
    writes = _routes(sec_app, prefixes=(prefix,), methods={"POST", "PATCH", "PUT", "DELETE"})
    writes = [(m, p) for m, p in writes if p not in ("/technicians/me/location",)]  # a device's own ping
    if prefix == "/technicians":
        assert ("POST", "/technicians") in writes
    assert writes, prefix
    ids = {"job_id": world.own["job_id"], "technician_id": world.own["technician_id"]}
    allowed = {(m, p): code for m, p in writes if (code := _call(sec_client, m, p, agent, ids)) not in (403, 404)}
    assert allowed == {}
    assert _call(sec_client, "POST", "/jobs/{job_id}/status", agent, ids) in (403, 404)
    assert sec_client.get("/plans", headers=agent).status_code == 200  # reading the plan is fine
    assert [p for p in sec_app.openapi()["paths"] if p.startswith("/plans")
            and set(sec_app.openapi()["paths"][p]) - {"get"}] == []  # plans change only through dispatch
