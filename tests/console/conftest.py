"""A real Groundcrew server (uvicorn subprocess, temp data dir, demo city and users) and Debian's Chromium
driven by Python Playwright. Everything here is session-scoped: the demo loads once per run."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from benchmarks.server_process import serve_process
from tests.conftest import ROOT, WORKING_TZ

CHROMIUM = Path("/usr/bin/chromium")
# Flags from STACK-NOTES "Headless browser"; Playwright makes its own throwaway --user-data-dir.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "console-pass-1"


@dataclass
class LiveServer:
    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]

    def request(self, method: str, path: str, *, token: str | None = None, body: Any = None,
                form: dict[str, str] | None = None) -> tuple[int, Any]:
        """One HTTP call to the server: (status, parsed JSON body)."""
        headers = {"Accept": "application/json"}
        data = None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=60) as res:
                raw = res.read()
                return res.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                return err.code, json.loads(raw)
            except ValueError:
                return err.code, raw.decode(errors="replace")

    def token(self, username: str) -> str:
        status, body = self.request("POST", "/auth/token", form={"username": username, "password": PASSWORD})
        assert status == 200, body
        return body["access_token"]

    def has(self, method: str, path: str) -> bool:
        """Whether the server's OpenAPI lists this operation (other features land while the console is built)."""
        _, spec = self.request("GET", "/openapi.json")
        return method.lower() in (spec.get("paths", {}).get(path) or {})


@contextlib.contextmanager
def demo_server(data_dir: Path, **env_extra: str) -> Iterator[LiveServer]:
    """``groundcrew demo`` into ``data_dir``, then ``groundcrew serve`` on a free port, until the block ends.

    The plan changes only by the tests' own actions (no morning plan, no automatic re-plan after an override, no
    horizon roll-over): a background re-plan landing mid-test would make "the plan version the page shows" and "a
    job some technician can still take" races. The automatic re-plans are tested in tests/server/dispatch."""
    env = {**os.environ, "GROUNDCREW_DATA_DIR": str(data_dir), "GROUNDCREW_LOG_LEVEL": "WARNING",
           "GROUNDCREW_DISPATCH_AUTO_REPLAN": "false", "GROUNDCREW_DISPATCH_MORNING_AT": "",
           "GROUNDCREW_HORIZON_ROLL_AT": "", "GROUNDCREW_TIMEZONE": WORKING_TZ, **env_extra}
    env.pop("GROUNDCREW_DATABASE_URL", None)
    cli = [sys.executable, "-m", "server.cli"] if not (Path(sys.executable).parent / "groundcrew").exists() \
        else [str(Path(sys.executable).parent / "groundcrew")]
    subprocess.run([*cli, "demo", "--password", PASSWORD], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL, timeout=600)
    with serve_process(cli=cli, env=env, cwd=ROOT, log_path=data_dir / "server.log") as (url, proc):
        server = LiveServer(url=url, data_dir=data_dir, process=proc)
        # Wait for the street map (warmed in the background at start-up): addresses can be found and plans solved.
        status, body = server.request("GET", "/map/service-area", token=server.token("dispatcher"))
        assert status == 200, body
        yield server


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The demo on a live server for the whole console session, with no appointment offers from the server itself:
    a demo customer's offer arriving mid-test re-orders the inbox and the queue under the pointer (the appointments
    feature is tested in tests/server/appointments)."""
    with demo_server(tmp_path_factory.mktemp("console-server"), GROUNDCREW_APPOINTMENT_SWEEP="false") as server:
        yield server


def new_page(chromium: Any, *, width: int = 1366, height: int = 768, touch: bool = False) -> Any:
    """A fresh browser context (own session storage) with no internet: OSM tile requests fail fast, as offline.
    ``touch``: a touch screen (a tablet's), for fingers driven through the DevTools protocol."""
    context = chromium.new_context(viewport={"width": width, "height": height}, timezone_id=WORKING_TZ,
                                   locale="en-US", has_touch=touch)
    context.route("https://tile.openstreetmap.org/**", lambda route: route.abort())
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    return page


@pytest.fixture
def page_factory(chromium: Any) -> Iterator[Any]:
    pages: list[Any] = []

    def make(**kwargs: Any) -> Any:
        page = new_page(chromium, **kwargs)
        pages.append(page)
        return page

    yield make
    for page in pages:
        assert not page.js_errors, f"JavaScript errors in the page: {page.js_errors}"
        page.context.close()


def sign_in(page: Any, server: LiveServer, username: str) -> None:
    page.goto(server.url + "/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("header.topbar")


def assignable(server: LiveServer, token: str, exclude: frozenset[int] = frozenset()) -> tuple[int, int]:
    """An unassigned job some technician can take (per the dispatch feature's explanation) and that technician.
    A job it has to create reaches an open page only with its next reload (creating a job sends no live event):
    call it before the page loads."""
    _, queue = server.request("GET", "/jobs?status=unassigned&limit=50", token=token)
    for job in sorted(queue["items"], key=lambda j: -j["priority"]):
        if job["id"] in exclude:
            continue
        _, why = server.request("GET", f"/dispatch/jobs/{job['id']}/explain", token=token)
        if why.get("alternatives"):
            return job["id"], why["alternatives"][0]["technician_id"]
    # A whole-day plan (the board tests solve one) can leave nothing unassigned: a new job beside a planned one, with
    # its skills, that a technician has room for.
    _, planned = server.request("GET", "/jobs?status=assigned&limit=100", token=token)
    for model in planned["items"][:10]:
        status, job = server.request("POST", "/jobs", token=token, body={
            "title": f"Another {model['title']}"[:120], "category": model["category"],
            "required_skills": model["required_skills"], "priority": 7, "duration_min": 20,
            "lat": model["lat"] + 0.0003, "lon": model["lon"], "address": model["address"]})
        assert status == 201, job
        _, why = server.request("GET", f"/dispatch/jobs/{job['id']}/explain", token=token)
        if why.get("alternatives"):
            return job["id"], why["alternatives"][0]["technician_id"]
    pytest.skip("no unassigned job that a technician can take")


A11Y_DIR = Path(__file__).resolve().parent / "a11y"


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's script, test-only: the npm package pinned by tests/console/a11y/package-lock.json, installed there
    with ``npm ci`` the first time (the product bundle never includes it)."""
    script = A11Y_DIR / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed: cannot install axe-core (tests/console/a11y) for the a11y tests")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=A11Y_DIR, check=True, timeout=300,
                       stdout=subprocess.DEVNULL)
    return script.read_text(encoding="utf-8")


def axe_violations(page: Any, axe_source: str, *, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict]:
    """Run axe-core (WCAG 2.x A and AA rules plus best practices) on the page as it is now; the violations of the
    given impacts, each with the first few offending elements. Injected through the DevTools protocol, which the
    console's Content-Security-Policy does not apply to."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source + "\n;undefined")
    found = page.evaluate("""async (impacts) => {
        const r = await window.axe.run(document, { resultTypes: ['violations'] });
        return r.violations.filter(v => impacts.includes(v.impact)).map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map(n => ({ target: n.target.join(' '), summary: n.failureSummary })) }));
    }""", list(impacts))
    return list(found)
