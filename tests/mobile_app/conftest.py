"""A real Groundcrew server for the mobile app's tests: demo data loaded once per run into a template
data directory, copied for every test and served by uvicorn (``groundcrew serve``) on a free port.

Jobs are assigned the real way: the template's server is started once and the demo dispatcher solves the
day (``POST /dispatch/solves``, polled until it succeeds); every test starts from that plan. The automatic
morning plan is off so nothing re-plans behind a test's back."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, WORKING_TZ

PASSWORD = "demo-pass-1"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(data_dir: Path, cache_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GROUNDCREW_")}
    env.update(GROUNDCREW_DATA_DIR=str(data_dir), GROUNDCREW_CACHE_DIR=str(cache_dir), GROUNDCREW_LOG_LEVEL="WARNING",
               GROUNDCREW_DISPATCH_MORNING_AT="", GROUNDCREW_HORIZON_ROLL_AT="",
               GROUNDCREW_TIMEZONE=WORKING_TZ)
    return env


def db_session(data_dir: Path, cache_dir: Path):  # type: ignore[no-untyped-def]
    """A SQLModel session on a test server's database (setup and checks only)."""
    from sqlmodel import Session

    from server.config import Settings
    from server.core.db import make_engine

    settings = Settings(data_dir=data_dir, cache_dir_override=cache_dir, load_city=False)
    return Session(make_engine(settings))


class LiveServer:
    """One ``groundcrew serve`` process on a copy of the demo data; can be stopped and started again."""

    def __init__(self, data_dir: Path, cache_dir: Path, log_path: Path) -> None:
        self.data_dir, self.cache_dir, self.log_path = data_dir, cache_dir, log_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.extra_env: dict[str, str] = {}  # more GROUNDCREW_* settings for the next start()

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [str(BIN / "groundcrew"), "serve", "--port", str(self.port), "--no-migrate"],
            env={**server_env(self.data_dir, self.cache_dir), **self.extra_env}, stdout=log,
            stderr=subprocess.STDOUT, cwd=ROOT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("server did not start in 60 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def session(self):  # type: ignore[no-untyped-def]
        return db_session(self.data_dir, self.cache_dir)


@pytest.fixture
def live_server(demo_template: dict, tmp_path: Path) -> Iterator[LiveServer]:
    data_dir = tmp_path / "server-data"
    shutil.copytree(demo_template["data_dir"], data_dir, ignore=shutil.ignore_patterns("cache"))
    server = LiveServer(data_dir, demo_template["cache_dir"], tmp_path / "server.log")
    server.assigned = demo_template["assigned"]  # type: ignore[attr-defined]  (job ids in route order)
    server.routes = demo_template["routes"]  # type: ignore[attr-defined]
    server.technicians = demo_template["technicians"]  # type: ignore[attr-defined]
    server.start()
    yield server
    server.stop()


class Dispatcher:
    """The demo dispatcher, over HTTP: solves the day, reads routes, creates jobs, commits overrides."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.headers: dict[str, str] = {}
        token = self._call("POST", "/auth/token", form={"username": "dispatcher", "password": PASSWORD})
        self.headers = {"Authorization": f"Bearer {token['access_token']}"}

    def _call(self, method: str, path: str, *, json_body: object = None, form: dict | None = None,
              expect: int | tuple[int, ...] = (200, 201, 202)) -> dict:
        import httpx

        response = httpx.request(method, self.url + path, json=json_body, data=form, headers=self.headers,
                                 timeout=60)
        expected = (expect,) if isinstance(expect, int) else expect
        assert response.status_code in expected, f"{method} {path}: {response.status_code} {response.text[:500]}"
        return response.json()

    def solve(self, time_limit_s: float = 2, timeout_s: float = 120) -> dict:
        """Solve the day as the dispatcher does; returns the finished solve job."""
        solve = self._call("POST", "/dispatch/solves", json_body={"time_limit_s": time_limit_s}, expect=202)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            body = self._call("GET", f"/dispatch/solves/{solve['id']}", expect=200)
            if body["status"] in ("succeeded", "failed", "cancelled"):
                assert body["status"] == "succeeded", body
                return body
            time.sleep(0.2)
        raise AssertionError(f"solve {solve['id']} did not finish in {timeout_s} s")

    def settle(self, timeout_s: float = 180) -> None:
        """Wait until no solve is queued or running (an override commit queues an automatic re-plan: reading the
        routes before it has finished records a plan that the re-plan then changes)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            solves = self._call("GET", "/dispatch/solves?limit=50", expect=200)
            if not any(s["status"] in ("queued", "running") for s in solves):
                return
            time.sleep(0.2)
        raise AssertionError(f"solves still open after {timeout_s} s")

    def technicians(self) -> dict[str, int]:
        """First name in lower case → technician id."""
        page = self._call("GET", "/technicians?limit=100", expect=200)
        return {t["name"].split()[0].lower(): t["id"] for t in page["items"]}

    def route(self, technician_id: int) -> dict:
        return self._call("GET", f"/technicians/{technician_id}/route", expect=200)

    def create_job(self, **fields: object) -> dict:
        return self._call("POST", "/jobs", json_body=fields, expect=201)

    def assign(self, job_id: int, technician_id: int) -> dict:
        """The dispatcher's override: this job to this technician (pinned), as a new plan version."""
        return self._call("POST", "/dispatch/overrides/commit",
                          json_body={"action": "assign", "job_id": job_id, "technician_id": technician_id}, expect=200)


def _give_ana_enough_to_test(dispatcher: Dispatcher, techs: dict[str, int], enough: int = 3) -> None:
    """The app tests need a few of ana's jobs, but the optimizer owes her none: a plan with less travel may leave her
    one. Then the dispatcher gives her jobs by hand (override commits, as in the console), taken from the end of the
    longest routes, skipping any she lacks the skill for (the server refuses those)."""
    import httpx

    for _ in range(enough):
        if len(dispatcher.route(techs["ana"])["stops"]) >= enough:
            return
        others = sorted((dispatcher.route(techs[n])["stops"] for n in techs if n != "ana"), key=len, reverse=True)
        for stop in (s for stops in others for s in reversed(stops)):
            response = httpx.post(f"{dispatcher.url}/dispatch/overrides/commit", headers=dispatcher.headers,
                                  json={"action": "assign", "job_id": stop["job_id"], "technician_id": techs["ana"]},
                                  timeout=60)
            if response.status_code == 200:
                break


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Demo data, then the dispatcher's first plan of the day, solved by the server itself."""
    base = tmp_path_factory.mktemp("mobile-demo")
    data_dir, cache_dir = base / "data", base / "cache"
    env = server_env(data_dir, cache_dir)
    subprocess.run([str(BIN / "groundcrew"), "demo", "--password", PASSWORD, "--max-jobs", "40"], env=env,
                   check=True, capture_output=True, timeout=300, cwd=ROOT)
    server = LiveServer(data_dir, cache_dir, base / "template-server.log")
    server.start()
    try:
        dispatcher = Dispatcher(server.url)
        dispatcher.solve(time_limit_s=2)
        techs = dispatcher.technicians()
        _give_ana_enough_to_test(dispatcher, techs)
        time.sleep(1.0)  # past the re-plan coalescing window (0.5 s), so a triggered re-plan is on record
        dispatcher.settle()
        routes = {name: dispatcher.route(techs[name]) for name in ("ana", "marcus")}
    finally:
        server.stop()
    assigned = {name: [stop["job_id"] for stop in route["stops"]] for name, route in routes.items()}
    assert len(assigned["ana"]) >= 3, f"the plan gave ana too little to test with: {routes['ana']}"
    (base / "plan.json").write_text(json.dumps({"assigned": assigned, "routes": routes}, default=str))
    return {"data_dir": data_dir, "cache_dir": cache_dir, "assigned": assigned, "routes": routes,
            "technicians": techs}
