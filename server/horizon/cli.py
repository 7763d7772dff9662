"""``groundcrew horizon plan``: plan the working days after today (run nightly for the roll-over, e.g. from cron)."""

from __future__ import annotations

import json
from typing import Annotated

import typer


def register(apps: dict[str, typer.Typer]) -> None:
    horizon_app = typer.Typer(help="The multi-day planning horizon.", no_args_is_help=True)
    apps["root"].add_typer(horizon_app, name="horizon")

    @horizon_app.command("plan")
    def plan(
        time_limit: Annotated[float, typer.Option(min=0.1, max=600, help="Optimizer seconds.")] = 10.0,
        trigger: Annotated[str, typer.Option(help="Recorded on the run (e.g. nightly).")] = "nightly",
    ) -> None:
        """Plan the open jobs today's plan does not hold over the next working days; last line JSON."""
        from sqlmodel import Session

        from server.config import Settings
        from server.core.city import load_city
        from server.core.db import make_engine
        from server.core.migrate import upgrade
        from server.horizon import service

        settings = Settings()
        upgrade(settings)
        with Session(make_engine(settings)) as session:
            run = service.plan_horizon(session=session, settings=settings, city=load_city(settings),
                                       time_limit_s=time_limit, trigger=trigger)
            typer.echo(json.dumps({"run_id": run.id, "days": run.days, "technicians": run.technicians,
                                   "jobs": run.jobs, "planned": run.planned, "travel_min": run.travel_min,
                                   "unassigned": len(run.unassigned)}))
