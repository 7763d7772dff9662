"""Shared fixtures: paths to the real shared data, and databases (SQLite and the real PostgreSQL)."""

from __future__ import annotations

import os
import shutil
import uuid
import warnings
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from server.dispatch.bench import zone_at_local_hour

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (ROOT.parent / "shared" / "data").resolve()
OUTPUT_DIR = ROOT / "tests" / "output"


def working_hours_timezone(local_hour: int = 10, now: datetime | None = None) -> str:
    """An IANA zone where it is now about ``local_hour`` o'clock. Tests that run a working day on a live server
    (the demo's shifts are 08:00-17:00 local, "today" is the local date) use it as GROUNDCREW_TIMEZONE, so the day
    is under way whenever the suite runs; in the demo's own zone a run at night would find every shift over."""
    return zone_at_local_hour(local_hour, now)


WORKING_TZ = working_hours_timezone()  # one zone for the whole run, so every live server agrees

PG_ADMIN_URL = os.environ.get("GROUNDCREW_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")

_pg_state: dict[str, object] = {}


def _pg_admin():  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)


def postgres_available() -> str | None:
    """None when the real PostgreSQL is reachable, else the reason."""
    if "reason" not in _pg_state:
        try:
            with _pg_admin() as conn:
                conn.execute("SELECT 1")
            _pg_state["reason"] = None
        except Exception as exc:  # unreachable, not installed, auth...
            _pg_state["reason"] = f"{type(exc).__name__}: {exc}".strip()
    return _pg_state["reason"]  # type: ignore[return-value]


def pg_url(dbname: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return base.replace("postgresql://", "postgresql+psycopg://", 1) + f"/{dbname}"


# Test files that share the console's one live server (a session fixture: each test there builds on the state the
# ones before it left). `test_every_file_on_the_shared_live_server_runs_in_one_process` keeps this list whole.
SHARED_LIVE_SERVER_FILES = ("tests/console/", "tests/security/test_console_xss.py")


def process_unit(nodeid: str) -> str:
    """What one test process runs whole under `make test` (pytest-xdist, `--dist loadfile`): a test file, or all
    the files on the console's shared live server together, in the order of a one-process run. Without the second,
    which files met on that server depended on how the files happened to be spread, and a test found another's
    jobs."""
    path = nodeid.split("::", 1)[0]
    return "console live server" if path.startswith(SHARED_LIVE_SERVER_FILES) else path


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """`--dist loadfile` with the console's live-server files as one unit (`process_unit`). Not `--dist loadgroup`
    with `xdist_group` marks: under pytest 9.2 those marks are silently ignored (pytest-xdist issue #1386)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ProcessUnits(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return process_unit(nodeid)

    return ProcessUnits(config, log)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    reason = _pg_state.get("reason")
    skipped = terminalreporter.stats.get("skipped", [])
    if not reason and any("PostgreSQL not reachable" in str(getattr(r, "longrepr", "")) for r in skipped):
        reason = postgres_available()  # the tests ran in worker processes (pytest-xdist): ask again here
    if reason:
        terminalreporter.write_sep("!", "POSTGRESQL NOT REACHABLE: the PostgreSQL half of the storage/API "
                                   f"tests was SKIPPED ({reason})", red=True, bold=True)


class DatabaseFactory:
    """Fresh, migrated databases per test, cloned from a template migrated once per run."""

    def __init__(self, kind: str, workdir: Path) -> None:
        self.kind = kind
        self.workdir = workdir
        self.template: str | None = None
        self.created: list[str] = []
        self.run_id = uuid.uuid4().hex[:8]

    def _migrate(self, url: str) -> None:
        from server.config import Settings
        from server.core.migrate import upgrade

        upgrade(Settings(database_url=url, data_dir=self.workdir, load_city=False))

    def new_url(self) -> str:
        if self.kind == "sqlite":
            template = self.workdir / "template.db"
            if self.template is None:
                self._migrate(f"sqlite:///{template}")
                self.template = str(template)
            path = self.workdir / f"db-{uuid.uuid4().hex[:8]}.db"
            shutil.copy(template, path)
            return f"sqlite:///{path}"
        if self.template is None:
            self.template = f"gc_tpl_{self.run_id}"
            with _pg_admin() as conn:
                conn.execute(f'CREATE DATABASE "{self.template}"')
            self.created.append(self.template)
            self._migrate(pg_url(self.template))
            from sqlalchemy import create_engine

            create_engine(pg_url(self.template)).dispose()
        name = f"gc_{self.run_id}_{uuid.uuid4().hex[:8]}"
        with _pg_admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self.created.append(name)
        return pg_url(name)

    def drop_all(self) -> None:
        if self.kind != "postgres" or not self.created:
            return
        with _pg_admin() as conn:
            for name in reversed(self.created):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_factory(tmp_path_factory: pytest.TempPathFactory) -> DatabaseFactory:
    return DatabaseFactory("sqlite", tmp_path_factory.mktemp("sqlite"))


@pytest.fixture(scope="session")
def postgres_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory | None]:
    reason = postgres_available()
    if reason:
        warnings.warn(f"PostgreSQL not reachable, Postgres tests skipped: {reason}", stacklevel=1)
        yield None
        return
    factory = DatabaseFactory("postgres", tmp_path_factory.mktemp("pg"))
    yield factory
    factory.drop_all()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(
    request: pytest.FixtureRequest, sqlite_factory: DatabaseFactory, postgres_factory: DatabaseFactory | None
) -> str:
    """A fresh migrated database, once on SQLite and once on the real PostgreSQL."""
    if request.param == "sqlite":
        return sqlite_factory.new_url()
    if postgres_factory is None:
        pytest.skip(f"PostgreSQL not reachable: {postgres_available()}")
    return postgres_factory.new_url()


@pytest.fixture
def output_dir(request: pytest.FixtureRequest) -> Path:
    """A folder for a test's artefacts (screenshots, reports) that is kept after the run."""
    path = OUTPUT_DIR / request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """One headless Chromium for the whole run (console and security browser tests share it: Playwright's sync API
    allows one instance per thread)."""
    from tests.console.conftest import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make test installs it as root: scripts/system-deps.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
