"""Incidents on the real demo city: three reports → one job, split, reporters told on close, asking where,
hand-off, the listening feed and proactive notices (never twice)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from server.auth.models import Role
from server.cases.models import Case
from server.conversations.models import Direction, Message
from server.jobs.models import Job, JobReport, JobStatus
from tests.server.intake.helpers import email, sms, tweet

MAIL = {"content-type": "message/rfc822"}


def _three_reports(client) -> list[dict]:  # type: ignore[no-untyped-def]
    return [
        client.post("/channels/twitter", json=tweet("i-1", "@groundcrew The streetlight at 2900 Fait Ave is out",
                                                    user_id="71", username="fait1")).json(),
        client.post("/channels/sms", data=sms("i-2", "Street light out in front of 2904 Fait Ave, pitch black",
                                              sender="+14105550171")).json(),
        client.post("/channels/email", headers=MAIL, content=email(
            "i-3@x", "The lights are out at the corner of Fait Ave and Linwood", sender="ann@example.org")).json(),
    ]


def test_three_complaints_about_one_place_become_one_job(geo_client, geo_app, auth):
    staff = auth(Role.dispatcher)
    first, second, third = _three_reports(geo_client)
    assert first["job_id"] is not None and first["geotag"]["kind"] == "address"
    assert first["geotag"]["confidence"] >= 0.6 and "alternatives" in first["geotag"]
    assert second["job_id"] == first["job_id"] == third["job_id"]
    assert (first["joined_incident"], second["joined_incident"], third["joined_incident"]) == (False, True, True)
    job = geo_client.get(f"/jobs/{first['job_id']}", headers=staff).json()
    assert job["reporter_count"] == 3 and job["category"] == "streetlight"
    reporters = geo_client.get(f"/jobs/{first['job_id']}/reporters", headers=staff).json()
    assert sorted(r["channel"] for r in reporters) == ["email", "sms", "twitter"]
    assert len({r["customer_id"] for r in reporters}) == 3

    split = geo_client.post(f"/jobs/{first['job_id']}/reports/{reporters[2]['id']}/split", headers=staff)
    assert split.status_code == 201, split.text
    assert geo_client.get(f"/jobs/{first['job_id']}", headers=staff).json()["reporter_count"] == 2
    assert split.json()["reporter_count"] == 1
    board = {j["id"]: j["reporter_count"] for j in geo_client.get("/jobs", headers=staff).json()["items"]}
    assert board == {first["job_id"]: 2, split.json()["id"]: 1}  # the job board counts the same
    assert geo_client.post(f"/jobs/{split.json()['id']}/reports/{reporters[2]['id']}/split",
                           headers=staff).status_code == 409
    assert geo_client.post(f"/jobs/{first['job_id']}/reports/999999/split", headers=staff).status_code == 404

    with Session(geo_app.state.engine) as session:  # the technician app closes the job
        job_row = session.get(Job, first["job_id"])
        job_row.status = JobStatus.completed
        session.add(job_row)
        session.commit()
        notices = session.exec(select(Message).where(Message.direction == Direction.outbound)).all()
        closed = [m for m in notices if (m.meta or {}).get("kind") == "job_closed"]
        assert sorted(str(m.channel) for m in closed) == ["sms", "twitter"]
        assert {m.conversation_id for m in closed} == {first["conversation_id"], second["conversation_id"]}
        assert all("fixed" in m.text for m in closed)
        case = session.get(Case, first["case_id"])
        assert str(case.status) == "closed"
        job_row.status = JobStatus.completed  # no change: nobody is told twice
        job_row.title = job_row.title + " "
        session.add(job_row)
        session.commit()
        again = session.exec(select(Message).where(Message.direction == Direction.outbound)).all()
        assert len([m for m in again if (m.meta or {}).get("kind") == "job_closed"]) == 2


def test_only_reports_within_the_incident_window_join_its_job(geo_client, geo_app):
    """The same streetlight reported a day beyond the window (72 h) is an older incident: a new report gets its own
    job; one sent an hour ago joins the new job (the old one is beyond the window from it too)."""
    window = geo_app.state.settings.incident_window_hours
    old = (datetime.now(UTC) - timedelta(hours=window + 24)).strftime("%Y-%m-%dT%H:%M:%SZ")
    recent = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = "@groundcrew The streetlight at 2900 Fait Ave is out"
    first = geo_client.post("/channels/twitter", json=tweet("w-1", text, user_id="81", username="w1",
                                                            created_at=old)).json()
    later = geo_client.post("/channels/sms", data=sms("w-2", "Street light out in front of 2904 Fait Ave",
                                                      sender="+14105550181")).json()
    assert first["job_id"] is not None and later["job_id"] not in (None, first["job_id"])
    assert later["joined_incident"] is False
    near = geo_client.post("/channels/twitter", json=tweet("w-3", "@groundcrew Streetlight out at 2900 Fait Ave",
                                                           user_id="82", username="w2", created_at=recent)).json()
    assert near["job_id"] == later["job_id"] and near["joined_incident"] is True


def test_unlocated_complaint_asks_where_and_the_answer_regeotags(geo_client, geo_app):
    first = geo_client.post("/channels/sms", data=sms("n-1", "A streetlight is out and the street is pitch black",
                                                      sender="+14105550172")).json()
    assert first["needs_location"] is True and first["job_id"] is None and first["case_status"] == "needs_location"
    with Session(geo_app.state.engine) as session:
        asked = session.exec(select(Message).where(Message.conversation_id == first["conversation_id"],
                                                   Message.direction == Direction.outbound)).all()
        assert len(asked) == 1 and "address" in asked[0].text and str(asked[0].channel) == "sms"
    answer = geo_client.post("/channels/sms", data=sms("n-2", "It's at 2900 Fait Ave", sender="+14105550172")).json()
    assert answer["case_id"] == first["case_id"] and answer["needs_location"] is False
    assert answer["geotag"]["confident"] is True and answer["geotag"]["rerun_on_message_id"] == answer["message_id"]
    assert answer["job_id"] is not None and answer["case_status"] == "handed_off"


def test_an_address_found_beyond_the_mapped_area_is_not_dispatched_nor_asked_again(geo_client):
    """Greenmount Ave runs on north past the extract's edge with none of its cross streets: the address is found
    there, outside the service area, so no job is made and the customer is not asked where again."""
    got = geo_client.post("/channels/sms", data=sms("o-1", "Streetlight out at 2900 Greenmount Ave",
                                                    sender="+14105550173")).json()
    assert got["job_id"] is None and got["needs_location"] is False and got["case_status"] == "open"
    assert got["geotag"]["outside_service_area"] is True and got["geotag"]["confident"] is False
    assert got["geotag"]["lat"] is not None and "outside the service area" in got["geotag"]["explanation"]


def test_handoff_in_one_call(geo_client, auth):
    agent = auth(Role.agent)
    made = geo_client.post("/channels/webform", json={"submission_id": "h-1", "email": "h@example.org",
                                                      "text": "Rats everywhere behind the houses"}).json()
    case_id = made["case_id"]
    assert made["job_id"] is None
    no_place = geo_client.post(f"/cases/{case_id}/handoff", headers=agent)
    assert no_place.status_code == 422 and "lat/lon" in no_place.json()["detail"]
    assert geo_client.post(f"/cases/{case_id}/handoff", json={"lat": 39.28}, headers=agent).status_code == 422
    assert geo_client.post(f"/cases/{case_id}/handoff", json={"lat": 99, "lon": 1}, headers=agent).status_code == 422
    done = geo_client.post(f"/cases/{case_id}/handoff", json={"lat": 39.2860, "lon": -76.5750}, headers=agent)
    assert done.status_code == 201, done.text
    job = done.json()["job"]
    assert (job["lat"], job["lon"]) == (39.2860, -76.5750) and job["reporter_count"] == 1
    again = geo_client.post(f"/cases/{case_id}/handoff", headers=agent)
    assert again.status_code == 200 and again.json()["job"]["id"] == job["id"]
    assert geo_client.post("/cases/999999/handoff", headers=agent).status_code == 404
    assert geo_client.post(f"/cases/{case_id}/handoff", headers=auth(Role.technician)).status_code == 403


def test_listening_feed_and_reply(geo_client, auth):
    agent = auth(Role.agent)
    post = geo_client.post("/channels/twitter", json=tweet(
        "l-1", "ugh the streetlight at 2900 Fait Ave is out again", user_id="81", username="neighbour")).json()
    assert post["listening"] is True and post["case_id"] is None
    unrelated = geo_client.post("/channels/twitter", json=tweet("l-2", "great game tonight", user_id="82")).json()
    assert unrelated["listening"] is True
    feed = geo_client.get("/listening", headers=agent).json()
    assert feed["total"] == 1 and feed["items"][0]["message_id"] == post["message_id"]
    assert feed["items"][0]["category"] == "streetlight" and feed["items"][0]["text"].startswith("ugh")
    mention_id = feed["items"][0]["id"]
    reply = geo_client.post(f"/listening/{mention_id}/reply", json={"text": "Thanks, we are on it"}, headers=agent)
    assert reply.status_code == 200 and reply.json()["status"] == "answered"
    assert geo_client.post(f"/listening/{mention_id}/reply", json={"text": "again"}, headers=agent).status_code == 409
    assert geo_client.post(f"/listening/{mention_id}/reply", json={"text": ""}, headers=agent).status_code == 422
    assert geo_client.get("/listening", headers=agent).json()["total"] == 0


def test_proactive_notice_goes_once_to_neighbours_who_did_not_report(geo_client, geo_app, auth):
    agent = auth(Role.agent)
    first, *_ = _three_reports(geo_client)
    near = geo_client.post("/customers", headers=agent, json={
        "display_name": "Nia Near", "address": "2910 Fait Ave", "address_lat": 39.2834, "address_lon": -76.5745,
        "preferred_channel": "sms"}).json()
    geo_client.post(f"/customers/{near['id']}/identities", json={"channel": "email", "handle": "nia@example.org"},
                    headers=agent)
    geo_client.post(f"/customers/{near['id']}/identities", json={"channel": "sms", "handle": "+14105550999"},
                    headers=agent)
    far = geo_client.post("/customers", headers=agent, json={
        "display_name": "Finn Far", "address_lat": 39.30, "address_lon": -76.60}).json()
    affected = geo_client.get(f"/jobs/{first['job_id']}/affected-customers", headers=agent).json()
    ids = [a["customer_id"] for a in affected]
    assert near["id"] in ids and far["id"] not in ids and first["customer_id"] not in ids
    assert next(a for a in affected if a["customer_id"] == near["id"])["channel"] == "sms"
    sent = geo_client.post(f"/jobs/{first['job_id']}/proactive-notice", json={"customer_ids": [near["id"]]},
                           headers=agent)
    assert sent.status_code == 200 and [n["channel"] for n in sent.json()] == ["sms"]
    twice = geo_client.post(f"/jobs/{first['job_id']}/proactive-notice", json={"customer_ids": [near["id"]]},
                            headers=agent)
    assert twice.status_code == 200 and twice.json() == []
    bad = geo_client.post(f"/jobs/{first['job_id']}/proactive-notice", json={"customer_ids": [far["id"]]},
                          headers=agent)
    assert bad.status_code == 422 and "customer_ids" in bad.json()["detail"]
    with Session(geo_app.state.engine) as session:
        notes = session.exec(select(Message).where(Message.customer_id == near["id"])).all()
        assert len(notes) == 1 and str(notes[0].channel) == "sms"
        assert len(session.exec(select(JobReport).where(JobReport.job_id == first["job_id"])).all()) == 3
