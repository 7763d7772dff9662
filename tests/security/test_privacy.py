"""Privacy: a customer's data exported and erased on request (records and audit entries kept, personal content
removed), public text redacted, and technicians see customers' contact details only for their own jobs."""

from __future__ import annotations

import json

from sqlmodel import Session, select

from server.audit.models import AuditEntry, AuditLogIsAppendOnly
from server.conversations.models import Message
from server.customers.models import Customer, Identity
from server.privacy.redact import redact


def test_export_then_erase_keeps_records_and_audit_but_no_personal_content(sec_client, sec_app, world):
    admin, agent = world.headers["admin"], world.headers["agent"]
    cid = world.own["customer_id"]
    # personal data in several places: profile, an identity, an address, a message
    assert sec_client.patch(f"/customers/{cid}", json={"display_name": "Alice Quinn", "address": "12 Elm Row"},
                            headers=agent).status_code == 200
    assert sec_client.post(f"/customers/{cid}/identities", json={"channel": "email", "handle": "alice@example.org"},
                           headers=agent).status_code == 201
    assert sec_client.post(f"/conversations/{world.own['conversation_id']}/messages",
                           json={"text": "Hi Alice, we are on it"}, headers=agent).status_code == 201

    exported = sec_client.get(f"/customers/{cid}/export", headers=admin)
    assert exported.status_code == 200
    dump = json.dumps(exported.json())
    for needle in ("Alice Quinn", "12 Elm Row", "alice@example.org", "@alice", "streetlight out, @alice here"):
        assert needle in dump
    assert exported.json()["jobs"][0]["id"] == world.own["job_id"]
    assert sec_client.get(f"/customers/{cid}/export", headers=agent).status_code == 403

    with Session(sec_app.state.engine) as session:
        audit_before = len(session.exec(select(AuditEntry)).all())
    assert sec_client.post(f"/customers/{cid}/erase", json={"reason": " "}, headers=admin).status_code == 422
    erased = sec_client.post(f"/customers/{cid}/erase", json={"reason": "DSR-2026-001"}, headers=admin)
    assert erased.status_code == 200, erased.text
    body = erased.json()
    assert body["messages"] >= 2 and body["identities"] >= 2 and body["audit_entries_redacted"] >= 2

    with Session(sec_app.state.engine) as session:
        entries = session.exec(select(AuditEntry)).all()
        assert len(entries) == audit_before + 1  # nothing deleted; one entry for the erasure itself
        everything = json.dumps([e.model_dump() for e in entries], default=str)
        customer = session.get(Customer, cid)
        identities = session.exec(select(Identity).where(Identity.customer_id == cid)).all()
        messages = session.exec(select(Message).where(Message.conversation_id == world.own["conversation_id"])).all()
        erase_entry = session.get(AuditEntry, body["erasure_audit_id"])
        stored = json.dumps([customer.model_dump(), *[i.model_dump() for i in identities],
                             *[m.model_dump(exclude={"external_id"}) for m in messages]], default=str)
        # (provider message ids are kept on purpose: a redelivery is recognised; see server/privacy)
        erase_action, erase_detail = erase_entry.action, dict(erase_entry.detail)
        texts = [m.text for m in messages]
        # the audit log is still append-only for everyone else
        erase_entry.detail = {"tampered": True}
        session.add(erase_entry)
        try:
            session.commit()
            raise AssertionError("audit entry was changed through the ORM")
        except AuditLogIsAppendOnly:
            session.rollback()
    for needle in ("Alice Quinn", "12 Elm Row", "alice@example.org", "alice", "we are on it"):
        assert needle not in stored, needle
        assert needle not in everything, needle
    assert erase_action == "erase" and erase_detail["reason"] == "DSR-2026-001"
    assert texts and all(t == "[erased]" for t in texts)
    # the other customer is untouched, and the job the erased customer reported is still there
    assert "@bob" in sec_client.get(f"/customers/{world.other['customer_id']}/export", headers=admin).text
    assert sec_client.get(f"/jobs/{world.own['job_id']}", headers=admin).status_code == 200
    # a late redelivery of the erased message is refused, not stored again
    again = sec_client.post("/conversations/inbound", headers=agent, json={
        "channel": "twitter", "external_id": "tw-@alice", "author_handle": "@alice",
        "text": "streetlight out, @alice here"})
    assert again.status_code == 409
    assert sec_client.post("/customers/987654/erase", json={"reason": "DSR-x"}, headers=admin).status_code == 404


def test_redact_removes_contact_details_from_public_text():
    text = "Light out, call me on +1 (410) 555-0100 or mail jo.smith@example.org — @jo_smith; 3 lamps at 2400 Eastern"
    out = redact(text)
    assert "555" not in out and "example.org" not in out and "@jo_smith" not in out
    assert "[phone]" in out and "[email]" in out and "[handle]" in out and "2400 Eastern" in out


def test_technicians_see_contact_details_only_of_their_own_jobs_customers(sec_client, world):
    agent, tech = world.headers["agent"], world.headers["technician"]
    for which in ("own", "other"):
        cid = world.__dict__[which]["customer_id"]
        assert sec_client.post(f"/customers/{cid}/identities", json={"channel": "sms", "handle": f"+1410555{cid:04d}"},
                               headers=agent).status_code == 201
    own = sec_client.get(f"/customers/{world.own['customer_id']}", headers=tech)
    assert own.status_code == 200 and f"+1410555{world.own['customer_id']:04d}" in own.text
    other = sec_client.get(f"/customers/{world.other['customer_id']}", headers=tech)
    assert other.status_code in (403, 404) and "+1410555" not in other.text
    listed = sec_client.get("/customers", headers=tech).text
    assert f"+1410555{world.other['customer_id']:04d}" not in listed
    reporters = sec_client.get(f"/jobs/{world.other['job_id']}/reporters", headers=tech)
    assert reporters.status_code == 404


def test_public_open311_view_hides_contact_details_in_complaint_text(sec_client, world):
    key = sec_client.post("/open311/keys", json={"name": "city app"}, headers=world.headers["admin"])
    assert key.status_code == 201, key.text
    code = sec_client.get("/open311/v2/services.json").json()[0]["service_code"]
    text = "Streetlight out at 2400 Eastern Ave, call me on 410-555-0199 or jo@example.org"
    posted = sec_client.post("/open311/v2/requests.json", json={
        "api_key": key.json()["api_key"], "service_code": code, "lat": 39.285, "long": -76.58,
        "description": text, "email": "jo@example.org", "phone": "410-555-0199"})
    assert posted.status_code == 201, posted.text
    public = sec_client.get("/open311/v2/requests.json").text
    assert "Eastern Ave" in public
    assert "555-0199" not in public and "jo@example.org" not in public
    assert "[phone]" in public and "[email]" in public
