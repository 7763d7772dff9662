"""The booking policy (Administration › Appointments): GET and PUT /appointments/policy (who may, what is refused and
how, the audit entry, a concurrent save), and the offers following it on the real demo city: a blackout day gets no
window, a service switched off gets no offer (the sweep, the dispatcher's send) and one switched on does, the window
length, count and days come from the policy, and a window offered before a change can still be booked."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from server.appointments import policy as booking_policy
from server.appointments import service
from server.appointments.models import Appointment, AppointmentStatus
from server.audit.models import AuditEntry
from server.auth.models import Role
from server.config import Settings
from server.core.city import load_city
from tests.server.appointments.conftest import NO_WATER, appointment_of, outbound, water_job
from tests.server.intake.helpers import sms

URL = "/appointments/policy"


def _local_today(settings: Settings) -> date:
    return datetime.now(UTC).astimezone(ZoneInfo(settings.timezone)).date()


def _days(options: list[dict]) -> set[str]:
    return {o["day"] for o in options}


# ---------------------------------------------------------------- the API


def test_nothing_stored_is_the_servers_settings_and_every_catalogue_service_is_listed(client, auth, settings):
    body = client.get(URL, headers=auth(Role.dispatcher)).json()
    expected = {"window_min": settings.appointment_window_min, "offer_count": settings.appointment_offer_count,
                "days": settings.appointment_days, "lead_min": settings.appointment_lead_min}
    assert body["defaults"] == expected and body["effective"] == expected
    assert (body["window_min"], body["version"], body["blackouts"], body["updated_by"]) == (None, 0, [], None)
    services = {s["name"]: s for s in body["services"]}
    assert services["no_water"]["offers_slots"] and services["no_water"]["override"] is None
    assert not services["pothole"]["offers_slots"] and not services["billing"]["field_work"]


def test_an_admin_saves_the_policy_and_the_change_is_audited(client, auth, app):
    admin = auth(Role.admin)
    saved = client.put(URL, headers=admin, json={
        "window_min": 90, "offer_count": 2, "days": 4, "lead_min": 30,
        "services": {"no_water": False, "pothole": True, "streetlight": False},  # streetlight: as the catalogue
        "blackouts": [{"first_day": "2026-12-31", "reason": "New Year's Eve"},
                      {"first_day": "2026-12-24", "last_day": "2026-12-26", "reason": "holidays"}],
        "version": 0})
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["effective"] == {"window_min": 90, "offer_count": 2, "days": 4, "lead_min": 30}
    assert body["version"] == 1 and body["updated_by"].startswith("admin")
    services = {s["name"]: s for s in body["services"]}
    assert (services["no_water"]["override"], services["no_water"]["offers_slots"]) == (False, False)
    assert (services["pothole"]["override"], services["pothole"]["offers_slots"]) == (True, True)
    assert services["streetlight"]["override"] is None  # equal to the catalogue: follows it
    assert body["blackouts"] == [  # in date order; one day = first and last the same
        {"first_day": "2026-12-24", "last_day": "2026-12-26", "reason": "holidays"},
        {"first_day": "2026-12-31", "last_day": "2026-12-31", "reason": "New Year's Eve"}]
    assert client.get(URL, headers=auth(Role.dispatcher)).json() == body
    with Session(app.state.engine) as session:
        entry = session.exec(select(AuditEntry).where(AuditEntry.entity == "booking_policy")).one()
    assert entry.action == "update" and entry.actor.startswith("admin")
    assert entry.detail["changes"]["window_min"] == {"from": None, "to": 90}
    assert entry.detail["changes"]["services"]["to"] == {"no_water": False, "pothole": True}

    # Numbers left out go back to the server's settings; a save from an old version is refused, not overwritten.
    again = client.put(URL, headers=admin, json={"offer_count": 3, "version": 1}).json()
    assert again["window_min"] is None and again["effective"]["window_min"] == again["defaults"]["window_min"]
    assert again["services"] == [s | {"override": None, "offers_slots": s["customer_present"] and s["field_work"]}
                                 for s in body["services"]]
    stale = client.put(URL, headers=admin, json={"offer_count": 2, "version": 1})
    assert stale.status_code == 409 and stale.json()["detail"].startswith("version:")


def test_only_an_admin_may_change_it(client, auth):
    for role in (Role.dispatcher, Role.agent):
        assert client.put(URL, headers=auth(role), json={"window_min": 60}).status_code == 403
    assert client.get(URL, headers=auth(Role.agent)).status_code == 403
    assert client.get(URL).status_code == 401


def test_bad_input_is_a_422_naming_the_field(client, auth):
    admin = auth(Role.admin)

    def refused(body: dict) -> str:
        r = client.put(URL, headers=admin, json=body)
        assert r.status_code == 422, r.text
        return r.json()["detail"]

    assert "window_min:" in refused({"window_min": 20})
    assert "window_min:" in refused({"window_min": 100})  # not whole quarter hours
    assert "offer_count:" in refused({"offer_count": 9})
    assert "days:" in refused({"days": 0})
    assert "lead_min:" in refused({"lead_min": -5})
    assert "services.sewer_dragons: not in the service catalogue" in refused({"services": {"sewer_dragons": True}})
    assert "services.billing: " in refused({"services": {"billing": True}})  # a desk service has no visit
    detail = refused({"blackouts": [{"first_day": "2026-12-26", "last_day": "2026-12-24"}]})
    assert "blackouts.0" in detail and "last_day: 2026-12-24 is before the first day 2026-12-26" in detail
    assert "blackouts.0.first_day" in refused({"blackouts": [{"first_day": "26.12.2026"}]})
    assert client.get(URL, headers=admin).json()["version"] == 0  # nothing was stored


def test_a_booked_window_on_a_new_blackout_day_is_reported(app, client, auth, day, sweep, settings):
    answer = client.post("/channels/sms", data=sms("SMp1", NO_WATER)).json()
    assert sweep()["offered"] == 1
    client.post("/channels/sms", data=sms("SMp2", "1"))
    appt = appointment_of(app, answer["job_id"])
    assert appt.status == AppointmentStatus.booked
    booked_day = service._local(settings, appt.window_start).date().isoformat()
    body = client.put(URL, headers=auth(Role.admin), json={"blackouts": [
        {"first_day": booked_day, "reason": "depot closed"}]}).json()
    assert len(body["warnings"]) == 1 and f"job {answer['job_id']} is booked" in body["warnings"][0]
    assert "depot closed" in body["warnings"][0]
    assert appointment_of(app, answer["job_id"]).status == AppointmentStatus.booked  # it stands


# ---------------------------------------------------------------- the offers follow it


def test_offer_days_skip_blackout_days_without_counting_them(settings):
    policy = booking_policy.Policy(120, 3, 3, 60, blackouts=((date(2026, 12, 8), date(2026, 12, 9), "holidays"),))
    friday = datetime(2026, 12, 4, 15, tzinfo=UTC)
    weekdays = settings.model_copy(update={"appointment_working_days": "1,2,3,4,5", "timezone": "UTC"})  # Friday
    assert service.offer_days(weekdays, friday, policy) == [date(2026, 12, 4), date(2026, 12, 7), date(2026, 12, 10)]
    assert policy.blocked(date(2026, 12, 9)) == "holidays" and policy.blocked(date(2026, 12, 10)) is None


def test_the_offers_use_the_policys_window_length_count_and_blackout_days(app, client, auth, day, settings):
    dispatcher = day["dispatcher"]
    job_id = water_job(client, dispatcher)
    url = f"/appointments/jobs/{job_id}/offers"
    before = client.post(url, headers=dispatcher, json={}).json()["options"]
    assert before and all(datetime.fromisoformat(o["end"]) - datetime.fromisoformat(o["start"])
                          == timedelta(minutes=settings.appointment_window_min) for o in before)
    today = _local_today(settings)
    offered_days = sorted(_days(before))
    assert offered_days, before
    blocked = offered_days[0]  # the first day the server offered now becomes a blackout day
    saved = client.put(URL, headers=auth(Role.admin), json={
        "window_min": 60, "offer_count": 2, "days": 2,
        "blackouts": [{"first_day": blocked, "reason": "holidays"}]})
    assert saved.status_code == 200, saved.text
    after = client.post(url, headers=dispatcher, json={}).json()
    assert after["options"], after
    assert len(after["options"]) <= 2 and blocked not in _days(after["options"])
    assert all(datetime.fromisoformat(o["end"]) - datetime.fromisoformat(o["start"]) == timedelta(minutes=60)
               for o in after["options"])
    # Two working days offered, the blackout day skipped without counting it.
    with Session(app.state.engine) as session:
        policy = booking_policy.current(session=session, settings=settings)
    days = service.offer_days(policy.apply(settings), datetime.now(UTC), policy)
    assert len(days) == 2 and date.fromisoformat(blocked) not in days and days[0] >= today
    assert _days(after["options"]) <= {d.isoformat() for d in days}


def test_a_service_switched_off_gets_no_offer_and_one_switched_on_does(app, client, auth, day, sweep, settings):
    admin = auth(Role.admin)
    assert client.put(URL, headers=admin, json={"services": {"no_water": False}}).status_code == 200
    answer = client.post("/channels/sms", data=sms("SMo1", NO_WATER)).json()
    assert answer["category"] == "no_water"
    assert sweep()["offered"] == 0 and not outbound(app, answer["conversation_id"], "appointment_offer")
    url = f"/appointments/jobs/{answer['job_id']}/offers"
    shown = client.post(url, headers=day["dispatcher"], json={}).json()
    assert shown["options"] == [] and "does not offer arrival windows" in shown["notes"][0]
    sent = client.post(url, headers=day["dispatcher"], json={"send": True})
    assert sent.status_code == 409  # the customer is not told "no time" for a service that books no visits
    assert not outbound(app, answer["conversation_id"], "appointment_no_time")
    # Switched back on: the next sweep offers the job.
    assert client.put(URL, headers=admin, json={"services": {}}).status_code == 200
    assert sweep()["offered"] == 1
    assert len(outbound(app, answer["conversation_id"], "appointment_offer")) == 1


def test_a_window_offered_before_the_length_changed_can_still_be_booked(app, client, auth, day, sweep, settings):
    admin = auth(Role.admin)
    assert client.put(URL, headers=admin, json={"window_min": 90}).status_code == 200
    answer = client.post("/channels/sms", data=sms("SMl1", NO_WATER)).json()
    assert sweep()["offered"] == 1
    offered = appointment_of(app, answer["job_id"]).options
    today = _local_today(settings)
    # A later day's window (checked against that day's windows, which are built with the window length).
    later = next(o for o in offered if service._local(settings, datetime.fromisoformat(o["start"])).date() > today)
    assert client.put(URL, headers=admin, json={"window_min": 60}).status_code == 200
    client.post("/channels/sms", data=sms("SMl2", str(later["n"])))
    appt = appointment_of(app, answer["job_id"])
    assert appt.status == AppointmentStatus.booked, appt.history
    assert appt.window_start == datetime.fromisoformat(later["start"])
    assert appt.window_end - appt.window_start == timedelta(minutes=90)  # as offered, not the new hour


def test_a_window_on_a_day_made_a_blackout_since_the_offer_is_not_booked(app, client, auth, day, sweep, settings):
    answer = client.post("/channels/sms", data=sms("SMb1", NO_WATER)).json()
    assert sweep()["offered"] == 1
    offered = appointment_of(app, answer["job_id"]).options
    chosen_day = service._local(settings, datetime.fromisoformat(offered[0]["start"])).date().isoformat()
    assert client.put(URL, headers=auth(Role.admin), json={"blackouts": [{"first_day": chosen_day}]}
                      ).status_code == 200
    client.post("/channels/sms", data=sms("SMb2", "1"))
    appt = appointment_of(app, answer["job_id"])
    assert appt.status in (AppointmentStatus.offered, AppointmentStatus.cancelled)  # new windows, or none left
    assert appt.offer_round == 2
    assert all(service._local(settings, datetime.fromisoformat(o["start"])).date().isoformat() != chosen_day
               for o in appt.options)


def test_a_reoffer_follows_the_policy(app, client, auth, day, sweep, settings):
    """A booked window a re-plan could not keep is offered again by the sweep with the policy's windows."""
    answer = client.post("/channels/sms", data=sms("SMr1", NO_WATER)).json()
    assert sweep()["offered"] == 1
    client.post("/channels/sms", data=sms("SMr2", "1"))
    assert appointment_of(app, answer["job_id"]).status == AppointmentStatus.booked
    assert client.put(URL, headers=auth(Role.admin), json={"window_min": 60, "offer_count": 2}).status_code == 200
    with Session(app.state.engine) as session:  # what kept.mark_not_kept does when a plan leaves the job out
        appt = session.exec(select(Appointment).where(Appointment.job_id == answer["job_id"])).one()
        appt.status = AppointmentStatus.reoffer
        session.add(appt)
        session.commit()
    assert sweep()["reoffered"] == 1
    appt = appointment_of(app, answer["job_id"])
    assert appt.status == AppointmentStatus.offered and appt.offer_round == 2 and 1 <= len(appt.options) <= 2
    assert all(datetime.fromisoformat(o["end"]) - datetime.fromisoformat(o["start"]) == timedelta(minutes=60)
               for o in appt.options)
    assert len(outbound(app, answer["conversation_id"], "appointment_reoffer")) == 1


def test_a_customer_booked_before_their_service_was_switched_off_can_still_reschedule(app, client, auth, day, sweep,
                                                                                        settings):
    """Switching a service off stops new offers; a customer already booked who asks for another time is offered
    windows, not told "no free time" with their visit cancelled."""
    answer = client.post("/channels/sms", data=sms("SMs1", NO_WATER)).json()
    assert sweep()["offered"] == 1
    client.post("/channels/sms", data=sms("SMs2", "1"))
    assert appointment_of(app, answer["job_id"]).status == AppointmentStatus.booked
    assert client.put(URL, headers=auth(Role.admin), json={"services": {"no_water": False}}).status_code == 200
    with Session(app.state.engine) as session:
        appt = session.exec(select(Appointment).where(Appointment.job_id == answer["job_id"])).one()
        service.reschedule(session=session, settings=settings, city=load_city(settings), appointment=appt)
        session.commit()
    appt = appointment_of(app, answer["job_id"])
    assert appt.status == AppointmentStatus.offered and appt.options, appt.history
    assert not outbound(app, answer["conversation_id"], "appointment_no_time")
