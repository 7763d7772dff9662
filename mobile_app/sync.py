"""Synchronisation: the outbox sender (in order, exponential backoff), pulling jobs, conversations and the
route into the local store, new-job alerts, the event stream listener and the background worker.

``SyncEngine`` is synchronous and window-free (unit-tested with a fake transport and run against the real
server); ``SyncWorker`` runs it on a background thread for the app.
"""

from __future__ import annotations

import base64
import logging
import queue
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mobile_app.api import (
    ApiClient,
    ApiError,
    AuthError,
    ConflictError,
    OfflineError,
    RequestError,
    ServerError,
)
from mobile_app.state import CLOSED, AppState, is_urgent
from mobile_app.store import OutboxItem, Store

log = logging.getLogger("groundcrew.mobile")

ACTION_LABELS = {"en_route": "en route", "on_site": "arrived", "completed": "completed", "unable": "unable to do"}


def backoff_s(attempts: int, *, base_s: float = 2.0, cap_s: float = 300.0) -> float:
    """Seconds to wait after ``attempts`` failed tries: 2, 4, 8, ... capped at 5 minutes."""
    return min(cap_s, base_s * (2 ** max(0, attempts - 1)))


def route_order(jobs: list[dict[str, Any]], route: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Jobs in the order of the route's stops; without a route, by ETA, SLA, then priority.
    Closed jobs go last. Each job gets ``eta`` (ISO string or None) and ``sequence``."""
    stops = {}
    if route:
        for stop in route.get("stops", []):
            stops[stop.get("job_id")] = stop

    def key(job: dict[str, Any]) -> tuple:
        stop = stops.get(job["id"])
        closed = job.get("status") in CLOSED
        eta = (stop or {}).get("arrival_at") or job.get("eta_at")
        return (closed, stop is None, (stop or {}).get("sequence", 0), eta or "9999", job.get("sla_due_at") or "9999",
                -int(job.get("priority") or 0), job["id"])

    ordered = sorted(jobs, key=key)
    for index, job in enumerate(ordered):
        stop = stops.get(job["id"])
        job["eta"] = (stop or {}).get("arrival_at") or job.get("eta_at")
        job["sequence"] = index + 1
    return ordered


class SyncEngine:
    """Owns the outbox and the cache; every method is safe to call from one worker thread."""

    def __init__(self, api: ApiClient, store: Store, state: AppState, *, clock: Callable[[], float] = time.time,
                 poll_interval_s: float = 20.0) -> None:
        self.api = api
        self.store = store
        self.state = state
        self.clock = clock
        self.poll_interval_s = poll_interval_s
        self.missing: set[str] = set()  # endpoints the server does not offer (yet)
        self._last_pull = 0.0

    # ---- loading ----------------------------------------------------------------------------------
    def load_cached(self) -> None:
        """Show what the device already has (works with no network)."""
        jobs = self._overlay(self.store.jobs())
        closed_at = self.store.get("cache.closed_at", {})
        for job in jobs:
            if job.get("status") in CLOSED and str(job["id"]) in closed_at:
                job["closed_at"] = closed_at[str(job["id"])]
        self.state.update(jobs=jobs, route=self.store.get("cache.route"), coming=self.store.get("cache.coming", []),
                          pending=self.store.pending_count())

    # ---- the technician's actions -----------------------------------------------------------------
    def act_status(self, job_id: int, status: str, **fields: Any) -> OutboxItem:
        """Queue a lifecycle step (en_route, on_site, completed, unable); shown at once, sent when possible."""
        if status == "unable" and not (fields.get("reason") or "").strip():
            raise ValueError("Say why you could not do the job.")
        fields.setdefault("at", datetime.fromtimestamp(self.clock(), UTC).isoformat())
        item = self.store.enqueue("status", {"status": status, **{k: v for k, v in fields.items() if v}},
                                  job_id=job_id, now=self.clock())
        self.store.patch_job(job_id, status=status)
        if status in CLOSED:
            self._remember_closed(job_id, fields["at"])
        self.load_cached()
        return item

    def _remember_closed(self, job_id: int, at: str) -> None:
        """When the job was finished (shown as "Done 14:20" instead of an ETA)."""
        closed_at = self.store.get("cache.closed_at", {})
        closed_at[str(job_id)] = at
        self.store.put("cache.closed_at", closed_at)

    def act_message(self, conversation_id: int, text: str, *, job_id: int | None = None,
                    visibility: str = "public") -> OutboxItem:
        """Queue a reply to the customer (it goes out on their own channel)."""
        if not text.strip():
            raise ValueError("Write a message first.")
        item = self.store.enqueue("message", {"text": text.strip(), "visibility": visibility}, job_id=job_id,
                                  target_id=conversation_id, now=self.clock())
        self.load_cached()
        return item

    # ---- sending ----------------------------------------------------------------------------------
    def flush(self) -> int:
        """Send due outbox items in order; stop at the first transient failure (order is kept).
        Returns the number sent."""
        sent = 0
        for item in self.store.pending():
            now = self.clock()
            if item.next_try_at > now:
                break
            try:
                self._send(item)
            except (OfflineError, ServerError) as exc:
                self.store.mark_failed(item.id, error=exc.message, next_try_at=now + backoff_s(item.attempts + 1))
                self.state.update(online=not isinstance(exc, OfflineError), status_text=exc.message)
                break
            except AuthError as exc:
                self.state.update(signed_in=False, sign_in_error=exc.message, status_text=exc.message)
                break
            except ConflictError as exc:
                self.store.mark_rejected(item.id, exc.message)
                self._tell_conflict(item, exc)
            except RequestError as exc:
                if exc.missing_endpoint:
                    self.missing.add(item.kind)
                    self.store.mark_failed(item.id, error="The server does not accept this update yet.",
                                           next_try_at=now + backoff_s(item.attempts + 1, cap_s=600))
                    self.state.update(status_text="The server does not accept job updates yet; they are kept.")
                    break
                self.store.mark_rejected(item.id, exc.message)
                self.state.alert("error", f"An update was refused by the server: {exc.message}", item.job_id)
            else:
                self.store.mark_sent(item.id)
                sent += 1
                self.state.update(online=True)
        if sent:
            self.load_cached()  # drop the "(not sent yet)" marks of what just went out
        else:
            self.state.update(pending=self.store.pending_count())
        return sent

    def _send(self, item: OutboxItem) -> None:
        if item.kind == "status":
            self._send_status(item)
        elif item.kind == "message":
            assert item.target_id is not None
            self.api.post_message(item.target_id, text=item.payload["text"], key=item.key,
                                  visibility=item.payload.get("visibility", "public"))
        else:
            raise RequestError(f"unknown outbox kind {item.kind}", status=400)

    def _send_status(self, item: OutboxItem) -> None:
        """A lifecycle step with its photos and signature. A file the server refuses (too large, not an image: 413,
        415, 422 naming it; a 413 for the whole body drops the largest file) is taken off and the step sent again
        without it; the technician is told which one. A completion is never lost because of a photo."""
        assert item.job_id is not None
        fields = dict(item.payload)
        files = attachments_of(fields)
        refused: list[dict[str, Any]] = list(fields.pop("refused", None) or [])
        while True:
            body, files, gone = _with_files(fields, files)
            refused += gone
            try:
                self._post_status(item.job_id, item.key, body)
            except RequestError as exc:
                file = refused_file(exc, files)
                if file is None:
                    raise
                files = [f for f in files if f is not file]
                refused.append({**file, "reason": FILE_PREFIX.sub("", exc.message, count=1)})
                self.store.update_payload(item.id, {**fields, "attachments": files, "refused": refused})
                continue
            break
        for file in refused:
            self._tell_refused(item, file)

    def _post_status(self, job_id: int, key: str, body: dict[str, Any]) -> None:
        try:
            self.api.post_status(job_id, key=key, **body)
        except RequestError as exc:
            if not exc.message.startswith("at:"):
                raise
            body = {k: v for k, v in body.items() if k != "at"}  # the device clock runs ahead: the server times it
            self.api.post_status(job_id, key=key, **body)

    def _tell_refused(self, item: OutboxItem, file: dict[str, Any]) -> None:
        what = "the signature" if file.get("kind") == "signature" else f"photo '{file.get('name')}'"
        step = ACTION_LABELS.get(item.payload.get("status"), item.payload.get("status"))
        self.state.alert("warning", f"Job #{item.job_id} was recorded as {step} without {what}: "
                                    f"{file.get('reason') or 'the server did not accept it'}.", item.job_id)

    def _tell_conflict(self, item: OutboxItem, exc: ConflictError) -> None:
        job = self.store.job(item.job_id) if item.job_id else None
        title = f"Job #{item.job_id}" + (f" ({job.get('title')})" if job else "")
        what = (f"your '{ACTION_LABELS.get(item.payload.get('status'), item.payload.get('status'))}'"
                if item.kind == "status" else "your message to the customer")
        if exc.status in (403, 404):
            text = f"{title} was reassigned while you were offline: {what} was not recorded. It is off your list."
            if item.job_id:
                self.store.drop_job(item.job_id)
        else:
            text = f"{title}: {what} was not recorded. {exc.message}"
        self.state.alert("reassigned", text, item.job_id)
        self.load_cached()

    # ---- pulling ----------------------------------------------------------------------------------
    def pull(self, *, details: bool = True) -> None:
        """Fetch our jobs (and the route, reporters, customers, conversations) into the store."""
        known = set(self.store.get("cache.known_job_ids", []))
        first_time = not self.store.get("cache.loaded", False)
        jobs = self.api.jobs()
        route = self._route()
        cached_ids = {j["id"] for j in self.store.jobs()}
        ordered = route_order(jobs, route)
        self.store.replace_jobs(ordered)
        self.store.put("cache.route", route)
        self.store.put("cache.coming", self._coming())
        server_ids = {j["id"] for j in jobs}
        for job_id in sorted(cached_ids - server_ids):
            self.state.alert("reassigned", f"Job #{job_id} is no longer assigned to you.", job_id)
        for job in ordered:
            if job["id"] not in known and not first_time and job.get("status") not in CLOSED:
                if is_urgent(job):
                    self.state.alert("urgent", f"New urgent job #{job['id']}: {job.get('title', '')} — "
                                               f"{job.get('address') or 'see map'}", job["id"])
                else:
                    self.state.alert("info", f"New job #{job['id']}: {job.get('title', '')}", job["id"])
        self.store.put("cache.known_job_ids", sorted(known | server_ids))
        self.store.put("cache.loaded", True)
        if details:
            for job in ordered:
                self.pull_job_details(job)
            self.streets()
        self._last_pull = self.clock()
        self.state.update(online=True, last_sync_at=self.clock(), status_text="")
        self.load_cached()

    def _route(self) -> dict[str, Any] | None:
        """The day from the active plan; None when the server has no route endpoint or no plan yet."""
        if "route" in self.missing:
            return None
        try:
            return self.api.my_route()
        except RequestError as exc:
            if exc.missing_endpoint:
                self.missing.add("route")  # an older server: order by ETA instead
                return None
            if exc.status == 404:
                return None  # no plan yet (asked again next time)
            raise

    def _coming(self) -> list[dict[str, Any]]:
        """The coming working days (tentative); [] when the server plans no horizon or is older than that."""
        if "coming" in self.missing:
            return []
        try:
            return self.api.my_coming_days()
        except RequestError as exc:
            if exc.missing_endpoint:
                self.missing.add("coming")
                return []
            if exc.status == 404:
                return []
            raise

    def pull_job_details(self, job: dict[str, Any]) -> None:
        """Reporters of the job and their customer records (again when the job changes), and every
        conversation of each customer (every time: replies arrive without the job changing)."""
        extra = self.store.job_extra(job["id"])
        if extra.get("version") != job.get("version") or not extra.get("fetched"):
            reports = self.api.job_reports(job["id"])
            customers = [self.api.customer(customer_id)
                         for customer_id in dict.fromkeys(r["customer_id"] for r in reports if r.get("customer_id"))]
            extra = {"version": job.get("version"), "fetched": True, "reports": reports, "customers": customers}
            self.store.put_job_extra(job["id"], extra)
        for customer in extra.get("customers", []):
            self.pull_conversations(customer["id"])
        if job.get("status") in CLOSED and str(job["id"]) not in self.store.get("cache.closed_at", {}):
            self._pull_closed_at(job)

    def _pull_closed_at(self, job: dict[str, Any]) -> None:
        """The time of the step that closed a job (finished elsewhere, or before this phone signed in)."""
        try:
            events = self.api.job_events(job["id"])
        except RequestError:
            return
        closing = [e for e in events if e.get("status") == job.get("status") and e.get("at")]
        if closing:
            self._remember_closed(job["id"], closing[-1]["at"])

    def pull_conversations(self, customer_id: int) -> None:
        """The customer's threads as the server lists them now: new and changed ones stored, and cached ones it no
        longer shows this technician (refused, or left out of the list) forgotten, so what the phone keeps never
        outgrows what the technician may read."""
        try:
            summaries = self.api.conversations(customer_id)
        except RequestError as exc:
            if exc.status in (403, 404):
                self.store.keep_conversations(customer_id, set())
                return
            raise
        keep: set[int] = set()
        for summary in summaries:
            try:
                self.store.put_conversation(self.api.conversation(summary["id"]))
            except RequestError as exc:
                if exc.status not in (403, 404):
                    raise
                continue
            keep.add(summary["id"])
        self.store.keep_conversations(customer_id, keep)

    def streets(self) -> dict[str, Any] | None:
        """Streets around the day's stops and route (cached; fetched again only when the day reaches outside
        the cached area); None when the server offers none."""
        cached = self.store.get("cache.streets")
        if "streets" in self.missing:
            return cached
        need = self.route_bbox()
        if need is None:
            return cached
        have = self.store.get("cache.streets_bbox")
        if cached is not None and have and _covers(have, need):
            return cached
        bbox = _grow(need, 0.004)  # a margin, so small changes of the day reuse the cache
        try:
            data = self.api.streets(bbox)
        except RequestError as exc:
            if exc.missing_endpoint:
                self.missing.add("streets")
            return cached
        self.store.put("cache.streets", data)
        self.store.put("cache.streets_bbox", list(bbox))
        return data

    def route_bbox(self, pad: float = 0.002) -> tuple[float, float, float, float] | None:
        """lon/lat box around the open jobs, the route line and the position."""
        points = [(j["lon"], j["lat"]) for j in self.store.jobs() if j.get("lon") is not None]
        route = self.store.get("cache.route") or {}
        for line in (route.get("geometry") or {}).get("coordinates") or []:
            points.extend((c[0], c[1]) for c in line)
        if self.state.position:
            points.append((self.state.position[1], self.state.position[0]))
        if not points:
            return None
        lons, lats = [p[0] for p in points], [p[1] for p in points]
        return (min(lons) - pad, min(lats) - pad, max(lons) + pad, max(lats) + pad)

    # ---- the loop ---------------------------------------------------------------------------------
    def tick(self, *, force_pull: bool = False) -> float:
        """One round: send what is due, pull when due. Returns seconds until the next round is useful."""
        try:
            self.flush()
            if not self.state.signed_in:
                return self.poll_interval_s
            if force_pull or self.clock() - self._last_pull >= self.poll_interval_s:
                self.pull()
        except OfflineError as exc:
            self.state.update(online=False, status_text=exc.message)
        except ServerError as exc:
            self.state.update(online=True, status_text=exc.message)
        except AuthError as exc:
            self.state.update(signed_in=False, sign_in_error=exc.message, status_text=exc.message)
        except ApiError as exc:
            self.state.update(status_text=exc.message)
        pending = self.store.pending()
        if pending:
            return max(0.2, min(self.poll_interval_s, pending[0].next_try_at - self.clock()))
        return self.poll_interval_s

    def send_location(self, lat: float, lon: float, accuracy_m: float | None = None) -> None:
        """Post the latest position (not queued: only the newest one matters), with the fix's accuracy (m)
        when the GPS states one."""
        self.state.update(position=(lat, lon))
        self.store.put("cache.position", [lat, lon])
        if "location" in self.missing:
            return
        try:
            self.api.post_location(lat=lat, lon=lon, accuracy_m=accuracy_m)
        except RequestError as exc:
            if exc.missing_endpoint:
                self.missing.add("location")
        except (OfflineError, ServerError):
            pass

    def _overlay(self, jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Show queued status changes on top of the server's copy."""
        pending = self.store.pending()
        for job in jobs:
            for item in pending:
                if item.kind == "status" and item.job_id == job["id"]:
                    job["status"] = item.payload["status"]
                    job["unsent"] = True
        return jobs


def _covers(outer: list[float] | tuple[float, ...], inner: tuple[float, ...]) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2] and outer[3] >= inner[3]


def _grow(box: tuple[float, float, float, float], by: float) -> tuple[float, float, float, float]:
    return (box[0] - by, box[1] - by, box[2] + by, box[3] + by)


def attachments_of(fields: dict[str, Any]) -> list[dict[str, Any]]:
    """Take the files off a queued step's fields: ``attachments`` ([{kind, path, name}]), or the ``photo_paths`` and
    ``signature_path`` of steps queued by an earlier version of the app."""
    files = list(fields.pop("attachments", None) or [])
    files += [{"kind": "photo", "path": p, "name": Path(p).name} for p in fields.pop("photo_paths", None) or []]
    signature = fields.pop("signature_path", None)
    if signature:
        files.append({"kind": "signature", "path": signature, "name": Path(signature).name})
    return files


def _with_files(fields: dict[str, Any], files: list[dict[str, Any]]
                ) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """The request body with the files in the server's upload shape; returns (body, files sent, files gone: no
    longer on the phone)."""
    body, sent, gone = dict(fields), [], []
    photos: list[dict[str, str]] = []
    for file in files:
        try:
            content = Path(file["path"]).read_bytes()
        except OSError:
            gone.append({**file, "reason": "the file is no longer on this phone"})
            continue
        upload = {"filename": file.get("name") or Path(file["path"]).name,
                  "content_base64": base64.b64encode(content).decode()}
        sent.append(file)
        if file.get("kind") == "signature":
            body["signature"] = upload
        else:
            photos.append(upload)
    if photos:
        body["photos"] = photos
    return body, sent, gone


# "photos[1] ('after.jpg'): " before the server's reason: the alert names the file in words already.
FILE_PREFIX = re.compile(r"^(?:photos(?:\[\d+\]|\.\d+)|signature) \('[^']*'\): ")
FILE_FIELD = re.compile(r"(?:^|— |; )(?:photos(?:\[(\d+)\]|\.(\d+))|(signature)\b|(photos)\b(?!/))")


def refused_file(exc: RequestError, files: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The file a refusal is about, or None when it is not about a file. The server names it ('photos[1] (...)',
    'signature (...)', pydantic's 'photos.0.content_base64'); a 413 for the whole request (the total of the files,
    or a proxy's body limit) names none: then the largest file goes first."""
    if exc.status not in (413, 415, 422) or not files:
        return None
    photos = [f for f in files if f.get("kind") != "signature"]
    signature = next((f for f in files if f.get("kind") == "signature"), None)
    match = FILE_FIELD.search(exc.message)
    if match and (match.group(1) or match.group(2)) and photos:
        index = int(match.group(1) or match.group(2))
        return photos[min(index, len(photos) - 1)]
    if match and match.group(3) and signature is not None:
        return signature
    if match and match.group(4) and photos:  # too many photos: the last one goes
        return photos[-1]
    if exc.status == 413:
        return max(files, key=_size)
    return None


def _size(file: dict[str, Any]) -> int:
    try:
        return Path(file["path"]).stat().st_size
    except OSError:
        return 0


class SyncWorker:
    """Runs the engine on one background thread: periodic ticks, plus jobs the UI submits."""

    def __init__(self, engine: SyncEngine) -> None:
        self.engine = engine
        self._tasks: queue.Queue[tuple[Callable[[], Any], Callable[[Any, Exception | None], None] | None]] = (
            queue.Queue()
        )
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="groundcrew-sync", daemon=True)
        self.events: EventListener | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def nudge(self) -> None:
        """Run a round now (after an action, or when an event says something changed)."""
        self._wake.set()

    def submit(self, fn: Callable[[], Any], done: Callable[[Any, Exception | None], None] | None = None) -> None:
        self._tasks.put((fn, done))
        self._wake.set()

    def _run(self) -> None:
        delay = 0.0
        while not self._stop.is_set():
            self._wake.wait(timeout=delay)
            self._wake.clear()
            while not self._tasks.empty():
                fn, done = self._tasks.get()
                try:
                    result, error = fn(), None
                except Exception as exc:  # handed to the UI callback, which shows it
                    result, error = None, exc
                if done:
                    done(result, error)
            if self._stop.is_set():
                return
            delay = self.engine.tick() if self.engine.state.signed_in else 5.0


class EventListener:
    """Listens to the server's event stream (SSE) and nudges the worker on job events; when the server
    has no stream, it gives up and the worker's polling is what keeps the app current."""

    def __init__(self, api: ApiClient, on_event: Callable[[dict[str, Any]], None]) -> None:
        self.api = api
        self.on_event = on_event
        self.available: bool | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="groundcrew-events", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        attempts = 0
        while not self._stop.is_set():
            try:
                for event in self.api.event_stream():
                    self.available = True
                    attempts = 0
                    self.on_event(event)
                    if self._stop.is_set():
                        return
            except RequestError as exc:
                if exc.missing_endpoint:
                    self.available = False
                    log.info("no event stream on the server; polling instead")
                    return
            except (ApiError, OSError, ValueError):
                pass
            attempts += 1
            self._stop.wait(backoff_s(attempts, cap_s=60))
