"""The agents' inbox over HTTP, on SQLite and PostgreSQL: statuses and re-opening, assignment, private notes (never
sent), canned replies with the customer's name, search and filters with paging, the first-response SLA timer,
triage correction into the corrections store, the customer timeline, and follow-ups on handed-off cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from server.auth.models import Role
from server.notify.service import connector_for
from server.triage.corrections import corrections
from tests.server.conftest import sign_in
from tests.server.intake.helpers import tweet


def _file(client, tweet_id: str, text: str, *, user_id: str = "u1", username: str = "resident1",
          name: str = "Res Ident", reply_to: str | None = None) -> dict:
    """A tweet through the real intake pipeline (a case is opened); the inbox row of its conversation."""
    answer = client.post("/channels/twitter", json=tweet(tweet_id, text, user_id=user_id, username=username,
                                                         name=name, reply_to=reply_to))
    assert answer.status_code == 200, answer.text
    return answer.json()


def _row(client, headers, conversation_id: int, **params) -> dict | None:
    page = client.get("/inbox", headers=headers, params={"status": "all", "limit": 200, **params}).json()
    return next((r for r in page["items"] if r["conversation_id"] == conversation_id), None)


def _conversation_of(client, headers, username: str) -> int:
    page = client.get("/inbox", headers=headers, params={"status": "all", "q": username}).json()
    assert page["items"], username
    return page["items"][0]["conversation_id"]


def test_status_snooze_resolve_and_a_customer_message_reopens(client, auth):
    agent = auth(Role.agent)
    _file(client, "5001", "@groundcrew streetlight out on Fleet St", username="lamp_fan", name="Lamp Fan")
    conv = _conversation_of(client, agent, "lamp_fan")
    assert _row(client, agent, conv)["status"] == "open"
    until = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    snoozed = client.post(f"/conversations/{conv}/status", headers=agent, json={"status": "snoozed",
                                                                               "snoozed_until": until})
    assert snoozed.status_code == 200, snoozed.text
    assert snoozed.json()["status"] == "snoozed" and snoozed.json()["snoozed_until"]
    tabs = client.get("/inbox", headers=agent, params={"status": "snoozed"}).json()
    assert [r["conversation_id"] for r in tabs["items"]] == [conv] and tabs["counts"]["open"] == 0
    # A snooze in the past, or without a time, is refused and changes nothing.
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    bad = client.post(f"/conversations/{conv}/status", headers=agent, json={"status": "snoozed",
                                                                           "snoozed_until": past})
    assert bad.status_code == 422 and "snoozed_until" in bad.text
    assert client.post(f"/conversations/{conv}/status", headers=agent,
                       json={"status": "snoozed"}).status_code == 422
    assert _row(client, agent, conv)["status"] == "snoozed"
    # The customer writes again: open.
    _file(client, "5002", "@groundcrew still dark", username="lamp_fan", reply_to="5001")
    assert _row(client, agent, conv)["status"] == "open"
    resolved = client.post(f"/conversations/{conv}/status", headers=agent, json={"status": "resolved"})
    assert resolved.status_code == 200 and resolved.json()["resolved_at"]
    assert _row(client, agent, conv)["sla"] is None  # nobody waits on a resolved conversation
    assert client.get("/inbox", headers=agent, params={"status": "resolved"}).json()["total"] == 1
    _file(client, "5003", "@groundcrew it went out again", username="lamp_fan", reply_to="5001")
    row = _row(client, agent, conv)
    assert row["status"] == "open" and row["sla"] is not None
    # Technicians have no inbox; an unknown status is a clear 422.
    assert client.get("/inbox", headers=auth(Role.technician)).status_code == 403
    assert client.post(f"/conversations/{conv}/status", headers=agent, json={"status": "closed"}).status_code == 422


def test_a_snooze_that_has_run_out_is_open(client, auth, db: Session):
    from server.conversations.models import Conversation, ConversationStatus

    agent = auth(Role.agent)
    _file(client, "5101", "@groundcrew pothole on Eastern Ave", username="snoozer")
    conv = _conversation_of(client, agent, "snoozer")
    row = db.get(Conversation, conv)
    row.status, row.snoozed_until = ConversationStatus.snoozed, datetime.now(UTC) - timedelta(seconds=5)
    db.add(row)
    db.commit()
    assert _row(client, agent, conv)["status"] == "open"
    assert conv in [r["conversation_id"] for r in client.get("/inbox", headers=agent).json()["items"]]


def test_assign_to_me_others_and_nobody(client, auth, make_user):
    agent = auth(Role.agent)
    other_id = make_user("kim", Role.agent)
    tech_user = make_user("tech_tom", Role.technician)
    _file(client, "5201", "@groundcrew hydrant leaking on Boston St", username="hydro")
    conv = _conversation_of(client, agent, "hydro")
    me = next(a for a in client.get("/inbox/agents", headers=agent).json() if a["username"] == "agent1")
    assert client.post(f"/conversations/{conv}/assign", headers=agent, json={"user_id": me["id"]}).status_code == 200
    mine = client.get("/inbox", headers=agent, params={"assignee": "me"}).json()
    assert [r["conversation_id"] for r in mine["items"]] == [conv] and mine["items"][0]["assignee"]["name"] == "Agent1"
    assert client.post(f"/conversations/{conv}/assign", headers=agent, json={"user_id": other_id}).status_code == 200
    assert client.get("/inbox", headers=agent, params={"assignee": "me"}).json()["total"] == 0
    assert _row(client, agent, conv, assignee=str(other_id))["assignee"]["name"] == "Kim"
    refused = client.post(f"/conversations/{conv}/assign", headers=agent, json={"user_id": tech_user})
    assert refused.status_code == 422 and "technician" in refused.text
    assert client.post(f"/conversations/{conv}/assign", headers=agent, json={"user_id": 99999}).status_code == 422
    assert _row(client, agent, conv)["assignee"]["name"] == "Kim"  # a refused change changes nothing
    assert client.post(f"/conversations/{conv}/assign", headers=agent, json={"user_id": None}).status_code == 200
    assert _row(client, agent, conv, assignee="none")["assignee"] is None
    assert client.post(f"/conversations/{conv}/assign", headers=auth(Role.dispatcher),
                       json={"user_id": None}).status_code == 403  # as case changes: agents and admins


def test_private_note_is_never_sent_and_reply_goes_out_through_notify(client, auth, app):
    agent = auth(Role.agent)
    _file(client, "5301", "@groundcrew no water on Fait Ave", username="dry_tap")
    conv = _conversation_of(client, agent, "dry_tap")
    outbox = connector_for(app.state.settings).sent
    before = len(outbox)
    note = client.post(f"/conversations/{conv}/notes", headers=agent, json={"text": "Caller is the landlord."})
    assert note.status_code == 201 and note.json()["direction"] == "note"
    assert client.post(f"/conversations/{conv}/notes", headers=agent, json={"text": "  "}).status_code == 422
    reply = client.post(f"/conversations/{conv}/messages", headers=agent, json={"text": "A crew is on the way."})
    assert reply.status_code == 201 and reply.json()["delivery_status"] == "queued"
    thread = client.get(f"/conversations/{conv}", headers=agent).json()["messages"]
    assert [m["direction"] for m in thread if m["text"] == "Caller is the landlord."] == ["note"]
    delivered = next(m for m in thread if m["id"] == reply.json()["id"])
    assert delivered["delivery_status"] == "recorded"  # handed to the (recording) connector
    sent_texts = [o.text for o in outbox[before:]]
    assert "A crew is on the way." in sent_texts and "Caller is the landlord." not in sent_texts
    # The reply answered the customer: no first-response timer any more; the note did not.
    assert _row(client, agent, conv)["sla"] is None
    # The inbox snippet is what the customer saw, not the note.
    assert _row(client, agent, conv)["last_message"]["text"] == "A crew is on the way."


def test_canned_replies_crud_and_the_customers_name(client, auth):
    admin, agent = auth(Role.admin), auth(Role.agent)
    body = {"short_code": "crew", "text": "Hi {{first_name}}, a crew is on the way. — Groundcrew for {{name}}"}
    assert client.post("/canned-replies", headers=agent, json=body).status_code == 403  # admins write
    created = client.post("/canned-replies", headers=admin, json=body)
    assert created.status_code == 201, created.text
    assert client.post("/canned-replies", headers=admin, json=body).status_code == 409
    typo = client.post("/canned-replies", headers=admin, json={"short_code": "x", "text": "Hi {{nmae}}"})
    assert typo.status_code == 422 and "{{nmae}}" in typo.text
    _file(client, "5401", "@groundcrew tree down on Linwood Ave", username="tree_kate", name="Kate Linwood")
    conv = _conversation_of(client, agent, "tree_kate")
    filled = client.get(f"/conversations/{conv}/canned-replies", headers=agent).json()
    assert filled[0]["filled"] == "Hi Kate, a crew is on the way. — Groundcrew for Kate Linwood"
    canned_id = created.json()["id"]
    changed = client.patch(f"/canned-replies/{canned_id}", headers=admin, json={"text": "Thanks {{first_name}}!"})
    assert changed.status_code == 200 and changed.json()["short_code"] == "crew"
    assert client.get("/canned-replies", headers=agent, params={"q": "thanks"}).json()[0]["id"] == canned_id
    assert client.get("/canned-replies", headers=agent, params={"q": "zzz"}).json() == []
    assert client.delete(f"/canned-replies/{canned_id}", headers=admin).status_code == 204
    assert client.get("/canned-replies", headers=agent).json() == []


def test_search_filters_and_paging(client, auth):
    agent = auth(Role.agent)
    _file(client, "5501", "@groundcrew streetlight out on Fleet St", user_id="a1", username="fleet_fan", name="Ada")
    _file(client, "5502", "@groundcrew water main burst on Boston St", user_id="a2", username="bos", name="Bea")
    _file(client, "5503", "@groundcrew pothole 100% deep_ish on Eastern", user_id="a3", username="pot", name="Cy")
    by_name = client.get("/inbox", headers=agent, params={"q": "bea"}).json()
    assert [r["customer"]["display_name"] for r in by_name["items"]] == ["Bea"]
    by_handle = client.get("/inbox", headers=agent, params={"q": "@fleet_"}).json()
    assert [r["customer"]["display_name"] for r in by_handle["items"]] == ["Ada"]
    by_text = client.get("/inbox", headers=agent, params={"q": "WATER MAIN"}).json()
    assert [r["customer"]["display_name"] for r in by_text["items"]] == ["Bea"]
    # LIKE wildcards in the query are literal characters.
    assert [r["customer"]["display_name"] for r in
            client.get("/inbox", headers=agent, params={"q": "100%"}).json()["items"]] == ["Cy"]
    assert client.get("/inbox", headers=agent, params={"q": "0_d"}).json()["total"] == 0
    assert client.get("/inbox", headers=agent, params={"channel": "sms"}).json()["total"] == 0
    first = client.get("/inbox", headers=agent, params={"limit": 2}).json()
    second = client.get("/inbox", headers=agent, params={"limit": 2, "offset": 2}).json()
    assert first["total"] == second["total"] == 3 and len(first["items"]) == 2 and len(second["items"]) == 1
    seen = {r["conversation_id"] for r in first["items"] + second["items"]}
    assert len(seen) == 3
    assert client.get("/inbox", headers=agent, params={"q": "x" * 201}).status_code == 422


def test_first_response_sla_from_settings(client, auth, app, db: Session):
    from server.conversations.models import Conversation

    app.state.settings.inbox_first_response_min = 30
    agent = auth(Role.agent)
    _file(client, "5601", "@groundcrew sewer smell on Dillon St", username="smelly")
    conv = _conversation_of(client, agent, "smelly")
    fresh = _row(client, agent, conv)["sla"]
    assert fresh["breached"] is False and 0 < fresh["remaining_s"] <= 30 * 60
    row = db.get(Conversation, conv)
    row.awaiting_since = datetime.now(UTC) - timedelta(minutes=45)
    db.add(row)
    db.commit()
    late = _row(client, agent, conv)["sla"]
    assert late["breached"] is True and -15 * 60 - 60 < late["remaining_s"] <= -15 * 60 + 5
    due = datetime.fromisoformat(late["due_at"])
    assert abs((due - (row.awaiting_since + timedelta(minutes=30))).total_seconds()) < 1
    ordered = client.get("/inbox", headers=agent, params={"sort": "sla"}).json()["items"]
    assert ordered[0]["conversation_id"] == conv


def test_triage_correction_lands_in_the_corrections_store(client, auth, app, db: Session):
    agent = auth(Role.agent)
    _file(client, "5701", "@groundcrew the lamp by my door flickers all night", username="flick")
    conv = _conversation_of(client, agent, "flick")
    wrong = client.post(f"/conversations/{conv}/triage", headers=agent, json={"category": "no_such_thing"})
    assert wrong.status_code == 422 and "no_such_thing" in wrong.text
    assert client.post(f"/conversations/{conv}/triage", headers=agent, json={}).status_code == 422
    fixed = client.post(f"/conversations/{conv}/triage", headers=agent, json={"category": "streetlight"})
    assert fixed.status_code == 200 and fixed.json()["category"] == "streetlight"
    learned = [c for c in corrections(session=db) if c.text.endswith("flickers all night")]
    assert [c.label for c in learned] == ["streetlight"]
    out = client.post(f"/conversations/{conv}/triage", headers=agent, json={"not_field_work": True})
    assert out.status_code == 200 and out.json()["needs_field_work"] is False
    assert out.json()["status"] != "needs_location"
    db.expire_all()
    assert [c.label for c in corrections(session=db) if c.text.endswith("flickers all night")] == ["out_of_scope"]
    # A conversation no case was opened for cannot be corrected.
    plain = client.post("/conversations/inbound", headers=agent, json={
        "channel": "sms", "external_id": "sms-1", "author_handle": "+14105550123", "text": "hello?"})
    none = client.post(f"/conversations/{plain.json()['conversation_id']}/triage", headers=agent,
                       json={"category": "streetlight"})
    assert none.status_code == 404 and "no case" in none.text


def test_follow_up_on_a_handed_off_case_stays_in_needs_attention(client, auth):
    agent = auth(Role.agent)
    filed = _file(client, "5801", "@groundcrew streetlight out on Fleet St", username="angry")
    conv = _conversation_of(client, agent, "angry")
    case_id = filed.get("case_id") or client.get("/cases", headers=agent).json()["items"][0]["id"]
    client.post(f"/conversations/{conv}/messages", headers=agent, json={"text": "We have it."})
    assert client.patch(f"/cases/{case_id}", headers=agent, json={"status": "handed_off"}).status_code == 200
    attention = {r["conversation_id"] for r in client.get("/inbox", headers=agent,
                                                          params={"needs_attention": "true"}).json()["items"]}
    assert conv not in attention  # handed off and answered: nothing to do
    _file(client, "5802", "@groundcrew it is STILL out, third night, this is ridiculous", username="angry",
          reply_to="5801")
    attention = {r["conversation_id"] for r in client.get("/inbox", headers=agent,
                                                          params={"needs_attention": "true"}).json()["items"]}
    assert conv in attention
    # The filter narrows the Open tab only: a resolved conversation is still found under Resolved.
    client.post(f"/conversations/{conv}/status", headers=agent, json={"status": "resolved"})
    resolved = client.get("/inbox", headers=agent, params={"needs_attention": "true", "status": "resolved"}).json()
    assert [r["conversation_id"] for r in resolved["items"]] == [conv] and resolved["counts"]["resolved"] == 1


def test_customer_timeline_across_channels(client, auth):
    agent = auth(Role.agent)
    _file(client, "5901", "@groundcrew streetlight out on Fleet St", username="multi", name="Mo Multi")
    conv = _conversation_of(client, agent, "multi")
    customer_id = _row(client, agent, conv)["customer"]["id"]
    client.post(f"/customers/{customer_id}/identities", headers=agent,
                json={"channel": "sms", "handle": "+14105550177", "verified": True})
    client.post("/conversations/inbound", headers=agent, json={
        "channel": "sms", "external_id": "sms-77", "author_handle": "+14105550177", "text": "texting too"})
    client.post(f"/conversations/{conv}/notes", headers=agent, json={"text": "same person on SMS"})
    data = client.get(f"/inbox/customers/{customer_id}/timeline", headers=agent).json()
    assert data["customer"]["display_name"] == "Mo Multi"
    assert {c["channel"] for c in data["conversations"]} == {"twitter", "sms"}
    kinds = [(e["kind"], e.get("channel")) for e in data["events"]]
    assert ("case", None) in kinds and ("message", "sms") in kinds and ("note", "twitter") in kinds
    times = [e["at"] for e in data["events"]]
    assert times == sorted(times)
    assert client.get("/inbox/customers/99999/timeline", headers=agent).status_code == 404
    assert client.get(f"/inbox/customers/{customer_id}/timeline",
                      headers=auth(Role.technician)).status_code == 403


def test_dispatcher_reads_the_inbox_but_admin_only_writes_canned(client, auth, make_user):
    make_user("disp", Role.dispatcher)
    dispatcher = sign_in(client, "disp")
    assert client.get("/inbox", headers=dispatcher).status_code == 200
    names = [c["name"] for c in client.get("/inbox/categories", headers=dispatcher).json()]
    assert "streetlight" in names and len(names) == len(set(names))
    assert client.get("/canned-replies", headers=dispatcher).status_code == 200
    assert client.post("/canned-replies", headers=dispatcher, json={"short_code": "a", "text": "b"}).status_code == 403
