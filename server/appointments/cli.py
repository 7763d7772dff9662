"""Appointment commands: ``groundcrew appointments remind`` (the day-before reminders, e.g. from cron) and
``groundcrew appointments sweep`` (one round of the periodic work an API process does by itself)."""

from __future__ import annotations

import json

import typer


def register(apps: dict[str, typer.Typer]) -> None:
    appointments_app = typer.Typer(help="Appointments booked with customers.", no_args_is_help=True)
    apps["root"].add_typer(appointments_app, name="appointments")

    @appointments_app.command("remind")
    def remind() -> None:
        """Send the day-before reminder for every visit booked for tomorrow (once each; safe to run often)."""
        from sqlmodel import Session

        from server.appointments import service
        from server.config import Settings
        from server.core.migrate import upgrade
        from server.dispatch.runtime import engine_for
        from server.notify.service import deliver_queued

        settings = Settings()
        upgrade(settings)
        engine = engine_for(settings)
        with Session(engine) as session:
            count, _ = service.remind(session=session, settings=settings)
            session.commit()
        delivered = deliver_queued(engine=engine, settings=settings, schedule_retries=False)
        typer.echo(json.dumps({"reminded": count, "delivery_attempts": delivered}))

    @appointments_app.command("sweep")
    def sweep() -> None:
        """Offers for new jobs that need the customer, re-offers for broken windows, reminders (one round)."""
        from server.appointments import service
        from server.config import Settings
        from server.core.migrate import upgrade
        from server.dispatch.runtime import engine_for

        settings = Settings()
        upgrade(settings)
        typer.echo(json.dumps(service.sweep(engine=engine_for(settings), settings=settings)))
