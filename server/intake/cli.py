"""``groundcrew import twcs|311|imap`` and ``groundcrew bench ingest``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def _city(settings, with_city: bool):  # type: ignore[no-untyped-def]
    if not with_city:
        return None
    from server.core.city import load_city

    return load_city(settings)


def _progress_run(label: str, fn, **kwargs):  # type: ignore[no-untyped-def]
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task(label, total=None)
        return fn(progress=lambda done, total: progress.update(task, completed=done, total=total), **kwargs)


def _print_summary(summary) -> None:  # type: ignore[no-untyped-def]
    data = summary.as_dict()
    typer.echo(f"{data['rows']} rows: {data['imported']} imported, {data['skipped']} skipped (already imported), "
               f"{data['rejected']} rejected; {data['jobs_created']} jobs created, {data['joined_incidents']} joined "
               f"an open job, {data['needs_location']} need a location ({data['seconds']} s)")
    for kind, count in data.get("outcomes", {}).items():
        typer.echo(f"  imported {count} x {kind}")
    for reason, count in data["reject_reasons"].items():
        typer.echo(f"  rejected {count} x {reason} (not stored: fix these rows and import again; rows already "
                   "stored are skipped)")
    for reason, count in data["skip_reasons"].items():
        typer.echo(f"  skipped {count} x {reason}")
    typer.echo(json.dumps(data, default=str))


def register(apps: dict[str, typer.Typer]) -> None:
    from server.cli import UserError

    import_app = apps["import"]

    @import_app.command("twcs")
    def import_twcs(
        file: Annotated[Path, typer.Argument(help="twcs.csv (Customer Support on Twitter).")],
        batch: Annotated[int, typer.Option(min=1, max=10000, help="Rows per commit.")] = 200,
        limit: Annotated[int | None, typer.Option(min=1, help="Only the first N rows (by time).")] = None,
        city: Annotated[bool, typer.Option(help="Geotag with the street map (tweets rarely name places).")] = False,
    ) -> None:
        """Import twcs threads: customers, conversations, cases; brand replies as agent messages (idempotent)."""
        from server.config import Settings
        from server.core.db import make_engine
        from server.core.migrate import upgrade
        from server.intake.importers import RowError
        from server.intake.importers import import_twcs as run

        if not file.is_file():
            raise UserError(f"FILE: {file} does not exist")
        settings = Settings()
        upgrade(settings)
        engine = make_engine(settings)
        try:
            summary = _progress_run("Importing twcs", run, engine=engine, settings=settings, path=file,
                                    city=_city(settings, city), batch=batch, limit=limit)
        except RowError as exc:
            raise UserError(str(exc)) from None
        finally:
            engine.dispose()
        _print_summary(summary)

    @import_app.command("imap")
    def import_imap(
        watch: Annotated[bool, typer.Option(help="Keep polling every GROUNDCREW_IMAP_POLL_S seconds (a worker).")]
        = False,
        city: Annotated[bool, typer.Option(help="Geotag with the street map (off: GPS-less mail waits for an "
                                           "address reply).")] = True,
    ) -> None:
        """Poll the IMAP mailbox (GROUNDCREW_IMAP_HOST/USER/PASSWORD): file every UNSEEN message, mark it seen."""
        from server.config import Settings
        from server.core.db import make_engine
        from server.core.errors import Invalid
        from server.core.migrate import upgrade
        from server.intake import imap

        settings = Settings()
        upgrade(settings)
        engine = make_engine(settings)
        where = _city(settings, city and settings.load_city)
        try:
            if watch:
                imap.watch(engine=engine, settings=settings, city=where,
                           on_poll=lambda s: typer.echo(json.dumps(s.as_dict())))
            else:
                typer.echo(json.dumps(imap.poll(engine=engine, settings=settings, city=where).as_dict()))
        except Invalid as exc:
            raise UserError(str(exc)) from None
        except OSError as exc:
            raise UserError(f"imap_host: cannot reach {settings.imap_host}:{settings.imap_port} ({exc})") from None
        except KeyboardInterrupt:
            pass
        finally:
            engine.dispose()

    @import_app.command("311")
    def import_311(
        file: Annotated[Path, typer.Argument(help="311 service requests CSV.")],
        format_: Annotated[str, typer.Option("--format", help="baltimore311 or generic (id,text,created_at,lat,lon,"
                                             "address,service_code,name,email,phone).")] = "baltimore311",
        batch: Annotated[int, typer.Option(min=1, max=10000, help="Rows per commit.")] = 200,
        limit: Annotated[int | None, typer.Option(min=1, help="Only the first N rows.")] = None,
        city: Annotated[bool, typer.Option(help="Geotag addresses with the street map (settings.osm_source).")] = True,
    ) -> None:
        """Import 311 service requests: geotagged (address text when the point is missing or is the file's
        "not geocoded" stand-in, found from the data), triaged, handed off to jobs by the policy (idempotent)."""
        from server.config import Settings
        from server.core.db import make_engine
        from server.core.migrate import upgrade
        from server.intake.importers import RowError
        from server.intake.importers import import_311 as run

        if format_ not in ("baltimore311", "generic"):
            raise UserError("--format must be 'baltimore311' or 'generic'")
        if not file.is_file():
            raise UserError(f"FILE: {file} does not exist")
        settings = Settings()
        upgrade(settings)
        engine = make_engine(settings)
        try:
            summary = _progress_run("Importing 311", run, engine=engine, settings=settings, path=file, fmt=format_,
                                    city=_city(settings, city), batch=batch, limit=limit)
        except RowError as exc:
            raise UserError(str(exc)) from None
        finally:
            engine.dispose()
        _print_summary(summary)

