"""Passwords (argon2 via pwdlib) and signed bearer tokens (PyJWT, HS256)."""

from __future__ import annotations

import functools
import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from datetime import timedelta

import jwt
import sqlalchemy as sa
from pwdlib import PasswordHash
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, func, select

from server.audit import service as audit
from server.auth.models import Role, SignInThrottle, User, UserCreate, UserUpdate
from server.config import Settings
from server.core.errors import Conflict, DomainError, NotFound, Unauthorized
from server.core.timeutil import utcnow

_hasher = PasswordHash.recommended()
_ALGORITHM = "HS256"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return _hasher.verify(password, password_hash)
    except Exception:  # a malformed stored hash must not crash sign-in
        return False


def get_by_username(*, session: Session, username: str) -> User | None:
    """The user with this username, or None."""
    return session.exec(select(User).where(User.username == username)).first()


def get(*, session: Session, user_id: int) -> User:
    """The user with this id, or NotFound."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def list_users(*, session: Session, offset: int, limit: int) -> tuple[list[User], int]:
    """Users in id order."""
    total = session.exec(select(func.count()).select_from(User)).one()
    rows = session.exec(select(User).order_by(col(User.id)).offset(offset).limit(limit)).all()
    return list(rows), total


def create(*, session: Session, user_in: UserCreate, actor: User | None = None) -> User:
    """Create a user; a username that is taken is a Conflict naming the field."""
    if get_by_username(session=session, username=user_in.username):
        raise Conflict(f"username: '{user_in.username}' is already taken")
    user = User.model_validate(user_in, update={"password_hash": hash_password(user_in.password)})
    session.add(user)
    session.flush()
    audit.record(
        session=session, action="create", entity="user", entity_id=user.id,
        actor_user_id=actor.id if actor else None, actor=actor.username if actor else "system",
        detail={"username": user.username, "role": user.role},
    )
    return user


def update(*, session: Session, user: User, user_in: UserUpdate, actor: User) -> User:
    """Change a user's profile, role, password or active flag. A new password or deactivation revokes every token
    the user holds; demoting or deactivating the last active admin is a Conflict."""
    data = user_in.model_dump(exclude_unset=True)
    demoted = "role" in data and data["role"] != Role.admin
    deactivated = data.get("is_active") is False
    if user.role == Role.admin and user.is_active and (demoted or deactivated):
        _ensure_another_admin(session=session, user=user, field="role" if demoted else "is_active")
    revoke = "password" in data or (deactivated and user.is_active)
    if "password" in data:
        user.password_hash = hash_password(data.pop("password"))
    for key, value in data.items():
        setattr(user, key, value)
    if revoke:
        revoke_tokens(session=session, user=user)
    session.add(user)
    audit.record(
        session=session, action="update", entity="user", entity_id=user.id, actor_user_id=actor.id,
        actor=actor.username,
        detail={k: str(v) for k, v in data.items()} | ({"tokens": "revoked"} if revoke else {}),
    )
    return user


def set_password(*, session: Session, user: User, password: str, actor: User) -> User:
    """A new password for the user; every token issued before stops working."""
    user.password_hash = hash_password(password)
    revoke_tokens(session=session, user=user)
    session.add(user)
    audit.record(session=session, action="update", entity="user", entity_id=user.id, actor_user_id=actor.id,
                 actor=actor.username, detail={"password": "changed", "tokens": "revoked"})
    return user


def _ensure_another_admin(*, session: Session, user: User, field: str) -> None:
    """Conflict unless an active admin other than ``user`` remains (their rows locked until commit on PostgreSQL,
    so two admins cannot demote each other at once)."""
    others = session.exec(
        select(User.id).where(User.role == Role.admin, col(User.is_active).is_(True), User.id != user.id)
        .with_for_update()
    ).all()
    if not others:
        raise Conflict(f"{field}: '{user.username}' is the last active admin; make another user an admin first")


class TooManySignIns(DomainError):
    """Sign-in attempts from one IP (for one account, or in all) are over the limit for now."""

    status_code = 429


#: Sign-in attempts allowed in one window per (client IP, account name), and per client IP over all names. A success
#: clears its (IP, account) count and gives back its IP attempt, so only failures (and attempts under way) count.
MAX_FAILED_SIGN_INS = 5
MAX_FAILED_SIGN_INS_PER_IP = 50
SIGN_IN_WINDOW_S = 300
_TOO_MANY = "too many failed sign-ins from your address; try again in a few minutes"


@functools.cache
def _dummy_hash() -> str:
    """A hash of a random password with the live parameters: unknown accounts cost one verification too."""
    return hash_password(secrets.token_urlsafe(16))


def _throttle_key(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def _take_attempt(*, session: Session, key: str, now_s: int) -> int:
    """Count one attempt under ``key`` atomically (one upsert, RETURNING): the attempt's number in its window."""
    table = SignInThrottle.__table__
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    expired = table.c.window_start_s <= now_s - SIGN_IN_WINDOW_S
    statement = insert(table).values(key=key, attempts=1, window_start_s=now_s).on_conflict_do_update(
        index_elements=[table.c.key],
        set_={"attempts": sa.case((expired, 1), else_=table.c.attempts + 1),
              "window_start_s": sa.case((expired, now_s), else_=table.c.window_start_s)},
    ).returning(table.c.attempts)
    return int(session.execute(statement).scalar_one())


def _give_back(*, session: Session, ip_key: str, account_key: str) -> None:
    """After a right password: the (IP, account) count starts again and the IP gets its attempt back."""
    table = SignInThrottle.__table__
    session.execute(sa.delete(table).where(table.c.key == account_key))
    session.execute(sa.update(table).where(table.c.key == ip_key, table.c.attempts > 0)
                    .values(attempts=table.c.attempts - 1))


def forget_old_attempts(*, session: Session, now_s: int | None = None) -> int:
    """Delete throttle rows whose window has ended; the number deleted."""
    table = SignInThrottle.__table__
    cutoff = (int(time.time()) if now_s is None else now_s) - SIGN_IN_WINDOW_S
    result = session.execute(sa.delete(table).where(table.c.window_start_s <= cutoff))
    return int(getattr(result, "rowcount", 0) or 0)


def authenticate(*, session: Session, username: str, password: str, client_ip: str = "") -> User:
    """The user if the password is right.

    Every attempt is counted before its password is checked, per (client IP, account name) and per client IP, in
    one atomic statement each and committed at once, so concurrent attempts cannot check more passwords than the
    limits allow; over a limit the answer is 429 without a check. Unknown accounts are counted and answered exactly
    like real ones, and cost one hash verification too (against a dummy hash): neither the answer nor its time
    tells whether an account exists. Nobody can lock an account for others: the count is per client IP."""
    now_s = int(time.time())
    ip_key, account_key = _throttle_key("ip", client_ip), _throttle_key("account", client_ip, username.casefold())
    over = (_take_attempt(session=session, key=account_key, now_s=now_s) > MAX_FAILED_SIGN_INS)
    over = (_take_attempt(session=session, key=ip_key, now_s=now_s) > MAX_FAILED_SIGN_INS_PER_IP) or over
    if secrets.randbelow(64) == 0:
        forget_old_attempts(session=session, now_s=now_s)
    session.commit()
    if over:
        raise TooManySignIns(_TOO_MANY)
    user = get_by_username(session=session, username=username)
    if user is None:
        verify_password(password, _dummy_hash())
        raise Unauthorized("incorrect username or password")
    if not verify_password(password, user.password_hash):
        raise Unauthorized("incorrect username or password")
    _give_back(session=session, ip_key=ip_key, account_key=account_key)
    if not user.is_active:
        raise Unauthorized("this account is disabled")
    return user


def revoke_tokens(*, session: Session, user: User) -> None:
    """Every access and refresh token issued to the user so far stops working (in other server processes within
    ``server.core.deps.USER_CACHE_S``)."""
    user.token_version = (user.token_version or 0) + 1
    session.add(user)


def create_token(*, settings: Settings, user: User, kind: str = "access") -> tuple[str, int]:
    """A signed token for the user and its lifetime in seconds."""
    lifetime = (
        timedelta(minutes=settings.access_token_minutes) if kind == "access"
        else timedelta(days=settings.refresh_token_days)
    )
    now = utcnow()
    payload = {
        "sub": str(user.id), "role": str(user.role), "typ": kind, "ver": int(user.token_version or 0),
        "iat": int(now.timestamp()), "exp": int((now + lifetime).timestamp()),
    }
    return jwt.encode(payload, settings.resolved_secret_key, algorithm=_ALGORITHM), int(lifetime.total_seconds())


REVOKED = "this token was revoked (signed out, password changed or account disabled); sign in again"


class TokenSubject(int):
    """The user id a token names (an ``int`` everywhere), carrying the token's version for ``is_current``."""

    version: int

    def __new__(cls, user_id: int, version: int) -> TokenSubject:
        subject = super().__new__(cls, user_id)
        subject.version = version
        return subject


def is_current(*, user: User, subject: int) -> bool:
    """False when the token behind ``subject`` (from ``decode_token``) was revoked: its version is not the user's.
    A plain int (no version known) passes: callers that hold one did not get it from a token."""
    version = getattr(subject, "version", None)
    return version is None or version == (user.token_version or 0)


#: Tokens already verified, with what they say: (secret, token) -> (payload type, user id, expiry as epoch seconds,
#: version). Revocation is checked against the user on every use (``is_current``), never cached here.
#: Every request carries its token again; verifying the signature and parsing the payload each time cost ~0.1 ms of
#: server CPU (GET /metrics/ops 0.97-1.00 -> 0.87 ms with this, benchmarks/load/endpoint_cpu.py). Bounded (least
#: recently used go first); expiry is still checked on every use.
_VERIFIED_MAX = 4096
_verified: OrderedDict[tuple[str, str], tuple[str, int, float, int]] = OrderedDict()
_verified_lock = threading.Lock()  # the event loop and worker threads both decode


def decode_token(*, settings: Settings, token: str, kind: str = "access") -> TokenSubject:
    """The user id in a valid token of this kind (with the token's version: check it with ``is_current`` once the
    user is loaded); Unauthorized with the reason otherwise."""
    key = (settings.resolved_secret_key, token)
    with _verified_lock:
        known = _verified.get(key)
        if known is not None:
            _verified.move_to_end(key)
    if known is not None and known[2] > time.time():
        typ, user_id, _, version = known
    else:
        typ, user_id, expires, version = _verify(settings=settings, token=token)
        with _verified_lock:
            _verified[key] = (typ, user_id, expires, version)
            while len(_verified) > _VERIFIED_MAX:
                _verified.popitem(last=False)
    if typ != kind:
        raise Unauthorized(f"expected an {kind} token")
    return TokenSubject(user_id, version)


#: Claims every token must carry: one without an expiry is refused, whoever signed it (and one without a version:
#: checked after the expiry, so an expired token from before versions still says "expired").
_REQUIRED_CLAIMS = ["exp", "sub", "typ"]


def _verify(*, settings: Settings, token: str) -> tuple[str, int, float, int]:
    try:
        payload = jwt.decode(token, settings.resolved_secret_key, algorithms=[_ALGORITHM],
                             options={"require": _REQUIRED_CLAIMS})
    except jwt.ExpiredSignatureError:
        raise Unauthorized("token has expired; sign in again")
    except jwt.MissingRequiredClaimError as exc:
        raise Unauthorized(f"invalid token: it has no '{exc.claim}' claim")
    except jwt.PyJWTError:
        raise Unauthorized("invalid token")
    if "ver" not in payload:
        raise Unauthorized("invalid token: it has no 'ver' claim")
    try:
        return str(payload["typ"]), int(payload["sub"]), float(payload["exp"]), int(payload["ver"])
    except (KeyError, TypeError, ValueError):
        raise Unauthorized("invalid token")


__all__ = ["Role", "authenticate", "create", "create_token", "decode_token", "hash_password", "is_current",
           "revoke_tokens"]
