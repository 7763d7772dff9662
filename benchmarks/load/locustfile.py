"""The realistic mix against one Groundcrew deployment (run it with ``python -m benchmarks.load.run``).

- Technicians (one locust user each, 500 by default): a location ping every 30 s from the app; now and then the
  app reloads its job list, and moves its job one lifecycle step (with an idempotency key, as the outbox does).
- Dispatchers: job board, technicians, current plan, ops metrics, cases, one job.
- Social: inbound X/Twitter webhooks (new complaints: triage, geotag, case, maybe a job).
- Open311: public GETs (request list, one request, services).

The world (tokens, ids) comes from the JSON file in ``GROUNDCREW_LOAD_WORLD`` written by run.py."""

from __future__ import annotations

import itertools
import json
import os
import random
import uuid
from datetime import UTC, datetime
from pathlib import Path

import gevent
from locust import FastHttpUser, task

from benchmarks.load.pacing import paced

WORLD = json.loads(Path(os.environ["GROUNDCREW_LOAD_WORLD"]).read_text())
RATE = float(os.environ.get("GROUNDCREW_LOAD_CLIENT_RATE", "2"))  # requests/s of each non-technician client
_techs = itertools.cycle(WORLD["technicians"])
_tweet_seq = itertools.count()
STREETS = ["Eastern Ave", "Boston St", "Fleet St", "Aliceanna St", "S Broadway", "N Charles St", "Pratt St"]
PROBLEMS = ["streetlight out on", "huge pothole on", "water main leaking on", "tree down blocking", "trash piled on"]
LIFECYCLE = ["en_route", "on_site", "completed"]


class Technician(FastHttpUser):
    weight = 0
    fixed_count = int(os.environ.get("GROUNDCREW_LOAD_TECHNICIANS", "500"))
    wait_time = paced(30)

    def on_start(self) -> None:
        me = next(_techs)
        self.headers = {"Authorization": f"Bearer {me['token']}"}
        self.job_id = me["job_id"]
        self.step = 0
        self.lat, self.lon = me["lat"], me["lon"]
        # Real phones ping at random phases; spawned within a few seconds, 500 technicians would otherwise ping in
        # one burst every 30 s (a thundering herd the benchmark made, not the field). ``paced`` keeps this phase
        # (locust's constant_pacing did not: it counted from the spawn, so the herd came back after the first ping).
        gevent.sleep(random.uniform(0, 30))

    @task
    def ping(self) -> None:
        self.lat += random.uniform(-0.0005, 0.0005)
        self.lon += random.uniform(-0.0005, 0.0005)
        self.client.post("/technicians/me/location", json={"lat": self.lat, "lon": self.lon},
                         headers=self.headers, name="POST /technicians/me/location")
        roll = random.random()
        if roll < 0.10:
            self.client.get("/jobs", headers=self.headers, name="GET /jobs (technician)")
        elif roll < 0.20 and self.job_id and self.step < len(LIFECYCLE):
            status = LIFECYCLE[self.step]
            self.client.post(f"/jobs/{self.job_id}/status", name="POST /jobs/{id}/status", headers=self.headers,
                             json={"status": status, "idempotency_key": f"{self.job_id}-{status}",
                                   "notes": "done" if status == "completed" else ""})
            self.step += 1


class _Client(FastHttpUser):
    """A client asking RATE times a second, at its own phase.

    Locust spawns each second's batch of users at the same instant, and ``constant_throughput`` paces a user from
    the moment it was spawned, so every client asked in the same millisecond twice a second: the server saw bursts
    of ~20 requests (~140 at the full mix) every 0.5 s and mostly queued them (measured in the server at ~90 req/s:
    requests waited 25-180 ms for their turn behind the burst while the processes were 60 % idle). Independent
    people at their desks do not synchronise: each client starts at a random phase and keeps it."""

    abstract = True
    wait_time = paced(1 / RATE)

    def on_start(self) -> None:
        gevent.sleep(random.uniform(0, 1 / RATE))


class Dispatcher(_Client):
    weight = 60

    def on_start(self) -> None:
        self.headers = {"Authorization": f"Bearer {WORLD['dispatcher_token']}"}
        super().on_start()

    @task(5)
    def jobs(self) -> None:
        self.client.get("/jobs?limit=50", headers=self.headers, name="GET /jobs")

    @task(2)
    def technicians(self) -> None:
        self.client.get("/technicians?limit=50", headers=self.headers, name="GET /technicians")

    @task(2)
    def one_job(self) -> None:
        self.client.get(f"/jobs/{random.choice(WORLD['job_ids'])}", headers=self.headers, name="GET /jobs/{id}")

    @task(1)
    def cases(self) -> None:
        self.client.get("/cases?limit=50", headers=self.headers, name="GET /cases")

    @task(1)
    def ops(self) -> None:
        self.client.get("/metrics/ops", headers=self.headers, name="GET /metrics/ops")


class Open311(_Client):
    weight = 25

    @task(3)
    def requests(self) -> None:
        self.client.get("/open311/v2/requests.json", name="GET /open311/v2/requests.json")

    @task(2)
    def one(self) -> None:
        self.client.get("/open311/v2/requests.json?status=open", name="GET /open311/v2/requests.json?status=open")

    @task(1)
    def services(self) -> None:
        self.client.get("/open311/v2/services.json", name="GET /open311/v2/services.json")


class Social(_Client):
    weight = 15

    @task
    def tweet(self) -> None:
        n = next(_tweet_seq)
        tweet_id = f"{uuid.uuid4().int % 10**18}"
        text = f"@groundcrew {random.choice(PROBLEMS)} {random.randint(100, 3000)} {random.choice(STREETS)}"
        user = f"u{n % 2000}"
        sent = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")  # a live complaint, sent just now
        body = {"data": {"id": tweet_id, "text": text, "author_id": user, "created_at": sent,
                         "conversation_id": tweet_id},
                "includes": {"users": [{"id": user, "username": f"resident{n % 2000}", "name": "Resident",
                                        "public_metrics": {"followers_count": 10}}]}}
        with self.client.post("/channels/twitter", json=body, name="POST /channels/twitter",
                              catch_response=True) as response:
            if response.status_code not in (200, 201):
                response.failure(f"{response.status_code}: {response.text[:200]}")
