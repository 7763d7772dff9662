"""Live events: publish from any thread or process, deliver to every connected console and app.

Embedded mode keeps one in-process hub (asyncio queues). With ``GROUNDCREW_BROKER_URL`` set, events are
published to a Redis pub/sub channel and every API process relays that channel into its own hub, so a
client connected to any process sees events made in any other (or on a Celery worker).

Each event on the wire is ``{"type", "id", "at", "data"}``. Who may see it travels beside it: staff see
everything; a technician sees only events naming their technician id."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from server.auth.models import Role, User
from server.config import Settings
from server.core.timeutil import utcnow

log = logging.getLogger("groundcrew.events")

CHANNEL = "groundcrew:events"
QUEUE_SIZE = 1000


def make_event(type_: str, data: dict[str, Any], *, technician_ids: list[int | None] | None = None,
               staff_only: bool = False) -> dict[str, Any]:
    """An event; ``technician_ids`` are the technicians allowed to see it (staff always can)."""
    return {
        "type": type_, "id": uuid.uuid4().hex, "at": utcnow().isoformat(), "data": data,
        "_audience": {"technicians": sorted({t for t in technician_ids or [] if t is not None}),
                      "staff_only": staff_only},
    }


def visible_to(event: dict[str, Any], user: User) -> bool:
    """Staff see everything; a technician only events about their own record or jobs."""
    if user.role != Role.technician:
        return True
    audience = event.get("_audience") or {}
    if audience.get("staff_only"):
        return False
    return user.technician_id is not None and user.technician_id in audience.get("technicians", [])


def public(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if not k.startswith("_")}


@dataclass(eq=False)
class Subscription:
    user: User
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    dropped: int = 0
    #: ``dropped`` as last told to the client (``stream.gap``, server/events/router.py).
    gaps_told: int = 0

    def offer(self, event: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:  # a stalled client loses old events rather than stalling everyone
            self.dropped += 1


class Hub:
    """The subscribers of this process. ``dispatch`` is safe to call from any thread."""

    def __init__(self) -> None:
        self._subs: set[Subscription] = set()
        self._lock = threading.Lock()
        self.delivered = 0

    def subscribe(self, user: User) -> Subscription:
        sub = Subscription(user=user, loop=asyncio.get_running_loop())
        with self._lock:
            self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.discard(sub)

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    def dispatch(self, event: dict[str, Any]) -> None:
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            if visible_to(event, sub.user):
                self.delivered += 1
                with contextlib.suppress(RuntimeError):  # that client's loop has closed
                    sub.loop.call_soon_threadsafe(sub.offer, event)


hub = Hub()

_redis_clients: dict[str, Any] = {}
_redis_lock = threading.Lock()


def _redis(url: str) -> Any:
    import redis

    with _redis_lock:
        if url not in _redis_clients:
            _redis_clients[url] = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=3)
        return _redis_clients[url]


def publish(settings: Settings, event: dict[str, Any]) -> None:
    """Send an event to every subscriber of every API process (never raises: events are best effort)."""
    if settings.broker_url:
        try:
            _redis(settings.broker_url).publish(CHANNEL, json.dumps(event, default=str))
            return
        except Exception:
            log.exception("could not publish event %s to Redis; delivering locally only", event.get("type"))
    hub.dispatch(event)


def publish_all(settings: Settings, events: list[dict[str, Any]]) -> None:
    for event in events:
        publish(settings, event)


async def relay_from_redis(url: str, ready: asyncio.Event | None = None) -> None:
    """Forward the Redis channel into this process's hub until cancelled (reconnects on errors)."""
    import redis.asyncio as aioredis

    while True:
        client = aioredis.Redis.from_url(url)
        try:
            pubsub = client.pubsub()
            await pubsub.subscribe(CHANNEL)
            if ready is not None:
                ready.set()
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                try:
                    hub.dispatch(json.loads(message["data"]))
                except (ValueError, TypeError):
                    log.warning("ignored a malformed event on %s", CHANNEL)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("event relay from Redis failed; reconnecting")
            await asyncio.sleep(1.0)
        finally:
            with contextlib.suppress(Exception):
                await client.aclose()
