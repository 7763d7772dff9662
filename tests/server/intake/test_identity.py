"""Single view of the customer: resolution across channels, merge/unmerge round trip, suggestions, 360."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from server.auth.models import Role
from server.cases.models import Case
from server.conversations.models import Conversation, Message
from server.customers.models import Customer, Identity
from tests.server.intake.helpers import email, sms, tweet


def _snapshot(app, *customer_ids: int) -> dict:  # type: ignore[no-untyped-def]
    with Session(app.state.engine) as session:
        out = {}
        for cid in customer_ids:
            c = session.get(Customer, cid)
            out[cid] = {
                "profile": (c.display_name, c.address, c.preferred_channel, c.merged_into_id),
                "identities": sorted(i.id for i in session.exec(select(Identity).where(Identity.customer_id == cid))),
                "conversations": sorted(x.id for x in session.exec(select(Conversation).where(
                    Conversation.customer_id == cid))),
                "messages": sorted(m.id for m in session.exec(select(Message).where(Message.customer_id == cid))),
                "cases": sorted(x.id for x in session.exec(select(Case).where(Case.customer_id == cid))),
            }
        return out


def test_merge_and_unmerge_round_trip_exactly(client, app, auth):
    agent = auth(Role.agent)
    a = client.post("/channels/sms", data=sms("S1", "Streetlight out on my block", sender="+14105550111")).json()
    client.post("/channels/sms", data=sms("S2", "still out", sender="+14105550111"))
    b = client.post("/channels/email", headers={"content-type": "message/rfc822"},
                    content=email("e1@x", "Pothole outside my house", sender="Sam Lee <sam@example.org>")).json()
    client.patch(f"/customers/{b['customer_id']}", json={"address": "2900 Fait Ave"}, headers=agent)
    before = _snapshot(app, a["customer_id"], b["customer_id"])

    merged = client.post(f"/customers/{a['customer_id']}/merge", json={"other_id": b["customer_id"]}, headers=agent)
    assert merged.status_code == 201, merged.text
    view = client.get(f"/customers/{b['customer_id']}/360", headers=agent).json()
    assert view["customer"]["id"] == a["customer_id"]  # the merged-away id resolves to the survivor
    assert {i["channel"] for i in view["identities"]} == {"sms", "email"}
    assert view["customer"]["address"] == "2900 Fait Ave"
    times = [datetime.fromisoformat(m["sent_at"]) for m in view["timeline"]]
    assert times == sorted(times) and {m["channel"] for m in view["timeline"]} == {"sms", "email"}
    assert len(view["cases"]) == 2 and len(view["conversations"]) == 2

    undone = client.post(f"/customers/{a['customer_id']}/unmerge/{merged.json()['id']}", headers=agent)
    assert undone.status_code == 200, undone.text
    assert _snapshot(app, a["customer_id"], b["customer_id"]) == before
    again = client.post(f"/customers/{a['customer_id']}/unmerge/{merged.json()['id']}", headers=agent)
    assert again.status_code == 409
    audit = client.get("/audit", params={"entity": "customer", "entity_id": a["customer_id"]},
                       headers=auth(Role.admin)).json()
    assert {"merge", "unmerge"} <= {e["action"] for e in audit["items"]}


def test_conflicting_verified_keys_are_never_merged(app, client, auth):
    agent = auth(Role.agent)
    # Verified emails: authenticated by our receiving server's verdict (issue 26: an unauthenticated From is not).
    app.state.settings.email_trusted_authserv_ids = "mx.groundcrew.test"
    passed = b"Authentication-Results: mx.groundcrew.test; dmarc=pass header.from=example.org\r\n"
    a = client.post("/channels/email", headers={"content-type": "message/rfc822"},
                    content=passed + email("c1@x", "Trash missed", sender="a@example.org")).json()
    b = client.post("/channels/email", headers={"content-type": "message/rfc822"},
                    content=passed + email("c2@x", "Trash missed", sender="b@example.org")).json()
    response = client.post(f"/customers/{a['customer_id']}/merge", json={"other_id": b["customer_id"]}, headers=agent)
    assert response.status_code == 409
    assert "a@example.org" in response.json()["detail"] and "b@example.org" in response.json()["detail"]
    assert client.post(f"/customers/{a['customer_id']}/merge", json={"other_id": a["customer_id"]},
                       headers=agent).status_code == 422
    assert client.post(f"/customers/{a['customer_id']}/merge", json={"other_id": 999999},
                       headers=agent).status_code == 404


def test_form_claiming_verified_accounts_only_suggests(client, auth):
    """Issue 25: the public form is unauthenticated, so "account_verified" in its body proves nothing: a post with
    A's email and B's phone merges nobody; it makes a suggestion an agent decides."""
    by_sms = client.post("/channels/sms", data=sms("L1", "Water leak", sender="+14105550123")).json()
    by_mail = client.post("/channels/email", headers={"content-type": "message/rfc822"},
                          content=email("L2@x", "Water leak again", sender="kim@example.org")).json()
    assert by_sms["customer_id"] != by_mail["customer_id"]
    form = client.post("/channels/webform", json={
        "submission_id": "L3", "name": "Kim Park", "email": "kim@example.org", "phone": "+1 410 555 0123",
        "account_verified": True, "text": "The leak is still there"}).json()
    again = client.post("/channels/sms", data=sms("L4", "any news?", sender="+14105550123")).json()
    mail = client.post("/channels/email", headers={"content-type": "message/rfc822"},
                       content=email("L5@x", "any news?", sender="kim@example.org")).json()
    assert again["customer_id"] == by_sms["customer_id"] != mail["customer_id"] == by_mail["customer_id"]
    page = client.get("/customers/merge-suggestions", headers=auth(Role.agent)).json()
    linked = {c for s in page["items"] for c in (s["customer_a_id"], s["customer_b_id"])
              if form["customer_id"] in (s["customer_a_id"], s["customer_b_id"])}
    assert {by_sms["customer_id"], by_mail["customer_id"]} <= linked  # suggestions an agent decides, no merge


def test_unverified_claims_and_mentions_only_suggest(client, auth):
    agent = auth(Role.agent)
    mail = client.post("/channels/email", headers={"content-type": "message/rfc822"},
                       content=email("U1@x", "Pothole", sender="lee@example.org")).json()
    form = client.post("/channels/webform", json={"submission_id": "U2", "email": "lee@example.org",
                                                  "text": "Pothole still there"}).json()
    assert form["customer_id"] != mail["customer_id"]  # a typed email is a claim, not proof
    t1 = client.post("/channels/twitter", json=tweet("T1", "@groundcrew pothole", user_id="9", username="leeb")).json()
    client.post("/channels/twitter", json=tweet("T2", "@groundcrew my friend @leeb reported it", user_id="8",
                                                username="other"))
    page = client.get("/customers/merge-suggestions", headers=agent).json()
    reasons = [" ".join(s["reasons"]) for s in page["items"]]
    assert any("email lee@example.org" in r for r in reasons)
    assert any("mentions twitter leeb" in r for r in reasons)
    mention = next(s for s in page["items"] if "mentions" in " ".join(s["reasons"]))
    rejected = client.delete(f"/customers/merge-suggestions/{mention['id']}", headers=agent)
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    claim = next(s for s in page["items"] if "lee@example.org" in " ".join(s["reasons"]))
    confirmed = client.post(f"/customers/merge-suggestions/{claim['id']}", headers=agent)
    assert confirmed.status_code == 200 and confirmed.json()["merge_id"] is not None
    assert client.post(f"/customers/merge-suggestions/{claim['id']}", headers=agent).status_code == 409
    view = client.get(f"/customers/{form['customer_id']}/360", headers=agent).json()
    assert view["customer"]["id"] in (mail["customer_id"], form["customer_id"])
    assert len(view["conversations"]) == 2
    assert t1["customer_id"] != view["customer"]["id"]


def test_360_is_for_staff_and_404s(client, auth):
    assert client.get("/customers/1/360").status_code == 401
    assert client.get("/customers/424242/360", headers=auth(Role.agent)).status_code == 404
    assert client.get("/customers/merge-suggestions", headers=auth(Role.technician)).status_code == 403


def test_our_own_handle_mentioned_in_every_post_to_us_suggests_nothing(client, auth, app):
    with Session(app.state.engine) as session:  # even were our handle ever on file as somebody's identity
        brand = Customer(display_name="Groundcrew")
        session.add(brand)
        session.flush()
        session.add(Identity(customer_id=brand.id or 0, channel="twitter", handle="groundcrew", display_name="GC"))
        session.commit()
    for n, user in enumerate(["ann", "bo"]):
        client.post("/channels/twitter", json=tweet(f"O{n}", "@GroundCrew pothole on my street", user_id=str(50 + n),
                                                    username=user))
    page = client.get("/customers/merge-suggestions", headers=auth(Role.agent)).json()
    assert not [s for s in page["items"] if "groundcrew" in " ".join(s["reasons"]).lower()]
