"""The ``groundcrew`` command: serve, load the demo, migrate, manage users, import, evaluate, benchmark.

User mistakes print one clear line on stderr and exit non-zero, without a traceback."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from server.config import Settings

app = typer.Typer(help="Groundcrew: field-service dispatch.", no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database schema and data safety.", no_args_is_help=True)
user_app = typer.Typer(help="Manage users.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks that print figures (last line: JSON).", no_args_is_help=True)
eval_app = typer.Typer(help="Quality evaluations on labelled data (last line: JSON).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(bench_app, name="bench")
app.add_typer(eval_app, name="eval")
import_app = typer.Typer(help="Import complaints from files (progress bar, summary, idempotent).", no_args_is_help=True)
app.add_typer(import_app, name="import")


class UserError(Exception):
    """A mistake the user can fix; printed as one line."""


def _settings() -> Settings:
    return Settings()


def _print_json(result: dict | list) -> None:
    typer.echo(json.dumps(result, default=str))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default from settings: 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="API processes.")] = 1,
    migrate: Annotated[bool, typer.Option(help="Upgrade the database schema first.")] = True,
) -> None:
    """Run the API server (Ctrl-C stops it cleanly)."""
    import uvicorn

    from server.core.migrate import upgrade

    settings = _settings()
    if migrate:
        upgrade(settings)
    typer.echo(f"Groundcrew on http://{host or settings.host}:{port or settings.port} (API docs at /docs)")
    uvicorn.run(
        "server.app:create_app", factory=True, host=host or settings.host, port=port or settings.port,
        workers=workers, log_level=settings.log_level.lower(),
    )


@app.command()
def demo(
    password: Annotated[str | None, typer.Option(help="Password for every demo user (default: random).")] = None,
    max_jobs: Annotated[int, typer.Option(min=0, max=2000, help="Field jobs to create for today.")] = 60,
) -> None:
    """Load the demo city (Baltimore), demo users and technicians and real 311 complaints (idempotent)."""
    from rich.progress import Progress
    from sqlmodel import Session

    from server.core.db import make_engine
    from server.core.migrate import upgrade
    from server.demo.service import DEMO_COMPLAINTS, load_demo

    settings = _settings()
    if password is not None and len(password) < 8:
        raise UserError("--password must be at least 8 characters")
    if not settings.osm_source.exists():
        raise UserError(f"OSM source not found: {settings.osm_source} (set GROUNDCREW_OSM_SOURCE)")
    upgrade(settings)
    _load_city(settings)
    with open(DEMO_COMPLAINTS, encoding="utf-8") as handle:
        total = sum(1 for _ in handle) - 1
    engine = make_engine(settings)
    with Session(engine) as session, Progress(transient=True) as progress:
        task = progress.add_task("Importing demo complaints", total=total)
        result = load_demo(
            session=session, settings=settings, password=password, max_jobs=max_jobs,
            progress=lambda i: progress.update(task, completed=i + 1),
        )
    if result.users_created:
        typer.echo("Demo users (shown once; keep them):")
        creds = settings.data_dir / "demo-credentials.txt"
        lines = [f"  {u:<12} {role:<11} {pw}" for u, role, pw in result.users_created]
        typer.echo("\n".join(lines))
        with creds.open("a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
        creds.chmod(0o600)
        typer.echo(f"(also written to {creds})")
    typer.echo(
        f"Demo loaded: {result.technicians_created} technicians, {result.complaints_imported} complaints "
        f"imported ({result.complaints_skipped} skipped), {result.jobs_created} jobs created."
    )


def _load_city(settings: Settings) -> None:
    """Build (or load from cache) the street network and gazetteer so the server starts fast."""
    from server.core.city import load_city

    typer.echo(f"Loading the city from {settings.osm_source} ...")
    city = load_city(settings, progress=True)
    report = city.network.report
    typer.echo(f"City ready: {report.nodes} street nodes, {report.edges} edges ({city.load_seconds:.1f} s)")


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "heads") -> None:
    """Create or upgrade the database schema."""
    from server.core.migrate import current_revision, upgrade

    settings = _settings()
    upgrade(settings, revision)
    typer.echo(f"Database at revision {current_revision(settings)}")


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option(help="admin, dispatcher, agent or technician.")],
    password: Annotated[str | None, typer.Option(help="Password (prompted when omitted).")] = None,
    full_name: Annotated[str, typer.Option(help="Display name.")] = "",
    technician_id: Annotated[int | None, typer.Option(help="Technician record (for role technician).")] = None,
) -> None:
    """Create a user with a role."""
    from pydantic import ValidationError
    from sqlmodel import Session

    from server.auth import service
    from server.auth.models import Role, UserCreate
    from server.core.db import make_engine
    from server.core.migrate import upgrade
    from server.technicians.models import Technician

    if role not in {r.value for r in Role}:
        raise UserError(f"--role must be one of: {', '.join(r.value for r in Role)}")
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user_in = UserCreate(
            username=username, role=Role(role), password=password, full_name=full_name, technician_id=technician_id
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise UserError(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None
    settings = _settings()
    upgrade(settings)
    with Session(make_engine(settings)) as session:
        if technician_id is not None and session.get(Technician, technician_id) is None:
            raise UserError(f"--technician-id: technician {technician_id} does not exist")
        user = service.create(session=session, user_in=user_in)
        session.commit()
        typer.echo(f"Created user {user.username} (id {user.id}, role {user.role})")


def _register_feature_commands() -> None:
    """Feature folders add their own commands: ``server/<feature>/cli.py`` defines
    ``register(apps: dict[str, typer.Typer])`` with keys root, db, user, bench, eval, import."""
    import importlib
    from importlib.metadata import entry_points

    from server.models import feature_modules

    apps = {"root": app, "db": db_app, "user": user_app, "bench": bench_app, "eval": eval_app, "import": import_app}
    for module_name in feature_modules("cli"):
        importlib.import_module(module_name).register(apps)
    # Installed plugins add theirs the same way (entry point group ``groundcrew.cli``): the benchmarks' ``bench`` and
    # ``eval`` commands come from benchmarks/cli.py, so the product never imports the benchmarks.
    for entry in entry_points(group="groundcrew.cli"):
        entry.load().register(apps)


_register_feature_commands()


def main() -> None:
    """Entry point: run the CLI, turning user mistakes into one line and exit code 1."""
    from pydantic import ValidationError
    from sqlalchemy.exc import OperationalError

    from server.core.errors import DomainError

    try:
        app()
    except (UserError, DomainError) as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except ValidationError as exc:
        first = exc.errors()[0]
        typer.echo(f"error: configuration {'.'.join(str(p) for p in first['loc'])}: {first['msg']}", err=True)
        sys.exit(1)
    except OperationalError as exc:
        typer.echo(f"error: cannot use the database: {str(exc.orig).strip().splitlines()[0]}", err=True)
        sys.exit(1)
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
