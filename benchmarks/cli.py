"""The benchmarks' commands (``groundcrew bench …``, ``groundcrew eval geotag``), added to the ``groundcrew`` command
through the ``groundcrew.cli`` entry point (pyproject.toml): the product never imports the benchmarks, the
benchmarks import the product. Each prints a table or progress, then one JSON line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from server.cli import UserError, _print_json, _settings


def register(apps: dict[str, typer.Typer]) -> None:
    """Add the bench and eval commands to the ``groundcrew`` command (see server/cli.py)."""
    bench_app, eval_app = apps["bench"], apps["eval"]

    @bench_app.command("matrix")
    def bench_matrix(
        osm: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="OSM file of the city.")],
        points: Annotated[int, typer.Option(min=2, max=20000, help="Number of random points.")] = 1000,
        seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
        osmnx_build: Annotated[bool, typer.Option(help="Also time the cold build the osmnx way (slow, ~1.5 GB on a "
                                                       "metro area).")] = True,
        note: Annotated[str, typer.Option(help="Words on the machine, printed with the figures (e.g. 'shared').")] = "",
    ) -> None:
        """Cold build (time, peak memory) and N×N travel-time matrices: contraction hierarchies vs Dijkstra vs
        networkx, same run; the last line is JSON."""
        from benchmarks import matrix

        _print_json(matrix.run(osm, points, seed=seed, osmnx_build=osmnx_build, note=note))


    @bench_app.command("horizon")
    def bench_horizon(
        technicians: Annotated[int, typer.Option(min=1, max=1000)] = 100,
        jobs: Annotated[int, typer.Option(min=1, max=20000)] = 1000,
        days: Annotated[int, typer.Option(min=1, max=30, help="Working days after today.")] = 5,
        solve_s: Annotated[float, typer.Option(min=0.5, max=600, help="Optimizer seconds.")] = 20.0,
        seed: Annotated[int, typer.Option()] = 0,
    ) -> None:
        """Plan the working days after today for a backlog on the demo city; the last line is JSON."""
        from benchmarks import horizon

        _print_json(horizon.run(technicians=technicians, jobs=jobs, days=days, solve_s=solve_s, seed=seed))

    @bench_app.command("week")
    def bench_week(
        technicians: Annotated[int, typer.Option(min=1, max=500)] = 20,
        days: Annotated[int, typer.Option(min=1, max=20, help="Working days executed.")] = 5,
        arrivals: Annotated[int, typer.Option(min=1, max=2000, help="311 arrivals per day.")] = 150,
        seed: Annotated[int, typer.Option()] = 1,
        solve_s: Annotated[float, typer.Option(min=0.5, max=600, help="Optimizer seconds per plan.")] = 8.0,
        no_show_rate: Annotated[float, typer.Option(min=0, max=1, help="Share of booked customers absent.")] = 0.05,
        noise: Annotated[float, typer.Option(min=0, max=2, help="Log-sd of travel and service time factors.")] = 0.3,
        present_share: Annotated[float, typer.Option(min=0, max=1, help="Share of arrivals needing the "
                                                                          "customer present.")] = 0.3,
    ) -> None:
        """A simulated week on the demo city: 311 arrivals, slot offers and bookings, morning plans, noisy
        execution; booked windows met vs a plan that ignores them (issue 30; the last line is JSON)."""
        from benchmarks import week

        _print_json(week.run(technicians=technicians, days=days, per_day=arrivals, seed=seed, solve_s=solve_s,
                             no_show_rate=no_show_rate, noise=noise, present_share=present_share,
                             base=_settings(), echo=typer.echo))


    @bench_app.command("solomon")
    def bench_solomon(
        paths: Annotated[list[Path], typer.Argument(exists=True, help="Instance files or directories.")],
        time_limit: Annotated[float, typer.Option(min=0.1, help="Seconds per instance.")] = 10.0,
        peer: Annotated[str | None, typer.Option(help="Also solve with a peer solver: pyvrp.")] = None,
        seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
        engine: Annotated[str, typer.Option(help="groundcrew (default) or ortools-gls (plain OR-Tools baseline).")]
        = "groundcrew",
        workers: Annotated[int | None, typer.Option(min=1, max=64, help="Our search processes (default: both cores); "
                                                     "1 pins the whole run, peer included, to one CPU core.")] = None,
    ) -> None:
        """Solomon / Gehring-Homberger VRPTW against best-known solutions."""
        from benchmarks import solomon

        if peer not in (None, "pyvrp"):
            raise UserError("--peer must be 'pyvrp'")
        _print_json(solomon.run(list(paths), time_limit, peer=peer, seed=seed, engine=engine, workers=workers))


    @bench_app.command("dispatch")
    def bench_dispatch(
        osm: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="OSM file of the city.")] = None,
        complaints: Annotated[Path | None, typer.Option(exists=True, dir_okay=False,
                                                        help="311 CSV (Baltimore format).")] = None,
        technicians: Annotated[int, typer.Option(min=1, max=500, help="Number of technicians.")] = 20,
        time_limit: Annotated[float, typer.Option(
            min=0.1, help="Solver seconds (the morning plan's with --via-server).")] = 10.0,
        seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
        via_server: Annotated[bool, typer.Option(
            "--via-server", help="Plan the demo day (and the --osm/--complaints day) through the planning service and "
            "its stored plans, morning plan then re-plans, each beside a direct solve of the same problem.")] = False,
        replan_time_limit: Annotated[float, typer.Option(min=0.1, max=600, help="Solver seconds per re-plan "
                                                                                 "(--via-server).")] = 3.0,
        repeat_direct: Annotated[bool, typer.Option(
            "--repeat-direct", help="With --via-server: each direct solve twice, to show how much two runs differ.")
                                 ] = False,
    ) -> None:
        """A realistic day on a real street network: optimizer vs greedy nearest-free-technician; with --via-server,
        the planning service's plans vs direct solves of the same problems (last line JSON)."""
        if via_server:
            from benchmarks import dispatch_server

            if (osm is None) != (complaints is None):
                raise UserError("--osm and --complaints go together (the dispatch-day benchmark's day needs both)")
            _print_json(dispatch_server.run(osm=osm, complaints=complaints, technicians=technicians,
                                            time_limit=time_limit, replan_time_limit=replan_time_limit, seed=seed,
                                            base=_settings(), echo=typer.echo, repeat_direct=repeat_direct))
            return
        if osm is None or complaints is None:
            raise UserError("--osm and --complaints are required (or --via-server for the demo day alone)")
        from benchmarks import dispatch_day

        _print_json(dispatch_day.run(osm, complaints, technicians, time_limit, seed=seed))


    @bench_app.command("geotag-cities")
    def bench_geotag_cities(
        shared: Annotated[Path, typer.Option(exists=True, file_okay=False, help="The shared data folder.")] = Path(
            "../shared/data"),
        peer: Annotated[str | None, typer.Option(help="Also run a peer on the same files: nominatim.")] = None,
        split: Annotated[str | None, typer.Option(help="Only the 'dev' or 'test' half of each file.")] = None,
    ) -> None:
        """Geotag figures of every shared city in one table (Baltimore, Boston with and without history, Helsinki)."""
        from benchmarks import geotag_cities

        if peer not in (None, "nominatim"):
            raise UserError("--peer must be 'nominatim'")
        _print_json(geotag_cities.run(shared, peer=peer, split=split))


    @eval_app.command("geotag")
    def eval_geotag(
        osm: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="OSM file of the city.")],
        reports: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="CSV with text, lat, lon.")],
        limit: Annotated[int | None, typer.Option(min=1, help="Evaluate only the first N rows.")] = None,
        format_: Annotated[str, typer.Option("--format", help="generic or baltimore311.")] = "generic",
        baseline: Annotated[str | None, typer.Option(help="Score a baseline instead: street-centroid.")] = None,
        address_points: Annotated[Path | None, typer.Option(
            exists=True, dir_okay=False,
            help="Known address points to import first (text,lat,lon CSV or OpenAddresses).")] = None,
        split: Annotated[str | None, typer.Option(
            help="Only the 'dev' or 'test' half of the rows (by id parity).")] = None,
        threshold: Annotated[float, typer.Option(min=0, max=1, help="Dispatch threshold for confident_share.")] = 0.6,
        peer: Annotated[str | None, typer.Option(
            help="Also run a peer on the same OSM file and texts: nominatim.")] = None,
        text_columns: Annotated[str, typer.Option(
            help="Generic format: the columns geotagged, joined (e.g. title,description: the report's own words).")
        ] = "text",
        as_stretch: Annotated[bool, typer.Option(
            help="Score each row rewritten as 'X between Y and Z' around its pin (synthetic text, real pins).")
        ] = False,
    ) -> None:
        """Geotagging accuracy against known coordinates (last line JSON)."""
        from benchmarks import geotag_eval

        if format_ not in ("generic", "baltimore311"):
            raise UserError("--format must be 'generic' or 'baltimore311'")
        if split not in (None, "dev", "test"):
            raise UserError("--split must be 'dev' or 'test'")
        if peer not in (None, "nominatim"):
            raise UserError("--peer must be 'nominatim'")
        columns = tuple(c.strip() for c in text_columns.split(",") if c.strip())
        if not columns:
            raise UserError("--text-columns needs at least one column name")
        if columns != ("text",) and format_ != "generic":
            raise UserError("--text-columns is for --format generic")
        try:
            result = geotag_eval.run(osm, reports, fmt=format_, limit=limit, baseline=baseline, split=split,
                                     address_points=address_points, threshold=threshold, peer=peer,
                                     text_columns=columns, as_stretch=as_stretch)
        except ValueError as exc:
            raise UserError(str(exc)) from exc
        _print_json(result)


    @bench_app.command("offers")
    def bench_offers(
        technicians: Annotated[int, typer.Option(min=1, max=500)] = 100,
        jobs: Annotated[int, typer.Option(min=1, max=5000)] = 1000,
        offers: Annotated[int, typer.Option(min=2, max=500, help="Jobs needing the customer to time.")] = 40,
        solve_s: Annotated[float, typer.Option(min=0.5, max=600, help="Optimizer seconds for the day.")] = 20.0,
        seed: Annotated[int, typer.Option()] = 7,
    ) -> None:
        """Slot offer computation for one job on a planned day (issue 30 target: p95 < 300 ms; last line JSON)."""
        from benchmarks import appointments_offers

        _print_json(appointments_offers.run(technicians=technicians, jobs=jobs, offers=offers, solve_s=solve_s,
                                            seed=seed, base=_settings(), echo=typer.echo))

    @bench_app.command("console")
    def bench_console(
        technicians: Annotated[int, typer.Option(min=1, max=500)] = 100,
        jobs: Annotated[int, typer.Option(min=1, max=20000)] = 5000,
        events: Annotated[int, typer.Option(min=1, max=500, help="Live events measured per kind.")] = 20,
        loads: Annotated[int, typer.Option(min=1, max=20, help="Timed reloads of the console.")] = 3,
        solve_s: Annotated[float, typer.Option(min=0.5, max=600, help="Optimizer seconds for the day's plan.")] = 10.0,
        seed: Annotated[int, typer.Option()] = 0,
        profile: Annotated[Path | None, typer.Option(
            file_okay=False, help="Profile one more event of each kind over 50 ms: .cpuprofile and trace files "
            "written here, the split and the costliest functions printed.")] = None,
    ) -> None:
        """The dispatcher console in headless Chromium at volume (issue 29): time to a usable board, main-thread
        blocking and bytes per live event kind, JS heap; the last line is JSON."""
        from benchmarks import console_browser

        _print_json(console_browser.run(technicians=technicians, jobs=jobs, events=events, loads=loads,
                                        solve_s=solve_s, seed=seed, base=_settings(), echo=typer.echo,
                                        profile_dir=profile))

    @bench_app.command("ingest")
    def bench_ingest(
        complaints: Annotated[Path, typer.Option(help="Baltimore 311 CSV.")] = Path(
            "../shared/data/complaints/baltimore_311/baltimore_311_sample.csv"),
        twcs: Annotated[Path | None, typer.Option(help="Also measure a twcs CSV.")] = None,
        limit: Annotated[int | None, typer.Option(min=1, help="Rows per file.")] = None,
    ) -> None:
        """Ingest rate (normalize + identity + triage + geotag + store) through the importer on a fresh SQLite."""
        from benchmarks import ingest

        if not complaints.is_file():
            raise UserError(f"--complaints: {complaints} does not exist")
        typer.echo(json.dumps(ingest.run(complaints, twcs=twcs, limit=limit)))
