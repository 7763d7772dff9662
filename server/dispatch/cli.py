"""Dispatch commands: ``groundcrew dispatch solve`` (a plan now) and ``groundcrew bench live``."""

from __future__ import annotations

import json
from typing import Annotated

import typer


def register(apps: dict[str, typer.Typer]) -> None:
    dispatch_app = typer.Typer(help="Dispatch operations.", no_args_is_help=True)
    apps["root"].add_typer(dispatch_app, name="dispatch")

    @dispatch_app.command("solve")
    def solve(
        time_limit: Annotated[float, typer.Option(min=0.1, max=600, help="Optimizer seconds.")] = 10.0,
        trigger: Annotated[str, typer.Option(help="Recorded on the plan version.")] = "morning",
    ) -> None:
        """Solve a plan for the rest of today now (in this process) and store it as a new version."""
        from sqlmodel import Session

        from server.cli import UserError
        from server.config import Settings
        from server.core.errors import DomainError
        from server.core.migrate import upgrade
        from server.dispatch import service
        from server.dispatch.models import SolveJob
        from server.dispatch.runtime import engine_for

        settings = Settings()
        upgrade(settings)
        engine = engine_for(settings)
        with Session(engine) as session:
            job = SolveJob(id=__import__("uuid").uuid4().hex, trigger=trigger, time_limit_s=time_limit,
                           requested_by="cli")
            session.add(job)
            session.commit()
            job_id = job.id
        try:
            plan_id = service.run_solve_job(engine=engine, settings=settings, solve_job_id=job_id)
        except DomainError as exc:
            raise UserError(exc.detail) from exc
        with Session(engine) as session:
            row = session.get(SolveJob, job_id)
            if row is None or row.status != "succeeded":
                raise UserError(f"solve failed: {row.error if row else 'unknown'}")
            typer.echo(json.dumps({"solve_job_id": job_id, "plan_id": plan_id, "objective": row.best_objective}))

    @apps["bench"].command("live")
    def bench_live(
        technicians: Annotated[int, typer.Option(min=1, max=500)] = 20,
        jobs: Annotated[int, typer.Option(min=1, max=5000)] = 200,
        urgent: Annotated[int, typer.Option(min=1, max=100, help="Urgent jobs to time.")] = 5,
        previews: Annotated[int, typer.Option(min=1, max=1000, help="Override previews to time.")] = 30,
        solve_s: Annotated[float, typer.Option(min=0.5, max=600, help="Morning plan optimizer seconds.")] = 10.0,
        seed: Annotated[int, typer.Option()] = 7,
        celery_workers: Annotated[int, typer.Option(
            min=0, max=64, help="Run the solves on a Celery worker with this many pool processes (needs "
                                "GROUNDCREW_BROKER_URL); 0: in this process.")] = 0,
    ) -> None:
        """Urgent job → technician + ETA posted to the customer, and override preview latency (last line JSON)."""
        from server.config import Settings
        from server.dispatch.bench import run

        result = run(technicians=technicians, jobs=jobs, urgent=urgent, previews=previews, solve_s=solve_s,
                     seed=seed, base=Settings(), echo=typer.echo, celery_workers=celery_workers)
        typer.echo(json.dumps(result))
