"""Live event stream for the console and the app: WebSocket at ``/events/ws?token=...`` and Server-Sent
Events at ``/events/stream``. Technicians receive only events about themselves and their jobs."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import FastAPI, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse

from server.auth.models import User
from server.core.deps import load_user, oauth2_scheme
from server.core.errors import Unauthorized
from server.core.routing import FeatureRouter
from server.events.broker import hub, public, relay_from_redis


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """With a broker configured, relay Redis pub/sub events into this process's subscribers."""
    settings = app.state.settings
    task = None
    if settings.broker_url:
        ready = asyncio.Event()
        task = asyncio.create_task(relay_from_redis(settings.broker_url, ready))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ready.wait(), timeout=5)
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


router = FeatureRouter(prefix="/events", tags=["events"], lifespan=lifespan)

HEARTBEAT_S = 15.0


def _user_for(app: FastAPI, token: str | None) -> User:
    from server.auth.service import decode_token

    if not token:
        raise Unauthorized("not signed in: pass ?token=<access token> or an Authorization header")
    user = load_user(app.state.engine, decode_token(settings=app.state.settings, token=token))
    if user is None or not user.is_active:
        raise Unauthorized("the account behind this token no longer exists or is disabled")
    return user


@router.websocket("/ws")
async def events_ws(websocket: WebSocket, token: Annotated[str | None, Query()] = None) -> None:
    """Each message is one JSON event ``{type, id, at, data}``; close code 4401 when not signed in."""
    try:
        user = await asyncio.to_thread(_user_for, websocket.app, token)
    except Unauthorized as exc:
        await websocket.close(code=4401, reason=exc.detail[:120])
        return
    await websocket.accept()
    sub = hub.subscribe(user)
    await websocket.send_json({"type": "hello", "id": "", "at": "", "data": {"role": user.role.value,
                                                                            "technician_id": user.technician_id}})

    async def _drain_client() -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            while True:
                await websocket.receive_text()  # pings from the client; disconnect ends the stream

    reader = asyncio.create_task(_drain_client())
    try:
        while not reader.done():
            get = asyncio.create_task(sub.queue.get())
            done, _ = await asyncio.wait({get, reader}, timeout=HEARTBEAT_S, return_when=asyncio.FIRST_COMPLETED)
            if get in done:
                await websocket.send_json(public(get.result()))
            else:
                get.cancel()
                if not done:
                    await websocket.send_json({"type": "heartbeat", "id": "", "at": "", "data": {}})
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        reader.cancel()
        hub.unsubscribe(sub)


@router.get("/stream", summary="Server-Sent Events stream of live events (same filtering as the WebSocket)")
async def events_sse(
    request: Request,
    token: Annotated[str | None, Query(description="Access token (or send an Authorization header).")] = None,
    limit: Annotated[int | None, Query(ge=1, le=100_000, description="Close after this many events.")] = None,
) -> StreamingResponse:
    bearer = await oauth2_scheme(request)
    user = await asyncio.to_thread(_user_for, request.app, token or bearer)
    sub = hub.subscribe(user)

    async def stream() -> AsyncIterator[str]:
        sent = 0
        try:
            yield ": connected\n\n"
            while limit is None or sent < limit:
                try:
                    event = await asyncio.wait_for(sub.queue.get(), timeout=HEARTBEAT_S)
                except TimeoutError:
                    if await request.is_disconnected():
                        break
                    yield ": heartbeat\n\n"
                    continue
                body = public(event)
                yield f"id: {body['id']}\nevent: {body['type']}\ndata: {json.dumps(body, default=str)}\n\n"
                sent += 1
        finally:
            hub.unsubscribe(sub)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
