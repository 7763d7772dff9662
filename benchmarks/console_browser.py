"""``groundcrew bench console``: the dispatcher console in a real browser at utility volume (issue 29: "a browser
benchmark with 5,000 jobs: time to usable board, main-thread blocking per live event, memory").

A throwaway database on the demo city (real 311 places on its streets): N technicians on shift now, M open jobs, a
day planned by the planning service (a real solve with a short limit, stored as the active plan), a dispatcher and a
technician user. The real server (``groundcrew serve``, uvicorn on a loopback port, its own process) serves the
built console (``cd web && npm run build`` first: the bundle measured is the one in the server's static folder) to
Debian's headless Chromium, driven by Playwright, signed in as the dispatcher.

What is measured, all in the page (an init script installed before the console's own code):

- **Time to usable board** (ms from navigation start, ``performance.timeOrigin``, of a reload of the signed-in
  console): *rendered* is the first animation frame in which the queue's first card (``.queue-item``), the schedule
  board's technician rows (``.tl-row``) and the map's job clusters (``#dispatch-map[data-clusters]``) are all in the
  document; *usable* is that, or later the end of the last main-thread long task (> 50 ms, Long Tasks API) before the
  main thread stays free of long tasks, with no request in flight, for ``QUIET_MS`` (a click is answered at once).
- **Per live event kind** (a server-side action through the HTTP API raises it; the page's long-task and resource
  observers are already running): ``technician.location`` (a technician's position ping), ``job.updated`` (a
  dispatcher changes a job's priority), ``job.created`` (a job made over the API) and ``plan.created`` (a dispatcher's
  assign / unassign override: a new plan version, with its job.assigned / job.unassigned and route.updated events).
  Per event, from the moment before the action to the end of the page's reaction (its event arrived, then
  ``QUIET_MS`` with no long task, no message and no request in flight): the longest task and the total blocking
  time (the sum over long tasks of their time past 50 ms, as Lighthouse's TBT), the time from the event's arrival
  to the start of the next task (the console's handler of it and any frame drawn before; also under 50 ms, but it
  includes waiting for a core), the main thread's CPU time and its script / style / layout time (Chromium's
  counters: they do not grow when other processes hold the cores, the wall-clock figures do), the requests and
  response bytes the page fetched (Resource Timing: transfer and decoded size) and the bytes of the WebSocket
  messages; p50 / p95 / max over K events of each kind. With ``--profile DIR``, one more event of each kind that
  went over 50 ms runs under the V8 sampling profiler and a Chromium trace (files in DIR, summary printed).
- **Memory**: the page's JS heap in use after a forced garbage collection (DevTools protocol ``HeapProfiler`` then
  ``Performance.getMetrics``: JSHeapUsedSize) and the DOM node count, after the load and after all the events.

Timings depend on the machine: the load average and the core count are printed with them (the last line is JSON)."""

from __future__ import annotations

import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from benchmarks.server_process import serve_process
from server.config import Settings
from server.dispatch.bench import BENCH_PASSWORD, SKILLS, _places, bench_settings, bench_shift, percentile, plan_morning

ROOT = Path(__file__).resolve().parent.parent
#: Debian's Chromium and the flags the console tests use (tests/console/conftest.py).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: The page's reaction is over after this long (ms) with no long task, no live message and no request in flight;
#: longer than the console's 400 ms reload debounce (web/src/views/dispatch.ts scheduleRefresh).
QUIET_MS = 1500
KINDS = ("technician.location", "job.updated", "job.created", "plan.created")

# Installed before the console's scripts on every document: long tasks, resources, requests in flight, the live
# socket's messages (a listener added before the console's own onmessage, so it sees each message first) and the
# first frame with the board drawn. Init scripts are not subject to the page's Content-Security-Policy.
INIT_SCRIPT = r"""(() => {
  const b = window.__bench = { long: [], res: [], msgs: [], inflight: 0, last: 0, rendered: null, wsOpen: 0,
                               taskAfter: [] };
  const touch = () => { b.last = performance.now(); };
  new PerformanceObserver((l) => {
      for (const e of l.getEntries()) { b.long.push([e.startTime, e.duration]); touch(); } })
    .observe({ type: 'longtask', buffered: true });
  new PerformanceObserver((l) => { for (const e of l.getEntries()) {
      b.res.push([e.startTime, e.responseEnd, e.transferSize, e.decodedBodySize, e.name]); touch(); } })
    .observe({ type: 'resource', buffered: true });
  const f = window.fetch;
  window.fetch = function (...a) { b.inflight++; touch();
    return f.apply(this, a).finally(() => { b.inflight--; touch(); }); };
  const WS = window.WebSocket;
  window.WebSocket = class extends WS {
    constructor(...a) {
      super(...a);
      this.addEventListener('open', () => { b.wsOpen++; });
      this.addEventListener('message', (m) => {
        const at = performance.now(); let type = '?';
        try { type = JSON.parse(m.data).type; } catch (e) { /* not JSON */ }
        b.msgs.push([at, type, String(m.data).length]); touch();
        // The time until the next task starts: what the console's handler of this message held the thread for.
        const ch = new MessageChannel();
        ch.port1.onmessage = () => { b.taskAfter.push([at, type, performance.now() - at]); };
        ch.port2.postMessage(0);
      });
    }
  };
  const drawn = () => {
    const count = document.querySelector('#queue-count[data-matched]');
    if (count && (document.querySelector('.queue-item') || count.dataset.matched === '0')
        && document.querySelector('.tl-row') && document.querySelector('#dispatch-map[data-clusters]')) {
      b.rendered = performance.now(); return; }
    requestAnimationFrame(drawn);
  };
  requestAnimationFrame(drawn);
})();"""


@dataclass
class Server:
    """The server subprocess and one HTTP call to it."""

    url: str
    process: subprocess.Popen[bytes]
    tokens: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, path: str, *, user: str | None = None, body: Any = None,
             form: dict[str, str] | None = None) -> tuple[int, Any]:
        headers = {"Accept": "application/json"}
        data = None
        if user:
            headers["Authorization"] = f"Bearer {self.token(user)}"
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=300) as res:
                raw = res.read()
                return res.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode(errors="replace")

    def token(self, user: str) -> str:
        if user not in self.tokens:
            status, body = self.call("POST", "/auth/token", form={"username": user, "password": BENCH_PASSWORD})
            if status != 200:
                raise RuntimeError(f"sign-in of {user} failed: {status} {body}")
            self.tokens[user] = body["access_token"]
        return self.tokens[user]


@contextlib.contextmanager
def serve(settings: Settings) -> Iterator[Server]:
    """``groundcrew serve`` on a free loopback port over the bench's data folder, as tests/console/conftest.py starts
    it: no morning plan, no automatic re-plan, no appointment sweep and no horizon roll-over (the plan changes only
    by the bench's own actions), in its own process group so the end also stops any solver worker it forked."""
    env = {**os.environ, "GROUNDCREW_DATA_DIR": str(settings.data_dir), "GROUNDCREW_LOG_LEVEL": "WARNING",
           "GROUNDCREW_SECRET_KEY": settings.secret_key or "", "GROUNDCREW_CACHE_DIR": str(settings.cache_dir),
           "GROUNDCREW_DISPATCH_AUTO_REPLAN": "false", "GROUNDCREW_DISPATCH_MORNING_AT": "",
           "GROUNDCREW_APPOINTMENT_SWEEP": "false", "GROUNDCREW_HORIZON_ROLL_AT": "",
           "GROUNDCREW_TIMEZONE": settings.timezone}
    env.pop("GROUNDCREW_DATABASE_URL", None)
    with serve_process(cli=[sys.executable, "-m", "server.cli"], env=env, cwd=ROOT,
                       log_path=settings.data_dir / "server.log", startup_s=180) as (url, proc):
        server = Server(url=url, process=proc)
        status, body = server.call("GET", "/map/service-area", user="bench-dispatcher")  # the streets are warm
        if status != 200:
            raise RuntimeError(f"/map/service-area: {status} {body}")
        yield server


def prepare(*, settings: Settings, technicians: int, jobs: int, solve_s: float, seed: int,
            echo: Callable[[str], None]) -> dict[str, Any]:
    """The bench's day in its throwaway database: technicians on shift now, open jobs at real places, users, and a
    plan stored by the planning service. Returns the places left over for new jobs and pings, and the plan's id."""
    from sqlmodel import Session

    from server.auth import service as auth_service
    from server.auth.models import Role, UserCreate
    from server.core.city import load_city
    from server.core.migrate import upgrade
    from server.core.tasks import engine_for
    from server.jobs.models import Job
    from server.technicians.models import Technician

    upgrade(settings)
    engine = engine_for(settings)
    city = load_city(settings)
    rng = random.Random(seed)
    spare = 200
    places = _places(city, technicians + jobs + spare, seed)
    if len(places) < technicians + jobs + spare:
        raise SystemExit(f"the demo city has only {len(places)} usable places")
    tz = ZoneInfo(settings.timezone)
    now = datetime.now(tz)
    start, end, lunch = bench_shift(now)
    echo(f"Creating {technicians} technicians (shift {start:%H:%M}-{end:%H:%M}) and {jobs} jobs on the demo city ...")
    with Session(engine) as session:
        tech_ids = []
        for i in range(technicians):
            lat, lon = places[i]
            tech = Technician(name=f"Tech {i + 1}", skills={SKILLS[i % len(SKILLS)]: 3,
                                                              SKILLS[(i + 2) % len(SKILLS)]: 2, "general": 2},
                              home_lat=lat, home_lon=lon, shift_start=start, shift_end=end,
                              overtime_allowed_min=60, breaks=lunch)
            session.add(tech)
            session.flush()
            tech_ids.append(tech.id or 0)
        for k in range(jobs):
            lat, lon = places[technicians + k]
            session.add(Job(title=f"Complaint {k + 1}", category=rng.choice(SKILLS), priority=rng.randint(2, 8),
                            required_skills={rng.choice(SKILLS): 1}, duration_min=rng.choice([20, 30, 45]),
                            lat=lat, lon=lon, address=f"{rng.randint(1, 4000)} Bench Street",
                            sla_due_at=(now + timedelta(hours=rng.uniform(1, 72))).astimezone(UTC)))
        for role, tid in ((Role.dispatcher, None), (Role.technician, tech_ids[0])):
            auth_service.create(session=session, user_in=UserCreate(
                username=f"bench-{role.value}", role=role, password=BENCH_PASSWORD, technician_id=tid))
        session.commit()
    echo(f"Planning the day ({solve_s:.0f} s solve) ...")
    t0 = time.perf_counter()
    plan_morning(engine=engine, settings=settings, solve_s=solve_s)
    plan_s = time.perf_counter() - t0
    echo(f"  plan stored in {plan_s:.1f} s")
    # One more technician, on shift after the plan was made (an empty day, every skill): the plan updates assign a
    # waiting job to them and take it off again. Onto a planned technician's packed day, the server refuses an
    # override a few minutes after the plan ("route ends after shift end plus allowed overtime"), as time moves on.
    with Session(engine) as session:
        lat, lon = places[-1]
        late = Technician(name="Tech late", skills=dict.fromkeys(SKILLS, 3), home_lat=lat, home_lon=lon,
                          shift_start=start, shift_end=end, overtime_allowed_min=60, breaks=lunch)
        session.add(late)
        session.commit()
        tech_ids.append(late.id or 0)
    return {"spare": places[technicians + jobs:-1], "plan_s": round(plan_s, 1), "tech_ids": tech_ids}


def _wait(page: Any, predicate: str, *, timeout_s: float, what: str, arg: Any = None) -> Any:
    """Poll a page function until it returns something truthy (the console's CSP forbids wait_for_function)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = page.evaluate(predicate, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.05)


QUIET = """(q) => { const b = window.__bench; const now = performance.now();
  return b.inflight === 0 && now - b.last >= q ? now : 0; }"""


def _heap(cdp: Any) -> dict[str, float]:
    """JS heap in use after a forced garbage collection (MB) and the document's node count."""
    cdp.send("HeapProfiler.collectGarbage")
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return {"js_heap_used_mb": round(metrics["JSHeapUsedSize"] / 2**20, 1),
            "js_heap_total_mb": round(metrics["JSHeapTotalSize"] / 2**20, 1), "dom_nodes": int(metrics["Nodes"])}


#: Chromium's renderer counters (DevTools ``Performance.getMetrics``, seconds): the main thread's CPU time, and the
#: (wall-clock) time its tasks spent in script, style and layout. Unlike the Long Tasks API's durations, CPU time
#: does not grow when other processes hold the machine's cores (the page waits, it does not work).
CPU_METRICS = {"ThreadTime": "main_cpu_ms", "ScriptDuration": "script_ms", "RecalcStyleDuration": "style_ms",
               "LayoutDuration": "layout_ms"}


def _counters(cdp: Any) -> dict[str, float]:
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return {out: metrics.get(name, 0.0) * 1000 for name, out in CPU_METRICS.items()}


def _spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: round(after[k] - before[k], 1) for k in before}


def _load(page: Any, *, timeout_s: float) -> dict[str, float]:
    """Reload the signed-in console and time it (see the module docstring). Chromium's counters restart with each
    document, so no CPU figure here."""
    page.reload()
    rendered = _wait(page, "() => window.__bench && window.__bench.rendered", timeout_s=timeout_s,
                     what="the board, queue and map")
    _wait(page, QUIET, arg=QUIET_MS, timeout_s=timeout_s, what="the main thread to settle")
    long = page.evaluate("() => window.__bench.long")
    usable = max([rendered, *(start + duration for start, duration in long)])
    res = page.evaluate("() => window.__bench.res")
    return {"rendered_ms": round(rendered), "usable_ms": round(usable), "long_tasks": len(long),
            "longest_task_ms": round(max((d for _, d in long), default=0)),
            "blocking_ms": round(sum(max(0.0, d - 50) for _, d in long)),
            "requests": len(res), "transfer_kb": round(sum(r[2] for r in res) / 1024),
            "decoded_kb": round(sum(r[3] for r in res) / 1024)}


def _measure_event(page: Any, cdp: Any, trigger: Callable[[], None], expect: str, *,
                   timeout_s: float) -> dict[str, Any]:
    """One live event: mark, act through the API, wait for the page's reaction to end, and read what it cost (the
    CPU counters also count this function's own polling: ~0.1 ms of main-thread time per 50 ms poll)."""
    before = _counters(cdp)
    t0 = page.evaluate("() => performance.now()")
    trigger()
    _wait(page, "([t0, type]) => window.__bench.msgs.some(m => m[0] >= t0 && m[1] === type)", arg=[t0, expect],
          timeout_s=timeout_s, what=f"the {expect} event in the page")
    _wait(page, QUIET, arg=QUIET_MS, timeout_s=timeout_s, what="the page's reaction to end")
    spent = _spent(before, _counters(cdp))
    b = page.evaluate("""(t0) => { const b = window.__bench; return {
        long: b.long.filter(l => l[0] + l[1] >= t0), res: b.res.filter(r => r[0] >= t0),
        msgs: b.msgs.filter(m => m[0] >= t0 && m[1] !== 'heartbeat'),
        after: b.taskAfter.filter(a => a[0] >= t0) }; }""",
                      t0)
    handler = [a[2] for a in b["after"] if a[1] == expect]
    return {"longest_ms": max((d for _, d in b["long"]), default=0.0),
            "blocking_ms": sum(max(0.0, d - 50) for _, d in b["long"]),
            "long_tasks": len(b["long"]), "handler_task_ms": handler[0] if handler else 0.0, **spent,
            "requests": len(b["res"]), "transfer_bytes": sum(r[2] for r in b["res"]),
            "decoded_bytes": sum(r[3] for r in b["res"]), "ws_messages": len(b["msgs"]),
            "ws_bytes": sum(m[2] for m in b["msgs"]), "kinds": sorted({m[1] for m in b["msgs"]}),
            "paths": sorted({r[4].split("//", 1)[-1].split("/", 1)[-1].split("?")[0] for r in b["res"]})}


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def stats(key: str) -> dict[str, float]:
        values = [float(r[key]) for r in rows]
        return {"p50": percentile(values, 0.5), "p95": percentile(values, 0.95), "max": round(max(values), 1)}

    return {"events": len(rows), "longest_task_ms": stats("longest_ms"), "blocking_ms": stats("blocking_ms"),
            "handler_task_ms": stats("handler_task_ms"), **{key: stats(key) for key in CPU_METRICS.values()},
            "over_50ms": sum(r["longest_ms"] > 50 for r in rows),
            "requests_per_event": round(statistics.fmean(r["requests"] for r in rows), 1),
            "transfer_kb_per_event": round(statistics.fmean(r["transfer_bytes"] for r in rows) / 1024, 1),
            "decoded_kb_per_event": round(statistics.fmean(r["decoded_bytes"] for r in rows) / 1024, 1),
            "ws_bytes_per_event": round(statistics.fmean(r["ws_bytes"] for r in rows)),
            "ws_kinds": sorted({k for r in rows for k in r["kinds"]}),
            "paths_fetched": sorted({p for r in rows for p in r["paths"]})}


#: Renderer work the trace names (Chromium's devtools.timeline events), beside the JavaScript that asked for it.
TRACE_KINDS = {"UpdateLayoutTree": "style", "Layout": "layout", "PrePaint": "paint", "Paint": "paint",
               "Layerize": "paint", "MinorGC": "gc", "MajorGC": "gc", "ParseHTML": "parse html"}


def _profile(browser: Any, cdp: Any, page: Any, trigger: Callable[[], None], expect: str, out: Path, *,
             timeout_s: float) -> dict[str, Any]:
    """One more event of a kind, under the V8 sampling profiler (100 µs) and a Chromium trace: where its main-thread
    time goes. Writes ``<kind>.cpuprofile`` (opens in DevTools' Performance panel) and ``<kind>.trace.json``;
    returns the renderer's split (script, style, layout, paint, GC, in ms) and the JavaScript functions with the
    most self time (minified bundle positions: name, file, line:column, 0-based)."""
    out.mkdir(parents=True, exist_ok=True)
    cdp.send("Profiler.enable")
    cdp.send("Profiler.setSamplingInterval", {"interval": 100})
    browser.start_tracing(page=page, categories=["devtools.timeline", "disabled-by-default-devtools.timeline"])
    cdp.send("Profiler.start")
    try:
        row = _measure_event(page, cdp, trigger, expect, timeout_s=timeout_s)
    finally:
        profile = cdp.send("Profiler.stop")["profile"]
        trace = json.loads(browser.stop_tracing())
        cdp.send("Profiler.disable")
    (out / f"{expect}.cpuprofile").write_text(json.dumps(profile))
    (out / f"{expect}.trace.json").write_text(json.dumps(trace))
    # Self time per function: each sample's node, weighted by the time to the next sample.
    nodes = {n["id"]: n["callFrame"] for n in profile["nodes"]}
    self_ms: dict[tuple[str, str, int, int], float] = {}
    for node_id, delta in zip(profile["samples"][:-1], profile["timeDeltas"][1:], strict=False):
        frame = nodes[node_id]
        key = (frame["functionName"] or "(anonymous)", frame["url"].rsplit("/", 1)[-1], frame["lineNumber"],
               frame["columnNumber"])
        self_ms[key] = self_ms.get(key, 0.0) + delta / 1000
    top = sorted(self_ms.items(), key=lambda kv: -kv[1])[:12]
    # The renderer main thread's tasks and what inside them was style, layout, paint or GC.
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    main = {(e["pid"], e["tid"]) for e in events if e.get("name") == "thread_name"
            and e.get("args", {}).get("name") == "CrRendererMain"}
    split: dict[str, float] = {}
    tasks_ms = 0.0
    for e in events:
        if (e.get("pid"), e.get("tid")) not in main or e.get("ph") != "X":
            continue
        if e["name"] == "RunTask":
            tasks_ms += e.get("dur", 0) / 1000
        elif e["name"] in TRACE_KINDS:
            what = TRACE_KINDS[e["name"]]
            split[what] = split.get(what, 0.0) + e.get("dur", 0) / 1000
    split = {"tasks": round(tasks_ms, 1), **{k: round(v, 1) for k, v in split.items()},
             "script_and_other": round(tasks_ms - sum(split.values()), 1)}
    return {"event": {"longest_ms": row["longest_ms"], "blocking_ms": row["blocking_ms"]}, "main_thread_ms": split,
            "top_self_ms": [{"function": f, "file": u, "at": f"{line}:{col}", "ms": round(ms, 1)}
                            for (f, u, line, col), ms in top]}


def _triggers(server: Server, spare: list[tuple[float, float]], tech_ids: list[int],
              rng: random.Random) -> dict[str, Callable[[int], None]]:
    """One server-side action per event kind, through the HTTP API (each raises that event)."""
    def check(status: int, body: Any, what: str, ok: tuple[int, ...] = (200, 201, 202)) -> None:
        if status not in ok:
            raise RuntimeError(f"{what}: {status} {body}")

    _, page = server.call("GET", "/jobs?limit=200", user="bench-dispatcher")
    open_jobs = [j["id"] for j in page["items"] if j["status"] in ("unassigned", "assigned")]
    # The plan update: a job of its own (made now, before anything is measured) onto the technician who joined after
    # the plan (``prepare``: an empty day, every skill), then off again; each is a new plan version.
    late = tech_ids[-1]
    lat, lon = spare[len(spare) // 2]
    status, moved = server.call("POST", "/jobs", user="bench-dispatcher", body={
        "title": "Bench plan-update job", "category": "general", "required_skills": {"general": 1}, "priority": 5,
        "duration_min": 20, "lat": lat, "lon": lon, "address": "1 Plan Street"})
    check(status, moved, "job create")

    def ping(k: int) -> None:
        lat, lon = spare[k % len(spare)]
        check(*server.call("POST", "/technicians/me/location", user="bench-technician",
                           body={"lat": lat, "lon": lon, "accuracy_m": 10}), "ping")

    def update(k: int) -> None:
        check(*server.call("PATCH", f"/jobs/{open_jobs[k % len(open_jobs)]}", user="bench-dispatcher",
                           body={"priority": 2 + (k * 3) % 7}), "job update")

    def create(k: int) -> None:
        lat, lon = spare[-1 - k % len(spare)]
        skill = rng.choice(SKILLS)
        check(*server.call("POST", "/jobs", user="bench-dispatcher", body={
            "title": f"Bench new job {k + 1}", "category": skill, "required_skills": {skill: 1}, "priority": 5,
            "duration_min": 30, "lat": lat, "lon": lon, "address": f"{100 + k} New Street"}), "job create")

    def commit(body: dict[str, Any]) -> tuple[int, Any]:
        return server.call("POST", "/dispatch/overrides/commit", user="bench-dispatcher", body=body)

    def plan(k: int) -> None:
        body = {"action": "assign", "job_id": moved["id"], "technician_id": late} if k % 2 == 0 else \
            {"action": "unassign", "job_id": moved["id"]}
        check(*commit(body), "override")

    return {"technician.location": ping, "job.updated": update, "job.created": create, "plan.created": plan}


def run(*, technicians: int, jobs: int, events: int, loads: int, solve_s: float, seed: int, base: Settings,
        echo: Callable[[str], None], browser: Any = None, kinds: tuple[str, ...] = KINDS,
        profile_dir: Path | None = None, timeout_s: float = 180.0) -> dict[str, Any]:
    """The whole benchmark; ``browser`` is a Playwright Chromium to use (a test's), else one is launched. With
    ``profile_dir``, each kind with an event over 50 ms gets one more event, profiled (``_profile``)."""
    settings = bench_settings(base, "console", dispatch_background=False)
    day = prepare(settings=settings, technicians=technicians, jobs=jobs, solve_s=solve_s, seed=seed, echo=echo)
    rng = random.Random(seed)
    with contextlib.ExitStack() as stack:
        echo("Starting the server ...")
        server = stack.enter_context(serve(settings))
        if browser is None:
            from playwright.sync_api import sync_playwright

            playwright = stack.enter_context(sync_playwright())
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            stack.callback(browser.close)
        context = browser.new_context(viewport={"width": 1366, "height": 768}, timezone_id=settings.timezone,
                                      locale="en-US")
        stack.callback(context.close)
        context.route("https://tile.openstreetmap.org/**", lambda route: route.abort())  # offline: no tiles
        context.add_init_script(INIT_SCRIPT)
        page = context.new_page()
        page.set_default_timeout(timeout_s * 1000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")
        page.goto(server.url + "/")
        page.get_by_label("Username").fill("bench-dispatcher")
        page.get_by_label("Password").fill(BENCH_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_selector("header.topbar")
        _wait(page, "() => window.__bench.rendered", timeout_s=timeout_s, what="the first board")
        load_rows = []
        for i in range(loads):
            load_rows.append(_load(page, timeout_s=timeout_s))
            row = load_rows[-1]
            echo(f"load {i + 1}: rendered {row['rendered_ms']} ms, usable {row['usable_ms']} ms after navigation; "
                 f"{row['long_tasks']} long tasks, longest {row['longest_task_ms']} ms, blocking "
                 f"{row['blocking_ms']} ms; {row['requests']} requests, {row['transfer_kb']} kB")
        counts = page.evaluate("""() => ({ queue: Number(document.querySelector('#queue-count').dataset.matched),
            cards: document.querySelectorAll('.queue-item').length, rows: document.querySelectorAll('.tl-row').length,
            mapJobs: Number(document.querySelector('#dispatch-map').dataset.jobs),
            bundle: [...document.scripts].map(s => s.src.split('/').pop()).filter(Boolean).join(' ') })""")
        heap_load = _heap(cdp)
        echo(f"after load: JS heap {heap_load['js_heap_used_mb']} MB, {heap_load['dom_nodes']} DOM nodes; "
             f"queue {counts['queue']} jobs ({counts['cards']} cards drawn), board {counts['rows']} rows, "
             f"map {counts['mapJobs']} jobs")
        _wait(page, "() => window.__bench.wsOpen > 0", timeout_s=timeout_s, what="the live socket")
        actions = _triggers(server, day["spare"], day["tech_ids"], rng)
        # The job the plan updates move was just made: its job.created reaches the page, which reacts, before the
        # measuring starts.
        _wait(page, "() => window.__bench.msgs.some(m => m[1] === 'job.created')", timeout_s=timeout_s,
              what="the plan-update job in the page")
        _wait(page, QUIET, arg=QUIET_MS, timeout_s=timeout_s, what="the page's reaction to end")
        # The measuring's own cost: the same polling through a quiet window with no event (the CPU counters include
        # it; subtract this from an event's main-thread CPU).
        before = _counters(cdp)
        page.evaluate("() => { window.__bench.last = performance.now(); }")
        _wait(page, QUIET, arg=QUIET_MS, timeout_s=timeout_s, what="a quiet page")
        idle = _spent(before, _counters(cdp))
        echo(f"no event (the measuring alone, {QUIET_MS} ms quiet window): main thread CPU {idle['main_cpu_ms']} ms")
        per_kind: dict[str, Any] = {}
        for kind in kinds:
            act = actions[kind]
            rows = [_measure_event(page, cdp, lambda k=k, act=act: act(k), kind, timeout_s=timeout_s)
                    for k in range(events)]
            per_kind[kind] = summary = _summary(rows)
            echo(f"{kind}: longest task p50 {summary['longest_task_ms']['p50']} / p95 "
                 f"{summary['longest_task_ms']['p95']} / max {summary['longest_task_ms']['max']} ms, blocking p95 "
                 f"{summary['blocking_ms']['p95']} ms, handler task p95 {summary['handler_task_ms']['p95']} ms, "
                 f"main thread CPU p50 {summary['main_cpu_ms']['p50']} / p95 {summary['main_cpu_ms']['p95']} ms "
                 f"(script p95 {summary['script_ms']['p95']}, layout p95 {summary['layout_ms']['p95']}), "
                 f"{summary['over_50ms']}/{len(rows)} events over 50 ms; {summary['requests_per_event']} requests, "
                 f"{summary['transfer_kb_per_event']} kB fetched, {summary['ws_bytes_per_event']} B of live "
                 f"messages per event ({', '.join(summary['paths_fetched']) or 'nothing fetched'})")
            if profile_dir is not None and summary["over_50ms"]:
                summary["profile"] = prof = _profile(browser, cdp, page, lambda act=act: act(events), kind,
                                                     profile_dir, timeout_s=timeout_s)
                top = "; ".join(f"{t['function']} {t['file']}:{t['at']} {t['ms']} ms" for t in prof["top_self_ms"][:6])
                echo(f"  profile of one more {kind}: main thread {prof['main_thread_ms']}; most self time: {top}")
        heap_events = _heap(cdp)
        echo(f"after {events} events of each kind: JS heap {heap_events['js_heap_used_mb']} MB, "
             f"{heap_events['dom_nodes']} DOM nodes")
        version = browser.version
        if errors:
            raise RuntimeError(f"JavaScript errors in the page: {errors[:3]}")
    return {
        "benchmark": "console_browser", "jobs": jobs, "technicians": technicians, "city": "demo (Baltimore central)",
        "plan_s": day["plan_s"], "solve_s": solve_s, "viewport": "1366x768", "quiet_ms": QUIET_MS,
        "board": counts, "loads": load_rows,
        "load": {"rendered_ms": statistics.median(r["rendered_ms"] for r in load_rows),
                 "usable_ms": statistics.median(r["usable_ms"] for r in load_rows)} if load_rows else None,
        "heap_after_load": heap_load, "heap_after_events": heap_events, "no_event": idle, "events": per_kind,
        "target": {"longest_task_ms_per_ping": 50},
        "chromium": version, "load_avg_1m": round(os.getloadavg()[0], 2), "cores": os.cpu_count(),
    }
