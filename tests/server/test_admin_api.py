"""The endpoints the console's administration screens read and write (issue 29): the skill list a technician's
skills are chosen from, the service catalogue, channel status with the last delivery outcome, technicians and users
changed the way the screens change them. SQLite and PostgreSQL (the ``database_url`` fixture)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from server.auth.models import Role
from server.conversations.models import DeliveryStatus, Message
from server.core.timeutil import utcnow
from tests.server.conftest import PASSWORD, TECH_BODY
from tests.server.notify.conftest import run_pass


def test_skills_are_the_catalogues_with_who_has_them(client, auth):
    admin = auth(Role.admin)
    before = {s["skill"]: s for s in client.get("/technicians/skills", headers=admin).json()}
    assert "electrical" in before and before["electrical"]["technicians"] == 0
    assert any(s.startswith("streetlight ") for s in before["electrical"]["services"])
    created = client.post("/technicians", headers=admin, json={**TECH_BODY, "skills": {"electrical": 3, "welding": 2}})
    assert created.status_code == 201, created.text
    rows = client.get("/technicians/skills", headers=admin).json()
    after = {s["skill"]: s for s in rows}
    assert after["electrical"]["technicians"] == 1 and after["electrical"]["by_level"] == {"3": 1}
    # A skill no service needs is listed (someone has it) but after every needed one.
    assert after["welding"]["services"] == [] and rows[-1]["skill"] == "welding"
    # Dispatchers and agents read it too (they choose skills on jobs); a technician does not.
    assert client.get("/technicians/skills", headers=auth(Role.agent)).status_code == 200
    tech_id = created.json()["id"]
    assert client.get("/technicians/skills", headers=auth(Role.technician, tech_id)).status_code == 403
    # The word routes do not shadow a technician's own record.
    assert client.get(f"/technicians/{tech_id}", headers=admin).json()["name"] == TECH_BODY["name"]


def test_catalogue_lists_every_service_with_its_figures(client, auth):
    admin = auth(Role.admin)
    answer = client.get("/technicians/catalogue", headers=admin)
    assert answer.status_code == 200, answer.text
    services = {s["name"]: s for s in answer.json()}
    light = services["streetlight"]
    assert light["field_work"] is True and light["skill"] == "electrical"
    assert light["duration_min"] > 0 and light["sla_hours"] > 0 and light["service_code"]
    desk = [s for s in services.values() if not s["field_work"]]
    assert desk and all(s["skill"] == "" for s in desk)  # no field work: no technician skill
    assert client.get("/technicians/catalogue").status_code == 401


def test_catalogue_that_cannot_be_read_is_a_clear_503(client, auth, app, tmp_path):
    broken = tmp_path / "taxonomy.toml"
    broken.write_text("[[category]\nname = ", encoding="utf-8")
    app.state.settings.taxonomy_path = broken
    answer = client.get("/technicians/catalogue", headers=auth(Role.admin))
    assert answer.status_code == 503 and "taxonomy_path" in answer.json()["detail"]


def test_channel_status_tells_provider_and_last_outcome(client, auth, app):
    admin = auth(Role.admin)
    agent = auth(Role.agent)
    app.state.settings.outbound_webhook_url = None
    inbound = client.post("/conversations/inbound", headers=agent, json={
        "channel": "sms", "external_id": "SM-admin-1", "author_handle": "+14105550123", "text": "Light out"})
    assert inbound.status_code == 201, inbound.text
    reply = client.post(f"/conversations/{inbound.json()['conversation_id']}/messages", headers=agent,
                        json={"text": "A crew is on the way."})
    assert reply.status_code == 201, reply.text
    run_pass(app)
    answer = client.get("/notify/channels", headers=admin)
    assert answer.status_code == 200, answer.text
    by_channel = {c["channel"]: c for c in answer.json()["channels"]}
    assert set(by_channel) == {"sms", "facebook", "twitter", "email"}
    sms = by_channel["sms"]
    # No Twilio credentials in the tests: nothing can be sent, and the reply says so.
    assert sms["outbound_configured"] is False and sms["outbound"].startswith("recorded only")
    assert any("TWILIO" in m for m in sms["missing"])
    assert sms["last"]["message_id"] == reply.json()["id"] and sms["last"]["status"] == "recorded"
    assert sms["counts"] == {"recorded": 1}
    assert by_channel["email"]["last"] is None and by_channel["email"]["counts"] == {}
    assert client.get("/notify/channels", headers=auth(Role.dispatcher)).status_code == 403


def test_channel_status_counts_failures_and_hides_the_relay_path(client, auth, app, db):
    admin = auth(Role.admin)
    agent = auth(Role.agent)
    inbound = client.post("/conversations/inbound", headers=agent, json={
        "channel": "email", "external_id": "<a1@example.org>", "author_handle": "ana@example.org", "text": "Leak"})
    conversation_id = inbound.json()["conversation_id"]
    now = utcnow()
    db.add(Message(conversation_id=conversation_id, channel="email", direction="outbound", author_kind="agent",
                   text="old", sent_at=now - timedelta(hours=30), delivery_status=DeliveryStatus.sent))
    db.add(Message(conversation_id=conversation_id, channel="email", direction="outbound", author_kind="agent",
                   text="new", sent_at=now - timedelta(minutes=5), delivery_status=DeliveryStatus.failed,
                   meta={"detail": "550 mailbox unavailable", "attempts": 1}))
    db.commit()
    app.state.settings.outbound_webhook_url = "https://relay.example.org/hook/s3cr3t-token?key=abc"
    body = client.get("/notify/channels", headers=admin).json()
    email = next(c for c in body["channels"] if c["channel"] == "email")
    assert email["last"]["status"] == "failed" and email["last"]["detail"] == "550 mailbox unavailable"
    assert email["counts"] == {"failed": 1}  # the sent one is older than 24 hours
    assert "s3cr3t" not in str(body) and body["relay"]["url"] == "https://relay.example.org"
    assert email["outbound"] == "webhook relay https://relay.example.org"


def test_technician_edited_like_the_screen_edits_it(client, auth):
    admin = auth(Role.admin)
    tech = client.post("/technicians", headers=admin, json=TECH_BODY).json()
    changed = client.patch(f"/technicians/{tech['id']}", headers=admin, json={
        "skills": {"electrical": 4, "plumbing": 1}, "shift_start": "07:00", "shift_end": "15:30",
        "breaks": [], "home_lat": 39.29, "home_lon": -76.61, "availability": "off"})
    assert changed.status_code == 200, changed.text
    got = client.get(f"/technicians/{tech['id']}", headers=admin).json()
    assert got["skills"] == {"electrical": 4, "plumbing": 1} and got["shift_start"] == "07:00:00"
    assert got["breaks"] == [] and got["availability"] == "off"
    bad = client.patch(f"/technicians/{tech['id']}", headers=admin, json={"shift_end": "06:00"})
    assert bad.status_code == 422 and "shift_end" in bad.json()["detail"]
    assert client.get(f"/technicians/{tech['id']}", headers=admin).json()["shift_end"] == "15:30:00"


def test_user_role_change_and_deactivation_take_effect(client, auth, app):
    admin = auth(Role.admin)
    made = client.post("/users", headers=admin, json={"username": "new.agent", "full_name": "New Agent",
                                                      "role": "agent", "password": PASSWORD})
    assert made.status_code == 201, made.text
    user_id = made.json()["id"]
    token = client.post("/auth/token", data={"username": "new.agent", "password": PASSWORD}).json()
    assert token["role"] == "agent"
    assert client.patch(f"/users/{user_id}", headers=admin, json={"role": "dispatcher"}).json()["role"] == "dispatcher"
    assert client.post("/auth/token", data={"username": "new.agent", "password": PASSWORD}).json()["role"] \
        == "dispatcher"
    off = client.patch(f"/users/{user_id}", headers=admin, json={"is_active": False})
    assert off.status_code == 200 and off.json()["is_active"] is False
    assert client.post("/auth/token", data={"username": "new.agent", "password": PASSWORD}).status_code == 401
    # A bad username names the field; nothing is stored.
    bad = client.post("/users", headers=admin, json={"username": "no spaces", "role": "agent", "password": PASSWORD})
    assert bad.status_code == 422 and "username" in bad.json()["detail"]
    with Session(app.state.engine) as session:
        from server.auth.models import User

        assert session.query(User).filter(User.username == "no spaces").count() == 0
