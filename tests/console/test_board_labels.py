"""GET /console/board's labels on a real database (SQLite and PostgreSQL): the first reporting customer of each job
in the active plan, nothing for jobs outside it, nothing before a plan exists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session

from server.app import create_app
from server.auth import service as auth_service
from server.auth.models import Role, UserCreate
from server.cases.models import Case
from server.config import Settings
from server.conversations.models import Conversation
from server.customers.models import Customer
from server.jobs.models import Job
from server.plans.models import Plan, PlanStop
from server.technicians.models import Technician

PASSWORD = "board-labels-1"


def test_board_labels_name_the_first_reporter_of_each_planned_job(database_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=database_url, data_dir=tmp_path, secret_key="test-secret-" + "x" * 32,
                        load_city=False)
    app = create_app(settings)
    try:
        with TestClient(app) as client, Session(app.state.engine) as db:
            auth_service.create(session=db, user_in=UserCreate(username="disp", role=Role.dispatcher,
                                                               password=PASSWORD, full_name="Disp"))
            db.commit()
            token = client.post("/auth/token", data={"username": "disp", "password": PASSWORD}).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            assert client.get("/console/board", headers=headers).json() == {"plan_version": 0, "customers": {}}

            tech = Technician(name="Ana Ruiz", skills={"roads": 2}, home_lat=39.29, home_lon=-76.61)
            jobs = [Job(title=f"Pothole {i}", category="roads", lat=39.29, lon=-76.61) for i in range(3)]
            people = [Customer(display_name=n) for n in ("Jo <b>Bloggs</b>", "Second Reporter", "Off Plan")]
            db.add_all([tech, *jobs, *people])
            db.flush()
            convs = [Conversation(customer_id=c.id or 0, subject="report") for c in people]
            db.add_all(convs)
            db.flush()
            # Job 0: two reporters (the first case wins); job 1: none; job 2: reported but not in the plan.
            db.add_all([Case(conversation_id=convs[0].id or 0, customer_id=people[0].id or 0, job_id=jobs[0].id),
                        Case(conversation_id=convs[1].id or 0, customer_id=people[1].id or 0, job_id=jobs[0].id),
                        Case(conversation_id=convs[2].id or 0, customer_id=people[2].id or 0, job_id=jobs[2].id)])
            plan = Plan(version=1, day="2026-12-05")
            db.add(plan)
            db.flush()
            at = datetime(2026, 12, 5, 14, tzinfo=UTC)
            db.add_all([PlanStop(plan_id=plan.id or 0, technician_id=tech.id or 0, job_id=j.id or 0, sequence=i,
                                 arrival_at=at + timedelta(hours=i), start_at=at + timedelta(hours=i),
                                 end_at=at + timedelta(hours=i, minutes=30)) for i, j in enumerate(jobs[:2])])
            db.commit()
            body = client.get("/console/board", headers=headers).json()
            assert body == {"plan_version": 1, "customers": {str(jobs[0].id): "Jo <b>Bloggs</b>"}}
            assert client.get("/console/board").status_code == 401
    finally:
        app.state.engine.dispose()

