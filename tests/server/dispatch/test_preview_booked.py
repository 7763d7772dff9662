"""The cost preview and booked windows (issue 30, item 4): a change that makes a technician arrive after the window
booked with a customer is timed all the same and says whose window it breaks and the new arrival; the commit is
refused unless the dispatcher confirms it (``break_booked_windows``), and then the booking is let go and goes to a
re-offer. Before, the preview only said "breaks a hard rule" (the booked window is a hard time window) and nobody
could make the change. The job list carries the booked window (the schedule board draws it)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from server.appointments.models import Appointment, AppointmentStatus
from server.auth.models import Role
from server.conversations.models import Conversation
from server.customers.models import Customer
from server.jobs.models import Job
from tests.server.dispatch.conftest import job_body, technician_body, wait_solve


def _day(client, auth, settings) -> tuple[dict[str, str], int, list[int]]:  # type: ignore[no-untyped-def]
    """Ana, the only electrician, with four street-light jobs planned in her day."""
    dispatcher = auth(Role.dispatcher)
    ana = client.post("/technicians", json=technician_body("Ana Ruiz", 0, {"electrical": 3}),
                      headers=dispatcher).json()["id"]
    for i in range(4):
        assert client.post("/jobs", json=job_body(settings, f"light {i}", 2 + i), headers=dispatcher).status_code == 201
    solve = client.post("/dispatch/solves", json={"time_limit_s": 0.5}, headers=dispatcher).json()
    assert wait_solve(client, dispatcher, solve["id"])["status"] == "succeeded"
    plan = client.get("/plans/current", headers=dispatcher).json()
    day = [s for s in sorted(plan["stops"], key=lambda s: s["sequence"]) if s["technician_id"] == ana]
    assert len(day) == 4, plan
    return dispatcher, ana, [s["job_id"] for s in day]


def _book(app, job_id: int, start: datetime, end: datetime, name: str) -> int:  # type: ignore[no-untyped-def]
    """A booked appointment as server/appointments leaves it: the window on the appointment and on the job as its
    hard time window."""
    with Session(app.state.engine) as session:
        customer = Customer(display_name=name)
        session.add(customer)
        session.flush()
        conversation = Conversation(customer_id=customer.id or 0, subject="no light")
        session.add(conversation)
        session.flush()
        appt = Appointment(job_id=job_id, customer_id=customer.id, conversation_id=conversation.id or 0,
                           status=AppointmentStatus.booked, window_start=start, window_end=end, booked_at=start)
        session.add(appt)
        job = session.get(Job, job_id)
        assert job is not None
        job.time_windows = [{"start": start.isoformat(), "end": end.isoformat()}]
        session.add(job)
        session.commit()
        return appt.id or 0


def test_the_preview_says_whose_booked_window_a_change_breaks(client, auth, settings, app) -> None:  # type: ignore[no-untyped-def]
    dispatcher, ana, day = _day(client, auth, settings)
    plan = client.get("/plans/current", headers=dispatcher).json()
    first = next(s for s in plan["stops"] if s["job_id"] == day[0])
    arrival = datetime.fromisoformat(first["arrival_at"])
    # Booked around the planned arrival of her first job: the plan keeps it.
    start, end = arrival - timedelta(minutes=30), arrival + timedelta(minutes=10)
    appt = _book(app, day[0], start, end, "Jo Bloggs")

    kept = client.post("/dispatch/overrides/preview", headers=dispatcher,
                       json={"action": "reorder", "technician_id": ana, "job_ids": day})
    assert kept.status_code == 200, kept.text
    body = kept.json()
    assert body["feasible"]
    assert [(b["job_id"], b["breaks"], b["customer"]) for b in body["booked_windows"]] == [(day[0], False, "Jo Bloggs")]

    # Her first job moved to the end of her day: she arrives hours after the window.
    late = [*day[1:], day[0]]
    moved = client.post("/dispatch/overrides/preview", headers=dispatcher,
                        json={"action": "reorder", "technician_id": ana, "job_ids": late})
    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert body["feasible"], body["notes"]  # every other rule holds: a dispatcher may break a booking
    [check] = body["booked_windows"]
    assert check["job_id"] == day[0] and check["breaks"] is True and check["customer"] == "Jo Bloggs"
    assert datetime.fromisoformat(check["start"]) == start and datetime.fromisoformat(check["end"]) == end
    eta = datetime.fromisoformat(check["eta"])
    assert eta > end and eta == datetime.fromisoformat(body["etas"][str(day[0])])

    # Committed only when the dispatcher confirms it.
    refused = client.post("/dispatch/overrides/commit", headers=dispatcher,
                          json={"action": "reorder", "technician_id": ana, "job_ids": late})
    assert refused.status_code == 409 and "break_booked_windows" in refused.json()["detail"]
    assert client.get("/plans/current", headers=dispatcher).json()["version"] == plan["version"]
    done = client.post("/dispatch/overrides/commit", headers=dispatcher,
                       json={"action": "reorder", "technician_id": ana, "job_ids": late, "break_booked_windows": True})
    assert done.status_code == 200, done.text
    after = client.get("/plans/current", headers=dispatcher).json()
    stops = sorted(after["stops"], key=lambda s: s["sequence"])
    assert [s["job_id"] for s in stops if s["technician_id"] == ana] == late
    with Session(app.state.engine) as session:
        row = session.get(Appointment, appt)
        job = session.get(Job, day[0])
        assert row is not None and job is not None
        assert row.status == AppointmentStatus.reoffer  # the sweep offers the customer new windows
        assert job.time_windows == []  # the broken window no longer binds the next re-plan
    assert client.get(f"/jobs/{day[0]}", headers=dispatcher).json()["booked_start"] is None


def test_a_rule_other_than_the_booking_still_makes_the_change_infeasible(client, auth, settings, app) -> None:  # type: ignore[no-untyped-def]
    """Only the booked windows are left open: another job's own hard window still refuses the change."""
    dispatcher, ana, day = _day(client, auth, settings)
    plan = client.get("/plans/current", headers=dispatcher).json()
    arrivals = {s["job_id"]: datetime.fromisoformat(s["arrival_at"]) for s in plan["stops"]}
    a0 = arrivals[day[0]]
    _book(app, day[0], a0 - timedelta(minutes=30), a0 + timedelta(minutes=10), "Jo Bloggs")
    # Her second job's own window (not a booking) around its planned arrival: the day reversed misses it too.
    a1 = arrivals[day[1]]
    with Session(app.state.engine) as session:
        job = session.get(Job, day[1])
        assert job is not None
        job.time_windows = [{"start": (a1 - timedelta(minutes=30)).isoformat(),
                             "end": (a1 + timedelta(minutes=5)).isoformat()}]
        session.add(job)
        session.commit()
    order = [day[3], day[2], day[1], day[0]]
    body: dict[str, Any] = client.post("/dispatch/overrides/preview", headers=dispatcher,
                                       json={"action": "reorder", "technician_id": ana, "job_ids": order}).json()
    assert body["feasible"] is False
    assert body["booked_windows"] == []  # the day was not timed: nothing to say about the booking


def test_the_job_list_carries_the_booked_window(client, auth, settings, app) -> None:  # type: ignore[no-untyped-def]
    dispatcher = auth(Role.dispatcher)
    booked = client.post("/jobs", json=job_body(settings, "booked light", 2), headers=dispatcher).json()["id"]
    plain = client.post("/jobs", json=job_body(settings, "plain light", 3), headers=dispatcher).json()["id"]
    start = datetime.fromisoformat("2030-03-05T15:00:00+00:00")
    _book(app, booked, start, start + timedelta(hours=2), "Jo Bloggs")
    rows = {j["id"]: j for j in client.get("/jobs", headers=dispatcher).json()["items"]}
    assert datetime.fromisoformat(rows[booked]["booked_start"]) == start
    assert datetime.fromisoformat(rows[booked]["booked_end"]) == start + timedelta(hours=2)
    assert rows[plain]["booked_start"] is None and rows[plain]["booked_end"] is None
    one = client.get(f"/jobs/{booked}", headers=dispatcher).json()
    assert datetime.fromisoformat(one["booked_end"]) == start + timedelta(hours=2)
    # An edit's answer (and its job.updated event, built the same way) keeps it.
    edited = client.patch(f"/jobs/{booked}", headers=dispatcher, json={"priority": 9})
    assert edited.status_code == 200 and datetime.fromisoformat(edited.json()["booked_start"]) == start
    # An offer not yet answered, or a cancelled booking, is no booked window.
    with Session(app.state.engine) as session:
        appt = session.exec(select(Appointment).where(Appointment.job_id == booked)).one()
        appt.status = AppointmentStatus.cancelled
        session.add(appt)
        session.commit()
    assert client.get(f"/jobs/{booked}", headers=dispatcher).json()["booked_start"] is None
