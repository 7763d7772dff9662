"""``groundcrew technician add|list|import`` and ``groundcrew skills list``: set up a workforce without the API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from server.technicians.roster import COLUMNS

if TYPE_CHECKING:
    from server.config import Settings
    from server.technicians.models import Technician
    from server.technicians.roster import Geocode, RosterRow


def skills_text(skills: dict[str, int]) -> str:
    """{"electrical": 2, "roads": 1} → "electrical:2;roads:1" (the roster's own format)."""
    return ";".join(f"{name}:{level}" for name, level in sorted(skills.items()))


def breaks_text(breaks: list[dict[str, Any]]) -> str:
    """Break rules → "11:30-14:00/30" (the roster's own format)."""
    return ";".join(f"{str(b['earliest'])[:5]}-{str(b['latest'])[:5]}/{b['duration_min']}" for b in breaks)


def _as_row(tech: Technician) -> dict[str, Any]:
    from server.technicians.models import weekly_summary

    return {"id": tech.id, "name": tech.name, "skills": skills_text(tech.skills or {}),
            "shift": weekly_summary(tech) if tech.weekly_shifts else
            f"{tech.shift_start.strftime('%H:%M')}-{tech.shift_end.strftime('%H:%M')}",
            "breaks": breaks_text(tech.breaks or []), "home_lat": round(tech.home_lat, 6),
            "home_lon": round(tech.home_lon, 6), "availability": str(tech.availability), "phone": tech.phone or ""}


def _geocoder(settings: Settings) -> Geocode:
    """Addresses → home points with our geotagger on the city's map (loaded once; a UserError without one)."""
    from server.cli import UserError
    from server.core.city import load_city
    from server.intake.geotag import locate

    typer.echo(f"Loading the city from {settings.osm_source} to geotag addresses ...", err=True)
    try:
        city = load_city(settings, progress=True)
    except Exception as exc:  # any failure to build the map means no address can be placed
        raise UserError(f"the city's street map could not be loaded ({exc}); set GROUNDCREW_OSM_SOURCE, or give "
                        "home_lat/home_lon instead of addresses") from None

    def geocode(address: str) -> tuple[float, float] | str:
        found = locate(city=city, text=address, stated_address=address,
                       min_confidence=settings.geotag_min_confidence)
        if found.get("confident") and found.get("lat") is not None:
            return float(found["lat"]), float(found["lon"])
        if found.get("lat") is not None:
            return (f"not placed confidently (best guess {found['lat']:.5f}, {found['lon']:.5f}, confidence "
                    f"{found.get('confidence', 0):.2f}: {found.get('explanation', '')[:120]})")
        return f"not found on the map ({found.get('explanation', 'no match')[:120]})"

    return geocode


def _catalogue_skills(settings: Settings) -> set[str] | None:
    """Skills the service catalogue's field-work services need (None when the taxonomy cannot be read)."""
    from server.technicians.service import catalogue

    try:
        return {s.skill for s in catalogue(path=settings.taxonomy_path)}
    except (OSError, ValueError):
        return None


def _store(rows: list[RosterRow], *, source: str, dry_run: bool, existing_is_error: bool = False) -> None:
    """Report every refused row and store nothing, or store all good rows in one transaction."""
    from sqlmodel import Session

    from server.cli import UserError
    from server.core.db import make_engine
    from server.core.migrate import upgrade
    from server.technicians import service

    settings = _settings()
    refused = [r for r in rows if not r.ok]
    for row in refused:
        for problem in row.problems:
            typer.echo(f"{source}: row {row.row_no}{f' ({row.name})' if row.name else ''}: {problem}", err=True)
    if refused:
        raise UserError(f"{len(refused)} of {len(rows)} row(s) refused (listed above): nothing was imported; fix "
                        "them and run again")
    for row in rows:
        if row.geotagged:
            typer.echo(f"{source}: row {row.row_no} ({row.name}): address {row.geotagged}")
    known = _catalogue_skills(settings)
    if known is not None:
        for row in rows:
            assert row.technician is not None
            unknown = sorted(set(row.technician.skills) - known)
            if unknown:
                typer.echo(f"{source}: row {row.row_no} ({row.name}): note: no service in the catalogue needs "
                           f"{', '.join(repr(s) for s in unknown)} (needed: {', '.join(sorted(known))}); a typo?",
                           err=True)
    upgrade(settings)
    engine = make_engine(settings)
    try:
        with Session(engine) as session:
            created, existing = service.add_many(
                session=session, technicians=[r.technician for r in rows if r.technician is not None], actor=None)
            if existing and existing_is_error:
                session.rollback()
                raise UserError(f"a technician named '{existing[0].name}' already exists (id {existing[0].id}); "
                                "nothing was added")
            if dry_run:
                session.rollback()
            else:
                session.commit()
            summary = [_as_row(t) for t in created]
            kept = [{"id": t.id, "name": t.name} for t in existing]
    finally:
        engine.dispose()
    verb = "would be added (dry run: nothing stored)" if dry_run else "added"
    for tech in summary:
        ident = "" if dry_run else f" (id {tech['id']})"
        typer.echo(f"  {'?' if dry_run else '+'} {tech['name']}{ident}: {tech['skills']}, {tech['shift']}")
    for tech in kept:
        typer.echo(f"  = {tech['name']} (id {tech['id']}): already stored, left unchanged")
    typer.echo(f"{len(rows)} row(s): {len(summary)} {verb}, {len(kept)} already stored (left unchanged)")


def _settings() -> Settings:
    from server.config import Settings

    return Settings()


def register(apps: dict[str, typer.Typer]) -> None:
    from server.cli import UserError

    technician_app = typer.Typer(help="Technicians: add one, list them, import a roster CSV.", no_args_is_help=True)
    skills_app = typer.Typer(help="Skills: what the service catalogue needs and who has it.", no_args_is_help=True)
    apps["root"].add_typer(technician_app, name="technician")
    apps["root"].add_typer(skills_app, name="skills")

    @technician_app.command("add")
    def technician_add(
        name: Annotated[str, typer.Argument(help="Full name (unique).")],
        skills: Annotated[str, typer.Option(help="Skills with levels 1..5, e.g. 'electrical:2;roads:1' "
                                            "(`groundcrew skills list` shows the ones services need).")],
        home_lat: Annotated[float | None, typer.Option(help="Home (start and end of the day), latitude.")] = None,
        home_lon: Annotated[float | None, typer.Option(help="Home, longitude.")] = None,
        address: Annotated[str | None, typer.Option(help="Home address in the city, geotagged on the map "
                                                    "(instead of --home-lat/--home-lon).")] = None,
        shift_start: Annotated[str, typer.Option(help="Local time the shift starts.")] = "08:00",
        shift_end: Annotated[str, typer.Option(help="Local time the shift ends.")] = "17:00",
        breaks: Annotated[str, typer.Option(help="Breaks: earliest-latest start/minutes, e.g. '11:30-14:00/30' "
                                            "(several with ';'; '' for none).")] = "",
        phone: Annotated[str, typer.Option(help="Phone number.")] = "",
        overtime_min: Annotated[int, typer.Option(min=0, max=600, help="Minutes a shift may run over.")] = 60,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Check only; store nothing.")] = False,
    ) -> None:
        """Add one technician (checked like a roster row; a name already stored is left unchanged)."""
        from server.technicians.roster import check_rows

        values = {"name": name, "skills": skills, "shift_start": shift_start, "shift_end": shift_end,
                  "breaks": breaks, "phone": phone, "overtime_min": str(overtime_min),
                  "home_lat": "" if home_lat is None else repr(home_lat),
                  "home_lon": "" if home_lon is None else repr(home_lon), "address": address or ""}
        if (home_lat is None) != (home_lon is None):
            raise UserError("--home-lat and --home-lon go together (or give --address)")
        geocode = _geocoder(_settings()) if address and home_lat is None else None
        rows = check_rows([values], geocode)
        for problem in rows[0].problems:  # one technician: its problems are the error, no row numbers
            typer.echo(f"error: {problem.replace('home_lat/home_lon', '--home-lat/--home-lon')}", err=True)
        if rows[0].problems:
            raise UserError(f"technician '{name}' not added ({len(rows[0].problems)} problem(s) above)")
        _store(rows, source="technician", dry_run=dry_run, existing_is_error=True)

    @technician_app.command("list")
    def technician_list(
        as_json: Annotated[bool, typer.Option("--json", help="One JSON list instead of a table.")] = False,
    ) -> None:
        """Every technician: skills and levels, shift, breaks, home, availability."""
        from sqlmodel import Session

        from server.core.db import make_engine
        from server.core.migrate import upgrade
        from server.technicians import service

        settings = _settings()
        upgrade(settings)
        engine = make_engine(settings)
        try:
            with Session(engine) as session:
                rows = [_as_row(t) for t in service.all_technicians(session=session)]
        finally:
            engine.dispose()
        if as_json:
            typer.echo(json.dumps(rows))
            return
        if not rows:
            typer.echo("No technicians yet: `groundcrew technician add` or `groundcrew technician import FILE`.")
            return
        typer.echo(f"{'id':>4}  {'name':<24} {'skills':<30} {'shift':<11} {'breaks':<16} {'home':<22} availability")
        for r in rows:
            typer.echo(f"{r['id']:>4}  {r['name'][:24]:<24} {r['skills'][:30]:<30} {r['shift']:<11} "
                       f"{r['breaks'][:16] or '-':<16} {r['home_lat']:.5f},{r['home_lon']:.5f}  {r['availability']}")
        typer.echo(f"{len(rows)} technician(s)")

    @technician_app.command("import")
    def technician_import(
        file: Annotated[Path, typer.Argument(help=f"Roster CSV with a header row: {', '.join(COLUMNS)}.")],
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Check every row; store nothing.")] = False,
    ) -> None:
        """Import a roster CSV, one technician a row, all or nothing.

        Columns: name; skills 'electrical:2;roads:1'; shift_start/shift_end '08:00'; breaks '11:30-14:00/30';
        home_lat/home_lon, or an address geotagged on the city's map; optional phone, overtime_min, availability;
        optional shifts, the weekly pattern: ISO weekdays (1 = Monday .. 7 = Sunday) then hours or 'off', e.g.
        '1-4 07:00-17:30; 5 07:00-12:00; 6-7 off' (a weekday left out works shift_start-shift_end).
        Every row is checked first: with any refused row nothing is imported
        and each refused row is listed with its reasons. A name already stored is left unchanged (re-running a
        roster adds only the new people)."""
        from server.technicians.roster import RosterFileError, check_rows, read_file

        if not file.is_file():
            raise UserError(f"FILE: {file} does not exist")
        try:
            values = read_file(file)
        except RosterFileError as exc:
            raise UserError(str(exc)) from None
        if not values:
            raise UserError(f"{file.name}: no rows under the header")
        needs_map = any((v.get("address") or "").strip() and not (v.get("home_lat") or "").strip()
                        and not (v.get("home_lon") or "").strip() for v in values)
        geocode = _geocoder(_settings()) if needs_map else None
        _store(check_rows(values, geocode), source=file.name, dry_run=dry_run)

    @skills_app.command("list")
    def skills_list(
        as_json: Annotated[bool, typer.Option("--json", help="One JSON list instead of a table.")] = False,
    ) -> None:
        """Skills the service catalogue needs, the services needing each, and who has each.

        The catalogue is the triage taxonomy (GROUNDCREW_TAXONOMY_PATH). For each skill: the services that need
        it, how many technicians have it (by level) and how many open jobs wait for it. A needed skill nobody has
        means those jobs can never be planned."""
        from sqlmodel import Session

        from server.core.db import make_engine
        from server.core.migrate import upgrade
        from server.technicians import service
        from server.triage.service import DEFAULT_TAXONOMY

        settings = _settings()
        try:
            services = service.catalogue(path=settings.taxonomy_path)
        except (OSError, ValueError) as exc:
            raise UserError(f"taxonomy_path: {exc}") from None
        upgrade(settings)
        engine = make_engine(settings)
        try:
            with Session(engine) as session:
                coverage = service.skill_coverage(session=session, services=services)
        finally:
            engine.dispose()
        if as_json:
            typer.echo(json.dumps([c.as_dict() for c in coverage]))
            return
        typer.echo(f"Service catalogue: {settings.taxonomy_path or DEFAULT_TAXONOMY}")
        who = {}
        for c in coverage:
            levels = ", ".join(f"{n} at level {lvl}" for lvl, n in sorted(c.technicians.items(), reverse=True))
            who[c.skill] = f"{c.technician_count}" + (f" ({levels})" if levels else "")
        skill_w = max(16, *(len(c.skill) + 1 for c in coverage)) if coverage else 16
        who_w = max(12, *(len(w) + 1 for w in who.values())) if who else 12
        typer.echo(f"{'skill':<{skill_w}} {'technicians':<{who_w}} {'open jobs':>9}  needed by")
        for c in coverage:
            needed = "; ".join(c.services) or "no service (not in the catalogue)"
            typer.echo(f"{c.skill:<{skill_w}} {who[c.skill]:<{who_w}} {c.open_jobs:>9}  {needed}")
        for c in coverage:
            if (c.services or c.open_jobs) and not c.technician_count:
                kinds = ", ".join(s.split(" ")[0] for s in c.services) or "those"
                typer.echo(f"warning: no technician has '{c.skill}': {kinds} jobs cannot be planned "
                           f"({c.open_jobs} open now)", err=True)
