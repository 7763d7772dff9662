"""Appointments end to end on the real demo city: a complaint on the customer's own channel (SMS, X DM, email) →
slot offer in their thread → their reply "2" books the window (hard window on the job, pinned to today's
technician), confirmed with a signed link → reminder the day before → done. Invalid replies get a re-ask; a window a
re-plan cannot keep is offered again; concurrent replies never book twice (SQLite and PostgreSQL).

Provider payloads are the real shapes (tests/server/intake/helpers.py and test_channels_x.py cite the docs)."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlmodel import Session, select

from server.appointments import service
from server.appointments.models import AppointmentStatus
from server.cases.models import Case
from server.dispatch.models import JobPin
from server.jobs.models import Job, JobStatus
from tests.server.appointments.conftest import NO_WATER, NO_WATER_2, appointment_of, outbound
from tests.server.dispatch.conftest import wait_solve
from tests.server.intake.helpers import email, sms
from tests.server.intake.test_channels_x import aa_dm

OFFER = re.compile(r"Reply 1 for \w{3} \d\d:\d\d–\d\d:\d\d, 2 for \w{3} \d\d:\d\d–\d\d:\d\d")


def _window(option: dict) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(option["start"]), datetime.fromisoformat(option["end"])


def _job(app, job_id: int) -> Job:  # type: ignore[no-untyped-def]
    with Session(app.state.engine) as session:
        job = session.get(Job, job_id)
        session.expunge(job)
        return job


def _offered(app, sweep, answer: dict) -> dict:  # type: ignore[no-untyped-def]
    """The sweep offers the new job's customer 2-3 windows in their thread."""
    assert answer["job_id"], answer
    assert answer["category"] == "no_water"
    assert sweep()["offered"] == 1
    offers = outbound(app, answer["conversation_id"], "appointment_offer")
    assert len(offers) == 1 and OFFER.search(offers[0].text), [m.text for m in offers]
    appt = appointment_of(app, answer["job_id"])
    assert appt.status == AppointmentStatus.offered and 2 <= len(appt.options) <= 3
    assert sweep()["offered"] == 0  # offered once
    return {"appointment": appt, "text": offers[0].text}


def _booked(app, client, answer: dict, reply: dict, n: int):  # type: ignore[no-untyped-def]
    """The reply booked option ``n``: hard window on the job, pinned, confirmed with a working link."""
    assert reply["job_id"] == answer["job_id"] and reply["case_id"] == answer["case_id"], reply
    appt = appointment_of(app, answer["job_id"])
    start, end = _window(appt.options[n - 1])
    assert appt.status == AppointmentStatus.booked
    assert (appt.window_start, appt.window_end) == (start, end)
    job = _job(app, answer["job_id"])
    assert job.pinned
    # The plan's hard window is the customer's less the last quarter kept free for delays (PLAN_MARGIN_SHARE).
    assert [(datetime.fromisoformat(w["start"]), datetime.fromisoformat(w["end"])) for w in job.time_windows] \
        == [(start, end - (end - start) * service.PLAN_MARGIN_SHARE)]
    with Session(app.state.engine) as session:
        pin = session.get(JobPin, job.id)
        today = service._local(app.state.settings, datetime.now(start.tzinfo)).date()
        if service._local(app.state.settings, start).date() == today:  # today's plan: pinned to a technician
            assert pin is not None and pin.technician_id == appt.technician_id
        cases = session.exec(select(Case).where(Case.conversation_id == answer["conversation_id"])).all()
        assert len(cases) == 1  # the answer was not triaged as a new complaint
    confirmed = outbound(app, appt.conversation_id, "appointment_confirmed")
    assert len(confirmed) == 1 and confirmed[0].text.startswith("Booked: we will come")
    url = re.search(r"https://groundcrew\.example(/appointments/self/\S+)", confirmed[0].text)
    assert url, confirmed[0].text
    page = client.get(url.group(1))
    a = service._local(app.state.settings, start)
    assert page.status_code == 200 and f"{a:%H:%M}" in page.text and "Cancel the visit" in page.text
    return appt


def _reminded_then_done(app, settings, sweep, appt) -> None:  # type: ignore[no-untyped-def]
    with Session(app.state.engine) as session:  # the day before the window, at 09:00 local
        day_before = service._local(settings, appt.window_start) - timedelta(days=1)
        count, _ = service.remind(session=session, settings=settings, now=day_before.replace(hour=9))
        session.commit()
        assert count == 1
        again, _ = service.remind(session=session, settings=settings, now=day_before.replace(hour=10))
        session.commit()
        assert again == 0  # once
    reminders = outbound(app, appt.conversation_id, "appointment_reminder")
    assert len(reminders) == 1 and reminders[0].text.startswith("Reminder: we will come tomorrow")
    with Session(app.state.engine) as session:
        job = session.get(Job, appt.job_id)
        job.status = JobStatus.completed
        session.add(job)
        session.commit()
    assert sweep()["done"] == 1
    assert appointment_of(app, appt.job_id).status == AppointmentStatus.done


def test_sms_complaint_offer_reply_2_booked_pinned_confirmed_reminded_done(app, client, day, sweep, settings):
    answer = client.post("/channels/sms", data=sms("SMa1", NO_WATER)).json()
    _offered(app, sweep, answer)
    reply = client.post("/channels/sms", data=sms("SMa2", "2")).json()
    appt = _booked(app, client, answer, reply, 2)
    _reminded_then_done(app, settings, sweep, appt)


def test_x_dm_complaint_offer_reply_booked(app, client, day, sweep, settings):
    first = client.post("/channels/twitter", json=aa_dm("1867233999999990001", NO_WATER_2))
    answer = first.json()["events"][0] if "events" in first.json() else first.json()
    offered = _offered(app, sweep, answer)
    offers = outbound(app, answer["conversation_id"], "appointment_offer")
    assert str(offers[0].channel) == "twitter" and str(offers[0].visibility) == "private"  # in the DM thread
    assert "Reply 1 for" in offered["text"]
    reply = client.post("/channels/twitter", json=aa_dm("1867233999999990002", "2")).json()
    reply = reply["events"][0] if "events" in reply else reply
    appt = _booked(app, client, answer, reply, 2)
    _reminded_then_done(app, settings, sweep, appt)


def test_email_complaint_offer_quoted_reply_booked(app, client, day, sweep, settings):
    headers = {"content-type": "message/rfc822"}
    answer = client.post("/channels/email", headers=headers, content=email("m1@example.org", NO_WATER,
                                                                           subject="No water")).json()
    offered = _offered(app, sweep, answer)
    quoted = "\n".join("> " + line for line in offered["text"].splitlines())
    reply = client.post("/channels/email", headers=headers, content=email(
        "m2@example.org", f"1\n\nOn Sat, Groundcrew wrote:\n{quoted}", subject="Re: No water",
        in_reply_to="m1@example.org", references="<m1@example.org>")).json()
    assert reply["conversation_id"] == answer["conversation_id"]
    appt = _booked(app, client, answer, reply, 1)
    _reminded_then_done(app, settings, sweep, appt)


def test_invalid_replies_get_a_clear_reask_and_long_messages_go_on_to_intake(app, client, day, sweep):
    answer = client.post("/channels/sms", data=sms("SMb1", NO_WATER)).json()
    _offered(app, sweep, answer)
    for sid, text in (("SMb2", "tomorrow?"), ("SMb3", "7")):
        reply = client.post("/channels/sms", data=sms(sid, text)).json()
        assert reply["job_id"] == answer["job_id"]
    asks = outbound(app, answer["conversation_id"], "appointment_reask")
    assert len(asks) == 2
    assert asks[0].text.startswith("Sorry, we did not understand. Please reply with just the number: 1 for")
    appt = appointment_of(app, answer["job_id"])
    assert appt.status == AppointmentStatus.offered and appt.invalid_replies == 2
    assert _job(app, answer["job_id"]).time_windows == []  # nothing booked
    # A longer message is no answer: intake files it as usual, and no re-ask goes out.
    client.post("/channels/sms", data=sms("SMb4", "Also the pressure in the kitchen has been low for a week now"))
    assert len(outbound(app, answer["conversation_id"], "appointment_reask")) == 2
    reply = client.post("/channels/sms", data=sms("SMb5", "Option 1 please")).json()
    _booked(app, client, answer, reply, 1)


def test_a_window_a_replan_cannot_keep_is_offered_again(app, client, day, sweep, settings):
    settings.appointment_days = 1  # today only: the booking joins today's plan
    answer = client.post("/channels/sms", data=sms("SMc1", NO_WATER)).json()
    _offered(app, sweep, answer)
    reply = client.post("/channels/sms", data=sms("SMc2", "1")).json()
    appt = _booked(app, client, answer, reply, 1)
    assert appt.technician_id is not None
    broken = (appt.window_start, appt.window_end)
    settings.appointment_days = 2  # the re-offer may use tomorrow
    dispatcher = day["dispatcher"]
    ana, marcus, _lee = day["technicians"]
    for tid in (ana, marcus):  # both water technicians go home sick: nobody can keep today's window
        status = client.post(f"/technicians/{tid}/dispatch-status", headers=dispatcher,
                             json={"status": "off_sick"}).json()
    if status.get("replan_solve_id"):
        wait_solve(client, dispatcher, status["replan_solve_id"])
    solve = client.post("/dispatch/solves", json={"time_limit_s": 0.5}, headers=dispatcher).json()
    assert wait_solve(client, dispatcher, solve["id"])["status"] == "succeeded"
    assert appointment_of(app, answer["job_id"]).status == AppointmentStatus.reoffer
    assert sweep()["reoffered"] == 1
    again = appointment_of(app, answer["job_id"])
    assert again.status == AppointmentStatus.offered and again.offer_round == 2
    assert all(_window(o) != broken for o in again.options) and again.options
    text = outbound(app, answer["conversation_id"], "appointment_reoffer")
    a = service._local(settings, broken[0])
    assert len(text) == 1 and text[0].text.startswith(f"We are sorry: we can no longer come {a:%a} {a:%H:%M}")
    job = _job(app, answer["job_id"])
    assert job.time_windows == [] and not job.pinned  # the old window and pin are gone until the new booking
    reply = client.post("/channels/sms", data=sms("SMc3", "1")).json()
    _ = reply
    assert appointment_of(app, answer["job_id"]).status == AppointmentStatus.booked


def test_concurrent_replies_never_double_book(app, client, day, sweep):
    answer = client.post("/channels/sms", data=sms("SMd1", NO_WATER)).json()
    _offered(app, sweep, answer)
    replies = [sms(f"SMd-{k}", str(1 + k % 2)) for k in range(6)]  # "1" and "2" three times each, at once
    with ThreadPoolExecutor(len(replies)) as pool:
        answers = list(pool.map(lambda body: client.post("/channels/sms", data=body), replies))
    assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers]
    appt = appointment_of(app, answer["job_id"])
    assert appt.status == AppointmentStatus.booked
    booked = [h for h in appt.history if h["event"] == "booked"]
    assert len(booked) == 1, appt.history
    job = _job(app, answer["job_id"])
    assert len(job.time_windows) == 1
    assert (datetime.fromisoformat(job.time_windows[0]["start"]), datetime.fromisoformat(job.time_windows[0]["end"])) \
        == service.plan_window(appt.window_start, appt.window_end)
    assert len(outbound(app, answer["conversation_id"], "appointment_confirmed")) == 1


def test_dispatcher_offers_endpoint_shows_windows_with_their_added_travel(app, client, day, auth):
    from server.auth.models import Role

    answer = client.post("/channels/sms", data=sms("SMe1", NO_WATER)).json()
    dispatcher = day["dispatcher"]
    url = f"/appointments/jobs/{answer['job_id']}/offers"
    preview = client.post(url, headers=dispatcher, json={})
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert not body["sent"] and body["appointment_id"] is None and 2 <= len(body["options"]) <= 3
    for option in body["options"]:
        assert option["added_travel_min"] == round(option["added_travel_s"] / 60, 1) and option["added_travel_s"] >= 0
        assert datetime.fromisoformat(option["end"]) - datetime.fromisoformat(option["start"]) == timedelta(hours=2)
    assert outbound(app, answer["conversation_id"], "appointment_offer") == []  # a preview sends nothing
    sent = client.post(url, headers=dispatcher, json={"send": True}).json()
    assert sent["sent"] and sent["appointment_id"]
    assert len(outbound(app, answer["conversation_id"], "appointment_offer")) == 1
    shown = client.get(f"/appointments/jobs/{answer['job_id']}", headers=dispatcher).json()
    assert shown["status"] == "offered" and len(shown["options"]) == len(sent["options"])
    assert client.post(url, headers=auth(Role.agent), json={}).status_code == 403
    assert client.post("/appointments/jobs/999999/offers", headers=dispatcher, json={}).status_code == 404
    assert client.get("/appointments/jobs/999999", headers=dispatcher).status_code == 404


def test_remind_command_sends_tomorrows_reminders_once(app, client, day, sweep, settings, monkeypatch):
    from typer.testing import CliRunner

    from server.cli import app as cli

    answer = client.post("/channels/sms", data=sms("SMf1", NO_WATER)).json()
    _offered(app, sweep, answer)
    appt = _booked(app, client, answer, client.post("/channels/sms", data=sms("SMf2", "1")).json(), 1)
    with Session(app.state.engine) as session:  # as if the customer had chosen tomorrow's window
        row = session.get(type(appt), appt.id)
        row.window_start, row.window_end = appt.window_start + timedelta(days=1), appt.window_end + timedelta(days=1)
        session.add(row)
        session.commit()
    for name, value in (("DATABASE_URL", settings.database_url), ("DATA_DIR", str(settings.data_dir)),
                        ("TIMEZONE", settings.timezone), ("SECRET_KEY", settings.secret_key),
                        ("CHANNEL_PUBLIC_URL", settings.channel_public_url)):
        monkeypatch.setenv(f"GROUNDCREW_{name}", str(value))
    first = CliRunner().invoke(cli, ["appointments", "remind"])
    assert first.exit_code == 0, first.output
    assert '"reminded": 1' in first.output.splitlines()[-1]
    again = CliRunner().invoke(cli, ["appointments", "remind"])
    assert '"reminded": 0' in again.output.splitlines()[-1]
    reminders = outbound(app, answer["conversation_id"], "appointment_reminder")
    assert len(reminders) == 1 and "/appointments/self/" in reminders[0].text


def test_self_service_page_is_rate_limited_and_signed(app, client, settings):
    from server.app import create_app

    limited = create_app(settings.model_copy(update={"appointment_page_rate_limit": "3/minute"}))
    from fastapi.testclient import TestClient

    with TestClient(limited) as browser:
        answers = [browser.get("/appointments/self/1.9999999999.forged") for _ in range(4)]
    assert [a.status_code for a in answers] == [404, 404, 404, 429]
    assert int(answers[-1].headers["Retry-After"]) >= 1
    assert "default-src 'none'" in answers[0].headers["Content-Security-Policy"]
    assert answers[0].headers["X-Frame-Options"] == "DENY"
    limited.state.engine.dispose()


def test_two_bookings_of_one_offer_at_the_same_moment_book_once(app, client, day, sweep, settings):
    """Both sessions read the offer as open before either books (what two replies racing through intake do): the
    claim (a conditional UPDATE under the plan-writer lock) lets exactly one book."""
    import threading

    from server.appointments.models import Appointment
    from server.core.city import load_city

    answer = client.post("/channels/sms", data=sms("SMg1", NO_WATER)).json()
    _offered(app, sweep, answer)
    appt_id = appointment_of(app, answer["job_id"]).id
    city = load_city(settings)
    ready = threading.Barrier(2)
    outcomes: list[str] = []

    def reply(choice: int) -> None:
        with Session(app.state.engine) as session:
            appt = session.get(Appointment, appt_id)
            assert appt.status == AppointmentStatus.offered
            session.commit()  # read, then both go at once
            ready.wait(timeout=60)
            outcomes.append(service.book(session=session, settings=settings, city=city, appointment=appt,
                                         choice=choice))
            session.commit()

    threads = [threading.Thread(target=reply, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(outcomes) == ["already", "booked"]
    appt = appointment_of(app, answer["job_id"])
    assert [h["event"] for h in appt.history].count("booked") == 1
    assert len(outbound(app, answer["conversation_id"], "appointment_confirmed")) == 1


def test_no_offer_where_the_customer_cannot_answer(app, client, day, sweep):
    """A job reported through an Open311 feed (or entered by a dispatcher) has no thread to answer in: no offer."""
    from server.jobs.models import JobReport
    from tests.server.dispatch.conftest import SITES

    lat, lon = SITES[8]
    body = {"title": "No water", "category": "no_water", "required_skills": {"water": 1}, "duration_min": 45,
            "lat": lat, "lon": lon}
    feed = client.post("/jobs", headers=day["dispatcher"], json=body).json()["id"]
    client.post("/jobs", headers=day["dispatcher"], json=body)  # no reporter at all
    with Session(app.state.engine) as session:
        session.add(JobReport(job_id=feed, channel="open311"))
        session.commit()
    assert sweep()["offered"] == 0
    assert client.post(f"/appointments/jobs/{feed}/offers", headers=day["dispatcher"],
                       json={"send": True}).status_code == 409
