"""Agents' private notes stay with the office: a technician reading a job's conversation (the mobile app's
GET /conversations/{id}) or the customer 360 never gets them, their live event is staff only, and the privacy export
lists them apart, labelled "internal note", while erasure blanks their text but not the agent who wrote them.
And one "needs attention" rule: an angry follow-up on a handed-off case is in it through GET /inbox and through the
older GET /console/inbox alike."""

from __future__ import annotations

import json

from sqlmodel import Session, select

from server.audit import service as audit
from server.audit.models import AuditEntry
from server.auth.models import Role, User
from server.conversations.models import Message
from server.events import broker
from server.jobs.models import Job, JobReport
from tests.server.conftest import JOB_BODY, TECH_BODY
from tests.server.intake.helpers import tweet

NOTE = "Caller sounded drunk; landlord says he owes rent. Do not send Marcus."


def _filed(client, tweet_id: str, text: str, *, username: str, reply_to: str | None = None) -> None:
    answer = client.post("/channels/twitter", json=tweet(tweet_id, text, user_id=f"id-{username}", username=username,
                                                         name=username.title(), reply_to=reply_to))
    assert answer.status_code == 200, answer.text


def _conversation(client, headers, username: str) -> dict:
    page = client.get("/inbox", headers=headers, params={"status": "all", "q": username}).json()
    assert len(page["items"]) == 1, page
    return page["items"][0]


def _technician_on_the_job(client, auth, app, *, customer_id: int, message_id: int) -> dict[str, str]:
    """A technician whose assigned job this customer reported (what lets a technician read the thread at all)."""
    dispatcher = auth(Role.dispatcher)
    tech_id = client.post("/technicians", json=TECH_BODY, headers=dispatcher).json()["id"]
    job_id = client.post("/jobs", json=JOB_BODY, headers=dispatcher).json()["id"]
    with Session(app.state.engine) as session:
        job = session.get(Job, job_id)
        job.assigned_technician_id = tech_id
        session.add(job)
        session.add(JobReport(job_id=job_id, customer_id=customer_id, message_id=message_id, channel="twitter"))
        session.commit()
    return auth(Role.technician, technician_id=tech_id)


def _thread_with_a_note(client, auth, app) -> tuple[dict, dict[str, str], dict[str, str]]:
    agent = auth(Role.agent)
    _filed(client, "7001", "@groundcrew streetlight out on Fleet St", username="noted")
    row = _conversation(client, agent, "noted")
    conv = row["conversation_id"]
    assert client.post(f"/conversations/{conv}/notes", headers=agent, json={"text": NOTE}).status_code == 201
    reply = client.post(f"/conversations/{conv}/messages", headers=agent, json={"text": "A crew is on the way."})
    assert reply.status_code == 201
    first = client.get(f"/conversations/{conv}", headers=agent).json()["messages"][0]
    tech = _technician_on_the_job(client, auth, app, customer_id=row["customer"]["id"], message_id=first["id"])
    return row, agent, tech


def test_a_technician_reads_the_thread_but_never_the_notes(client, auth, app):
    row, agent, tech = _thread_with_a_note(client, auth, app)
    conv, customer_id = row["conversation_id"], row["customer"]["id"]
    # The office sees the note in the thread ...
    staff_thread = client.get(f"/conversations/{conv}", headers=agent).json()["messages"]
    assert NOTE in [m["text"] for m in staff_thread]
    # ... the technician (the mobile app's read of a job's conversation) sees the customer's words and our reply only.
    answer = client.get(f"/conversations/{conv}", headers=tech)
    assert answer.status_code == 200, answer.text
    texts = [m["text"] for m in answer.json()["messages"]]
    assert "A crew is on the way." in texts and texts == [m["text"] for m in staff_thread if m["text"] != NOTE]
    assert NOTE not in answer.text and all(m["direction"] != "note" for m in answer.json()["messages"])
    # The customer 360 is the other view a technician may open on their own customer.
    view = client.get(f"/customers/{customer_id}/360", headers=tech)
    assert view.status_code == 200, view.text
    assert NOTE not in view.text
    assert [m["text"] for m in view.json()["timeline"]] == texts
    staff_view = client.get(f"/customers/{customer_id}/360", headers=agent).json()
    assert NOTE in [m["text"] for m in staff_view["timeline"]]
    assert NOTE in [m["text"] for c in staff_view["conversations"] for m in c["messages"]]


def test_the_notes_live_event_is_staff_only_and_carries_no_text(client, auth, app, monkeypatch):
    agent = auth(Role.agent)
    _filed(client, "7101", "@groundcrew pothole on Eastern Ave", username="evented")
    conv = _conversation(client, agent, "evented")["conversation_id"]
    published: list[dict] = []
    monkeypatch.setattr("server.conversations.router.publish", lambda settings, event: published.append(event))
    assert client.post(f"/conversations/{conv}/notes", headers=agent, json={"text": NOTE}).status_code == 201
    assert [e["type"] for e in published] == ["conversation.updated"]
    technician = User(username="tech", role=Role.technician, technician_id=1, password_hash="x")
    for event in published:
        assert not broker.visible_to(event, technician)
        assert broker.visible_to(event, User(username="agent", role=Role.agent, password_hash="x"))
        assert NOTE not in json.dumps(broker.public(event), default=str)


def test_the_export_lists_notes_apart_labelled_and_erasure_blanks_them_not_the_agent(client, auth, app):
    row, _agent, _tech = _thread_with_a_note(client, auth, app)
    customer_id = row["customer"]["id"]
    admin = auth(Role.admin)
    exported = client.get(f"/customers/{customer_id}/export", headers=admin)
    assert exported.status_code == 200, exported.text
    body = exported.json()
    # Messages are what was said to or by the customer; the note is not one of them ...
    assert NOTE not in [m["text"] for m in body["messages"]]
    assert all(m["direction"] != "note" for m in body["messages"])
    assert "A crew is on the way." in [m["text"] for m in body["messages"]]
    # ... it is in its own section, labelled, with its author by role only (the agent's name is the agent's data).
    [note] = body["internal_notes"]
    assert note["label"] == "internal note" and note["text"] == NOTE and note["author"] == "agent"
    assert note["conversation_id"] == row["conversation_id"] and note["written_at"]
    assert "Agent1" not in json.dumps(body["internal_notes"])

    with Session(app.state.engine) as session:  # an unrelated audit entry that names the agent who wrote the note
        unrelated = audit.record(session=session, action="note", entity="user", entity_id=1, actor_user_id=None,
                                 actor="system", detail={"trained": "Agent1"})
        session.commit()
        unrelated_id = unrelated.id
    erased = client.post(f"/customers/{customer_id}/erase", headers=admin, json={"reason": "DSR-7"})
    assert erased.status_code == 200, erased.text
    with Session(app.state.engine) as session:
        stored = session.exec(select(Message).where(Message.conversation_id == row["conversation_id"],
                                                    Message.direction == "note")).one()
        assert stored.text == "[erased]"
        assert stored.author_name == "Agent1"  # who wrote it stays: it is not the customer's to erase
        assert session.get(AuditEntry, unrelated_id).detail == {"trained": "Agent1"}
    after = client.get(f"/customers/{customer_id}/export", headers=admin).json()
    assert [n["text"] for n in after["internal_notes"]] == ["[erased]"]


def test_an_angry_follow_up_on_a_handed_off_case_needs_attention_in_both_inboxes(client, auth):
    agent = auth(Role.agent)
    _filed(client, "7201", "@groundcrew streetlight out on Fleet St", username="fuming")
    row = _conversation(client, agent, "fuming")
    conv = row["conversation_id"]
    client.post(f"/conversations/{conv}/messages", headers=agent, json={"text": "We have it."})
    assert client.patch(f"/cases/{row['case']['id']}", headers=agent,
                        json={"status": "handed_off"}).status_code == 200

    def attention(path: str) -> set[int]:
        page = client.get(path, headers=agent, params={"needs_attention": "true", "limit": 200})
        assert page.status_code == 200, page.text
        return {r["conversation_id"] for r in page.json()["items"]}

    assert conv not in attention("/inbox") and conv not in attention("/console/inbox")  # answered, with the field
    _filed(client, "7202", "@groundcrew it is STILL out, third night, this is ridiculous", username="fuming",
           reply_to="7201")
    assert conv in attention("/inbox")
    assert conv in attention("/console/inbox")
    # One owner, so the rows agree too: the console's row is the inbox's row (SLA timer, assignee and all), and its
    # snippet is what the customer wrote, never a private note written after it.
    client.post(f"/conversations/{conv}/notes", headers=agent, json={"text": NOTE})
    inbox_row = next(r for r in client.get("/inbox", headers=agent, params={"status": "all"}).json()["items"]
                     if r["conversation_id"] == conv)
    console_row = next(r for r in client.get("/console/inbox", headers=agent).json()["items"]
                       if r["conversation_id"] == conv)
    assert console_row == inbox_row
    assert console_row["last_message"]["text"].startswith("@groundcrew it is STILL out")
    assert console_row["sla"] is not None and console_row["case"]["status"] == "handed_off"
