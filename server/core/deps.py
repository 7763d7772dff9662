"""Typed FastAPI dependencies: settings, a database session, the signed-in user and role checks."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from server.auth.models import Role, User
from server.config import Settings
from server.core.errors import Forbidden, Unauthorized

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_engine(request: Request) -> Engine:
    return request.app.state.engine


L = TypeVar("L")


def loop_local(registry: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, L], make: Callable[[], L]) -> L:
    """The running event loop's object in ``registry``, made on first use: limiters, semaphores and futures belong
    to the loop they were made on (tests and servers may run several loops)."""
    loop = asyncio.get_running_loop()
    found = registry.get(loop)
    if found is None:
        found = registry[loop] = make()
    return found


_CLOSE_LIMITERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary())
_SESSION_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.Semaphore] = weakref.WeakKeyDictionary()


def _close_limiter() -> anyio.CapacityLimiter:
    return loop_local(_CLOSE_LIMITERS, lambda: anyio.CapacityLimiter(64))


def session_slot() -> anyio.Semaphore:
    """The process's database-session slots (``SESSION_CONCURRENCY`` of them, first come first served): every
    request that works with the database holds one, whether through ``SessionDep`` or a shared read
    (``server.core.shared_reads``)."""
    return loop_local(_SESSION_SLOTS, lambda: anyio.Semaphore(SESSION_CONCURRENCY, fast_acquire=True))


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The request's session, once a session slot is free. Created and closed on the event loop (no I/O until
    first use), so a request never holds a pooled connection while it waits for a worker thread: sync
    dependencies and the endpoint run on different pool threads, and a connection held across that hop can
    deadlock the pool under load."""
    async with session_slot():
        session = Session(request.app.state.engine)
        try:
            yield session
        finally:
            if session.in_transaction():
                # Ending a transaction is a blocking round trip to the database: never on the event loop, where
                # it would stall every other request (and, under load, wait for the GIL behind the worker
                # threads). Its own limiter: a close never queues behind endpoints that wait for the connection
                # it returns.
                await anyio.to_thread.run_sync(session.close, limiter=_close_limiter())
            else:
                session.close()


SettingsDep = Annotated[Settings, Depends(get_settings)]
# At most this many requests hold a session at once in a process (waiting for one takes no thread); the rest queue
# on the event loop. Fewer than the connection pool (40) and the worker threads (40), so the pool cannot run dry.
# Few, because request work is Python holding the GIL: more threads only fight over it (and starve the event
# loop). Measured with the load benchmark (2 processes, PostgreSQL on loopback, 2 cores): 16 -> 175 req/s,
# 8 -> 186, 4 -> 202, 2 -> 239, 1 -> 245. With shared reads (2026-11-23, full mix, one after another): 1 -> 262 req/s
# p50 180 ms, 2 -> 289 req/s p50 62 ms, 3 -> 258 req/s p50 470 ms. Raise it (GROUNDCREW_SESSION_CONCURRENCY)
# when the database is far away and requests spend their time waiting for it rather than computing.
# Read once per process from the environment / .env like every setting (validated: a bad value stops start-up
# with the field named), before any app's Settings exist: the slots are per process, not per app.
SESSION_CONCURRENCY = Settings().session_concurrency
SessionDep = Annotated[Session, Depends(get_session)]


#: Signed-in users are looked up at most this often per process (seconds). A change made through the ORM in this
#: process takes effect at once (see _forget_user); one made by another process within this time.
USER_CACHE_S = 5.0
_users: weakref.WeakKeyDictionary[Engine, dict[int, tuple[float, User]]] = weakref.WeakKeyDictionary()


def load_user(engine: Engine, user_id: int) -> User | None:
    """The user, detached with its columns loaded (blocking: call it off the event loop); None also when
    ``user_id`` came from a token that has been revoked (``server.auth.service.decode_token``)."""
    from server.auth.service import is_current

    with Session(engine) as session:
        user = session.get(User, user_id)
        if user is not None:
            session.expunge(user)  # detached with its columns loaded: read-only from here on
        if user is not None and not is_current(user=user, subject=user_id):
            return None
        return user


@event.listens_for(User, "after_update")
@event.listens_for(User, "after_delete")
def _forget_user(_mapper: object, _connection: object, user: User) -> None:
    for cache in list(_users.values()):
        cache.pop(user.id or 0, None)


async def get_current_user(
    request: Request, settings: SettingsDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> User:
    """The user behind the bearer token; 401 when it is missing, invalid or expired.

    On the event loop with a short per-process cache: looking the user up in a worker thread with its own
    connection on every request was a fifth of a simple read's CPU, plus a thread hop and a pool checkout."""
    from server.auth.service import REVOKED, decode_token, is_current

    if not token:
        raise Unauthorized("not signed in: send 'Authorization: Bearer <token>'")
    user_id = decode_token(settings=settings, token=token)
    now = time.monotonic()
    engine = request.app.state.engine
    cache = _users.setdefault(engine, {})  # per database: user ids mean nothing across them
    cached = cache.get(user_id)
    if cached is not None and cached[0] > now:
        user: User | None = cached[1]
    else:
        user = await anyio.to_thread.run_sync(load_user, engine, int(user_id))  # a plain id: revocation below
        if user is not None:
            cache[user_id] = (now + USER_CACHE_S, user)
    if user is not None and not is_current(user=user, subject=user_id):
        raise Unauthorized(REVOKED)
    if user is None or not user.is_active:
        cache.pop(user_id, None)
        raise Unauthorized("the account behind this token no longer exists or is disabled")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_roles(*roles: Role) -> Callable[[User], Awaitable[User]]:
    """A dependency that lets admins and the named roles through, and refuses everyone else with 403."""
    allowed = {Role.admin, *roles}

    async def _check(user: CurrentUser) -> User:
        if user.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise Forbidden(f"this needs one of the roles: {names} (you are {user.role})")
        return user

    return _check


AdminUser = Annotated[User, Depends(require_roles())]
DispatcherUser = Annotated[User, Depends(require_roles(Role.dispatcher))]
StaffUser = Annotated[User, Depends(require_roles(Role.dispatcher, Role.agent))]
AgentUser = Annotated[User, Depends(require_roles(Role.agent))]
