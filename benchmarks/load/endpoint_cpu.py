"""Server CPU per request, endpoint by endpoint: one uvicorn process, one sequential keep-alive client, the
process's own CPU time from /proc (not wall time, so the client and the database do not count).

    python -m benchmarks.load.endpoint_cpu --db postgres
    python -m benchmarks.load.endpoint_cpu --db sqlite --only /jobs

Each endpoint runs ``--requests`` times per round and the cheapest of ``--rounds`` rounds is kept (the machine's
speed varies between runs). The world is the load benchmark's (benchmarks/load/run.py: ``prepare``), with a few
inbound tweets first so that cases exist. Last line: JSON {endpoint: ms}. A benchmark, not a test (Linux only)."""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from benchmarks.load.run import _stop_group, cpu_seconds, prepare, start_server, throwaway_database


def _tweet(n: int) -> dict[str, Any]:
    tweet_id, user = f"{uuid.uuid4().int % 10**18}", f"u{n % 300}"
    return {"data": {"id": tweet_id, "text": f"@groundcrew huge pothole on {100 + n} Eastern Ave", "author_id": user,
                     "created_at": "2026-11-20T14:00:00.000Z", "conversation_id": tweet_id},
            "includes": {"users": [{"id": user, "username": f"resident{n % 300}", "name": "Resident",
                                    "public_metrics": {"followers_count": 10}}]}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--requests", type=int, default=300, help="requests per endpoint per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default=None, help="only endpoints whose name contains this")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="gc-cpu-"))
    with throwaway_database(args.db, work, prefix="gc_cpu") as url:
        world = prepare(url, work, 100, jobs_extra=200)
        server, base = start_server(url, work)
        try:
            result = _measure(args, world, server, httpx.Client(base_url=base, timeout=30))
        finally:
            _stop_group(server)
    print(json.dumps({"db": args.db, "cpu_ms_per_request": result}))
    return 0


def _measure(args: argparse.Namespace, world: dict[str, Any], server: subprocess.Popen[bytes],
             client: httpx.Client) -> dict[str, float]:
    """The cheapest round's server CPU per request, endpoint by endpoint."""
    dispatcher = {"Authorization": f"Bearer {world['dispatcher_token']}"}
    tech = world["technicians"][0]
    technician = {"Authorization": f"Bearer {tech['token']}"}
    seq = iter(range(10**9))
    for _ in range(60):
        client.post("/channels/twitter", json=_tweet(next(seq)))
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
    result: dict[str, float] = {}
    for name, method, path, body, headers in endpoints:
        if args.only and args.only not in name:
            continue
        n = args.requests if body != "tweet" else max(1, args.requests // 2)
        best = float("inf")
        for _ in range(args.rounds):
            before = cpu_seconds(server.pid)[0]
            for _ in range(n):
                payload = _tweet(next(seq)) if body == "tweet" else body
                response = client.request(method, path, json=payload, headers=headers)
                if response.status_code >= 300:
                    raise SystemExit(f"{name}: {response.status_code} {response.text[:300]}")
            if body == "tweet":
                time.sleep(2)  # its background delivery counts too
            best = min(best, cpu_seconds(server.pid)[0] - before)
        result[name] = round(1000 * best / n, 2)
        print(f"  {name:40} {result[name]:7.2f} ms CPU per request", flush=True)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
