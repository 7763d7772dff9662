"""``groundcrew import address-points FILE``: known address points into the deployment's store and its city."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

FORMAT_CHOICES = ("auto", "csv", "openaddresses-csv", "openaddresses-geojson")


def register(apps: dict[str, typer.Typer]) -> None:
    from server.cli import UserError

    @apps["import"].command("address-points")
    def import_address_points(
        file: Annotated[Path, typer.Argument(help="CSV text,lat,lon; OpenAddresses CSV or GeoJSON.")],
        format_: Annotated[str, typer.Option("--format", help="auto (by suffix and header), csv (text,lat,lon), "
                                             "openaddresses-csv or openaddresses-geojson.")] = "auto",
        source: Annotated[str, typer.Option(help="Where the points come from, stored with each (e.g. "
                                            "'boston-311-2015', 'openaddresses').")] = "import",
        skip_bad: Annotated[bool, typer.Option("--skip-bad", help="Import the good rows even when some are bad "
                                               "(the bad ones are still listed).")] = False,
    ) -> None:
        """Load known address points (a geocoded 311 history, OpenAddresses, a customer list) into the store and
        the city's gazetteer. Every row is checked first (readable, inside the city's map); with any bad row
        nothing is imported unless --skip-bad. Rows on a 'not geocoded' stand-in point of the file are dropped.
        Idempotent: points already stored are not stored again. Running API processes learn the new points
        when they next load the city (restart)."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        from geodata.address_points import AddressFileError, detect_format
        from server.addresses.service import FIELD_SOURCE, import_points
        from server.config import Settings
        from server.core.city import load_city
        from server.core.db import make_engine
        from server.core.migrate import upgrade

        if format_ not in FORMAT_CHOICES:
            raise UserError(f"--format must be one of {', '.join(FORMAT_CHOICES)} (got '{format_}')")
        if not file.is_file():
            raise UserError(f"FILE: {file} does not exist")
        if not source.strip() or len(source) > 60:
            raise UserError("--source: give a name of 1..60 characters")
        if source.strip() == FIELD_SOURCE:
            raise UserError(f"--source: '{FIELD_SOURCE}' is kept for locations confirmed on site by technicians")
        if format_ == "auto":  # a file of no known format is refused before the city (minutes for a big one) loads
            try:
                detect_format(file)
            except AddressFileError as exc:
                raise UserError(str(exc)) from None
        settings = Settings()
        upgrade(settings)
        typer.echo(f"Loading the city from {settings.osm_source} ...", err=True)
        try:
            city = load_city(settings, progress=True)
        except Exception as exc:  # every point is checked against the map: without it nothing can be imported
            raise UserError(f"the city's street map could not be loaded ({exc}); set GROUNDCREW_OSM_SOURCE") from None
        engine = make_engine(settings)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        try:
            with Progress(*columns, transient=True) as bar:
                task = bar.add_task("Reading", total=None)

                def progress(stage: str, done: int, total: int) -> None:
                    bar.update(task, description=stage, completed=done, total=total or None)

                report = import_points(engine=engine, city=city, path=file, fmt=format_, source=source.strip(),
                                       skip_bad=skip_bad, progress=progress)
        except AddressFileError as exc:
            raise UserError(str(exc)) from None
        finally:
            engine.dispose()
        for problem in report.problems:
            typer.echo(f"{file.name}: {problem}", err=True)
        data = report.as_dict()
        stand_ins = "".join(f" {lat:g},{lon:g}" for lat, lon in report.placeholder_points)
        typer.echo(f"{report.rows} rows read: {report.imported} imported, {report.already_known} already known, "
                   f"{report.repeated} repeated in the file, {report.placeholder_rows} dropped on a 'not geocoded' "
                   f"stand-in point{stand_ins and ' (' + stand_ins.strip() + ')'}, {report.bad} bad "
                   f"({data['seconds']} s)")
        if data["taught"]:
            typer.echo(f"the city's gazetteer: {data['taught']}")
        typer.echo(json.dumps(data, default=str))
        if report.problems and not report.stored:
            raise UserError(f"{report.bad} bad row(s) (listed above): nothing was imported; fix them, or import the "
                            "good rows with --skip-bad")
