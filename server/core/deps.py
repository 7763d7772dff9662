"""Typed FastAPI dependencies: settings, a database session, the signed-in user and role checks."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
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


_CLOSE_LIMITERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary())


def _close_limiter() -> anyio.CapacityLimiter:
    """One limiter per event loop (a limiter belongs to the loop it was made on)."""
    loop = asyncio.get_running_loop()
    limiter = _CLOSE_LIMITERS.get(loop)
    if limiter is None:
        limiter = _CLOSE_LIMITERS[loop] = anyio.CapacityLimiter(64)
    return limiter


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The request's session. Created and closed on the event loop (no I/O until first use), so a request
    never holds a pooled connection while it waits for a worker thread: sync dependencies and the endpoint
    run on different pool threads, and a connection held across that hop can deadlock the pool under load."""
    session = Session(request.app.state.engine)
    try:
        yield session
    finally:
        if session.in_transaction():
            # Ending a transaction is a blocking round trip to the database: never on the event loop, where it
            # would stall every other request (and, under load, wait for the GIL behind the worker threads).
            # Its own limiter: a close never queues behind endpoints that wait for the connection it returns.
            await anyio.to_thread.run_sync(session.close, limiter=_close_limiter())
        else:
            session.close()


SettingsDep = Annotated[Settings, Depends(get_settings)]
# At most this many requests hold a session at once in a process (waiting for one takes no thread). Fewer than
# the connection pool (40) and the worker threads (40): a request waiting for a thread never holds a connection
# that the threads are waiting for, so the pool cannot run dry under load; the rest queue on the event loop.
SESSION_CONCURRENCY = 16
SessionDep = Annotated[Session, Depends(get_session, max_concurrency=SESSION_CONCURRENCY)]


def get_current_user(
    session: SessionDep, settings: SettingsDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> User:
    """The user behind the bearer token; 401 when it is missing, invalid or expired."""
    from server.auth.service import decode_token

    if not token:
        raise Unauthorized("not signed in: send 'Authorization: Bearer <token>'")
    user_id = decode_token(settings=settings, token=token)
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        session.rollback()
        raise Unauthorized("the account behind this token no longer exists or is disabled")
    # Hand the connection back before the endpoint runs on another thread (see get_session); the user
    # object stays usable, detached with its columns loaded.
    session.expunge(user)
    session.rollback()
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
