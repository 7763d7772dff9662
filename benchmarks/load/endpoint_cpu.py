"""Server CPU per request, endpoint by endpoint: one uvicorn process, one sequential keep-alive client, the
process's own CPU time (not wall time, so the client and the database do not count).

    python -m benchmarks.load.endpoint_cpu --db postgres
    python -m benchmarks.load.endpoint_cpu --db sqlite --only /jobs

Each endpoint runs ``--requests`` times per round and the cheapest of ``--rounds`` rounds is kept (the machine's
speed varies between runs). The world is the load benchmark's (benchmarks/load/run.py: ``prepare``), with a few
inbound tweets first so that cases exist. Last line: JSON {endpoint: ms}. A benchmark, not a test (Linux only).

To compare two versions of the code, do not compare two runs: this machine's speed drifts by up to 2x within a
minute. ``--compare REV`` also serves git revision REV (a temporary worktree, same database, same world — so REV
must have this checkout's database schema; both servers on one CPU and the client on the other) and alternates
short blocks of requests between the two servers; each block is compared with its neighbour in time, and the
median of those ratios is the change:

    python -m benchmarks.load.endpoint_cpu --db postgres --compare HEAD~1 --only twitter

Its resolution, measured by comparing the code with itself: about ±4 % (up to 8 % on single endpoints), so only
larger changes are visible. CPU time comes from each thread's schedstat (nanoseconds)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks.load.run import ROOT, _stop_group, at_least, prepare, start_server, throwaway_database


def _tweet(n: int) -> dict[str, Any]:
    tweet_id, user = f"{uuid.uuid4().int % 10**18}", f"u{n % 300}"
    return {"data": {"id": tweet_id, "text": f"@groundcrew huge pothole on {100 + n} Eastern Ave", "author_id": user,
                     "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"), "conversation_id": tweet_id},
            "includes": {"users": [{"id": user, "username": f"resident{n % 300}", "name": "Resident",
                                    "public_metrics": {"followers_count": 10}}]}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--requests", type=at_least(1), default=300, help="requests per endpoint per round")
    parser.add_argument("--rounds", type=at_least(1), default=3)
    parser.add_argument("--only", default=None, help="only endpoints whose name contains this")
    parser.add_argument("--compare", metavar="REV", default=None,
                        help="also serve this git revision and alternate blocks of requests between the two")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="gc-cpu-"))
    with throwaway_database(args.db, work, prefix="gc_cpu") as url, _checkout(args.compare, work) as other:
        world = prepare(url, work, 100, jobs_extra=200)
        servers: list[tuple[str, subprocess.Popen[bytes], httpx.Client]] = []
        # Comparing: both servers on the same CPU and this client on another, or the kernel may keep one server
        # on the client's CPU and the other not (measured: +5-9 % between two servers of the same code).
        cpus = sorted(os.sched_getaffinity(0))
        pin = {cpus[-1]} if other and len(cpus) > 1 else None
        if pin:
            os.sched_setaffinity(0, set(cpus[:-1]))
        if other:  # the same string hashing in both (measured: the same code against itself +3-9 % -> +1-4 %)
            os.environ.setdefault("PYTHONHASHSEED", "0")
        try:
            for label, cwd in [("this", ROOT), *([(args.compare, other)] if other else [])]:
                server, base = start_server(url, work / label.replace("/", "_"), cwd=cwd, cpus=pin)
                servers.append((label, server, httpx.Client(base_url=base, timeout=30)))
            result = _measure(args, world, servers)
        finally:
            for _, server, _ in servers:
                _stop_group(server)
    if args.compare:
        print(json.dumps({"db": args.db, "compare": args.compare, "cpu_ms_per_request": result}))
    else:
        print(json.dumps({"db": args.db, "cpu_ms_per_request": {k: v["this"] for k, v in result.items()}}))
    return 0


@contextlib.contextmanager
def _checkout(rev: str | None, work: Path) -> Iterator[Path | None]:
    """A temporary git worktree of ``rev`` (removed afterwards), or None."""
    if rev is None:
        yield None
        return
    path = work / "compare-tree"
    made = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), rev],
                          capture_output=True, text=True)
    if made.returncode != 0:
        raise SystemExit(f"--compare: cannot check out '{rev}': {made.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)], check=False,
                       capture_output=True)


def cpu_ns(pid: int) -> tuple[int, set[str]]:
    """CPU time so far of every thread of a process, in nanoseconds (schedstat: /proc's clock ticks are 10 ms),
    and the threads it summed."""
    total, threads = 0, set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            total += int((task / "schedstat").read_text().split()[0])
            threads.add(task.name)
    return total, threads


def _block(server: subprocess.Popen[bytes], client: httpx.Client, count: int, label: str, endpoint: tuple,
           seq: Iterator[int], settle_s: float) -> float:
    """Server CPU ms per request over ``count`` requests to one endpoint (its background work included).

    A block during which one of the server's threads ended is run again: an ended thread's CPU time leaves the
    sum, which made some blocks cheap, even negative (idle worker threads end after a while)."""
    name, method, path, body, headers = endpoint
    for _attempt in range(5):
        before, threads = cpu_ns(server.pid)
        for _ in range(count):
            payload = _tweet(next(seq)) if body == "tweet" else body
            response = client.request(method, path, json=payload, headers=headers)
            if response.status_code >= 300:
                raise SystemExit(f"{name} ({label}): {response.status_code} {response.text[:300]}")
        if body == "tweet":
            time.sleep(settle_s)  # its background delivery counts too
        after, still = cpu_ns(server.pid)
        if threads <= still:
            break
    return (after - before) / 1e6 / count


def _measure(args: argparse.Namespace, world: dict[str, Any],
             servers: list[tuple[str, subprocess.Popen[bytes], httpx.Client]]) -> dict[str, dict[str, float]]:
    """Server CPU per request, endpoint by endpoint and server by server: the cheapest round with one server; with
    two, the medians of short interleaved blocks and the median paired change in percent."""
    dispatcher = {"Authorization": f"Bearer {world['dispatcher_token']}"}
    tech = world["technicians"][0]
    technician = {"Authorization": f"Bearer {tech['token']}"}
    seq = iter(range(10**9))
    for i in range(60):  # shared by the servers alike (one database): the same work warms each
        servers[i % len(servers)][2].post("/channels/twitter", json=_tweet(next(seq)))
    time.sleep(6)  # the "where is it?" replies are delivered in the background: let that finish first
    endpoints: list[tuple[str, str, str, Any, dict[str, str]]] = [
        ("GET /health", "GET", "/health", None, {}),
        ("GET /jobs?limit=50", "GET", "/jobs?limit=50", None, dispatcher),
        ("GET /technicians?limit=50", "GET", "/technicians?limit=50", None, dispatcher),
        ("GET /jobs/{id}", "GET", f"/jobs/{world['job_ids'][0]}", None, dispatcher),
        ("GET /cases?limit=50", "GET", "/cases?limit=50", None, dispatcher),
        ("GET /metrics/ops", "GET", "/metrics/ops", None, dispatcher),
        ("GET /open311/v2/requests.json", "GET", "/open311/v2/requests.json", None, {}),
        ("GET /open311/v2/services.json", "GET", "/open311/v2/services.json", None, {}),
        ("POST /technicians/me/location", "POST", "/technicians/me/location",
         {"lat": tech["lat"], "lon": tech["lon"]}, technician),
        ("GET /jobs (technician)", "GET", "/jobs", None, technician),
        ("POST /channels/twitter", "POST", "/channels/twitter", "tweet", {}),
    ]
    result: dict[str, dict[str, float]] = {}
    for name, method, path, body, headers in endpoints:
        if args.only and args.only not in name:
            continue
        n = args.requests if body != "tweet" else max(1, args.requests // 2)

        endpoint = (name, method, path, body, headers)
        settle = 0.5 if len(servers) > 1 else 2.0

        def block(server: subprocess.Popen[bytes], client: httpx.Client, count: int, label: str,
                  endpoint: tuple = endpoint, settle: float = settle) -> float:
            return _block(server, client, count, label, endpoint, seq, settle)

        if len(servers) == 1:
            label, server, client = servers[0]
            result[name] = {"this": round(min(block(server, client, n, label) for _ in range(args.rounds)), 2)}
            print(f"  {name:40} {result[name]['this']:7.2f} ms CPU per request", flush=True)
            continue
        # Two servers: short blocks, alternating (ABBA...), each compared with its neighbour in time; the median of
        # those paired ratios is what the machine's drift (up to 2x within a minute here) leaves alone.
        (a, sa, ca), (b, sb, cb) = servers
        for label, server, client in servers:  # unmeasured warm-up: first-use caches, pooled connections
            block(server, client, 10, label)
        size = 10 if body == "tweet" else 25
        ratios, per = [], {a: [], b: []}
        for k in range(max(4, n * args.rounds // size)):
            first, second = ((sa, ca, a), (sb, cb, b)) if k % 2 == 0 else ((sb, cb, b), (sa, ca, a))
            x, y = block(first[0], first[1], size, first[2]), block(second[0], second[1], size, second[2])
            per[first[2]].append(x)
            per[second[2]].append(y)
            ratios.append(x / y if first[2] == a else y / x)
        change = 100 * (statistics.median(ratios) - 1)
        result[name] = {a: round(statistics.median(per[a]), 2), b: round(statistics.median(per[b]), 2),
                        "change_pct": round(change, 1)}
        print(f"  {name:40} {a} {result[name][a]:7.2f} ms   {b} {result[name][b]:7.2f} ms   {change:+6.1f} %"
              f"  (median of {len(ratios)} paired blocks)", flush=True)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
