"""Sign-in and tokens under attack (issue 25, items 6 and 8 and the auth lows), on SQLite and PostgreSQL:

- revocation: a password change (own or an admin's reset), deactivation and sign-out refuse every access and refresh
  token issued before; a token without an expiry is refused;
- sign-in tells nobody which accounts exist: an unknown account costs the same one password-hash verification as a
  real one with a wrong password, and gets the same answers (401, then the same 429);
- nobody can lock an account for others: failures are counted per (client IP, account) and per client IP;
- counting is atomic: 30 concurrent wrong tries check no more passwords than the limit allows;
- the last active admin cannot be demoted or deactivated; explicit nulls in ``PATCH /users/{id}`` are 422."""

from __future__ import annotations

import inspect
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from server.app import create_app
from server.auth import service as auth_service
from server.auth.models import Role, UserCreate
from server.config import Settings
from server.core.deps import load_user
from server.core.errors import DomainError

PASSWORD = "correct-horse-1"
TRIES = 5  # the policy: five failed sign-ins per (address, account) in five minutes, then 429 for that pair
ATTACKER = ("203.0.113.66", 40000)
OWNER = ("198.51.100.7", 40001)


@pytest.fixture
def app(database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = Settings(database_url=database_url, data_dir=tmp_path, secret_key="harden-secret-" + "h" * 32,
                        load_city=False, dispatch_background=False, dispatch_morning_at=None)
    application = create_app(settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def make_user(app) -> Callable[..., int]:  # type: ignore[no-untyped-def]
    def _make(username: str, role: Role = Role.dispatcher) -> int:
        with Session(app.state.engine) as session:
            user = auth_service.create(session=session, user_in=UserCreate(username=username, role=role,
                                                                           password=PASSWORD))
            session.commit()
            return user.id or 0

    return _make


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every password-hash verification sign-in makes (the costly, timing-visible step), by the hash it checked."""
    checked: list[str] = []
    lock = threading.Lock()
    real = auth_service.verify_password

    def spy(password: str, password_hash: str) -> bool:
        with lock:
            checked.append(password_hash)
        return real(password, password_hash)

    monkeypatch.setattr(auth_service, "verify_password", spy)
    return checked


def _sign_in(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _assert_revoked(client: TestClient, tokens: dict[str, str]) -> None:
    me = client.get("/auth/me", headers=_bearer(tokens["access_token"]))
    assert me.status_code == 401 and "revoked" in me.json()["detail"], me.text
    refreshed = client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 401, refreshed.text


# --- revocation ------------------------------------------------------------------------------------------------


def test_an_admins_password_reset_revokes_the_old_tokens(client, make_user):
    make_user("admin", Role.admin)
    user_id = make_user("dana")
    admin, old = _sign_in(client, "admin"), _sign_in(client, "dana")
    assert client.get("/auth/me", headers=_bearer(old["access_token"])).status_code == 200
    reset = client.patch(f"/users/{user_id}", json={"password": "a-new-password-2"},
                         headers=_bearer(admin["access_token"]))
    assert reset.status_code == 200, reset.text
    _assert_revoked(client, old)
    new = _sign_in(client, "dana", "a-new-password-2")
    assert client.get("/auth/me", headers=_bearer(new["access_token"])).status_code == 200
    assert client.post("/auth/refresh", json={"refresh_token": new["refresh_token"]}).status_code == 200
    assert client.get("/auth/me", headers=_bearer(admin["access_token"])).status_code == 200  # others unaffected


def test_changing_your_own_password_revokes_the_old_tokens_and_returns_new_ones(client, make_user):
    make_user("dana")
    old = _sign_in(client, "dana")
    wrong = client.post("/auth/password", headers=_bearer(old["access_token"]),
                        json={"current_password": "not-it-at-all", "new_password": "a-new-password-2"})
    assert wrong.status_code == 403 and "current_password" in wrong.json()["detail"]
    changed = client.post("/auth/password", headers=_bearer(old["access_token"]),
                          json={"current_password": PASSWORD, "new_password": "a-new-password-2"})
    assert changed.status_code == 200, changed.text
    _assert_revoked(client, old)
    new = changed.json()
    assert client.get("/auth/me", headers=_bearer(new["access_token"])).json()["username"] == "dana"
    assert client.post("/auth/refresh", json={"refresh_token": new["refresh_token"]}).status_code == 200


def test_deactivation_revokes_the_tokens_for_good_even_after_reactivation(client, make_user):
    make_user("admin", Role.admin)
    user_id = make_user("dana")
    admin, old = _sign_in(client, "admin"), _sign_in(client, "dana")
    headers = _bearer(admin["access_token"])
    assert client.patch(f"/users/{user_id}", json={"is_active": False}, headers=headers).status_code == 200
    assert client.patch(f"/users/{user_id}", json={"is_active": True}, headers=headers).status_code == 200
    _assert_revoked(client, old)
    assert client.get("/auth/me", headers=_bearer(_sign_in(client, "dana")["access_token"])).status_code == 200


def test_signing_out_revokes_the_access_and_refresh_tokens(app, client, make_user):
    make_user("dana")
    tokens = _sign_in(client, "dana")
    assert client.post("/auth/logout", headers=_bearer(tokens["access_token"])).status_code == 204
    _assert_revoked(client, tokens)
    # the live event streams load the user through the same path: a revoked token finds nobody there either
    subject = auth_service.decode_token(settings=app.state.settings, token=tokens["access_token"])
    assert load_user(app.state.engine, subject) is None
    assert client.post("/auth/logout", headers=_bearer(tokens["access_token"])).status_code == 401


@pytest.mark.parametrize("kind", ["access", "refresh"])
def test_a_token_without_an_expiry_is_refused(app, client, make_user, kind):
    user_id = make_user("dana")
    token = jwt.encode({"sub": str(user_id), "role": "dispatcher", "typ": kind, "ver": 0},
                       app.state.settings.resolved_secret_key, algorithm="HS256")
    if kind == "access":
        response = client.get("/auth/me", headers=_bearer(token))
    else:
        response = client.post("/auth/refresh", json={"refresh_token": token})
    assert response.status_code == 401 and "exp" in response.json()["detail"], response.text


# --- sign-in does not tell which accounts exist -----------------------------------------------------------------


def test_an_unknown_account_costs_the_same_verification_and_gets_the_same_answers(client, make_user, verifications):
    make_user("dana")
    answers = {}
    for username in ("dana", "nobody-here"):
        verifications.clear()
        responses = [client.post("/auth/token", data={"username": username, "password": "wrong-password"})
                     for _ in range(TRIES + 1)]
        assert len(verifications) == TRIES, username  # one per try until throttled
        answers[username] = [(r.status_code, r.json()["detail"]) for r in responses]
    assert answers["dana"] == answers["nobody-here"]
    assert answers["dana"][0] == (401, "incorrect username or password")
    assert answers["dana"][-1][0] == 429


def test_sign_in_takes_as_long_for_an_unknown_account_as_for_a_wrong_password(client, make_user, monkeypatch):
    """Compared in one run, alternating, so the machine's speed cancels out; the old code answered an unknown
    account about 40x faster (no hash verification)."""
    monkeypatch.setattr(auth_service, "MAX_FAILED_SIGN_INS", 1000, raising=False)
    make_user("dana")
    times: dict[str, list[float]] = {"dana": [], "nobody-here": []}
    for _ in range(8):
        for username in times:
            started = time.perf_counter()
            response = client.post("/auth/token", data={"username": username, "password": "wrong-password"})
            times[username].append(time.perf_counter() - started)
            assert response.status_code == 401
    ratio = statistics.median(times["nobody-here"]) / statistics.median(times["dana"])
    assert 0.5 < ratio < 2.0, f"unknown/real sign-in time ratio {ratio:.2f}: {times}"


# --- nobody can lock an account for others ----------------------------------------------------------------------


def test_an_attackers_failures_do_not_lock_the_owner_out(app, client, make_user, verifications):
    make_user("admin", Role.admin)
    attacker, owner = TestClient(app, client=ATTACKER), TestClient(app, client=OWNER)
    for _ in range(TRIES):
        assert attacker.post("/auth/token", data={"username": "admin", "password": "guess-guess"}).status_code == 401
    throttled = attacker.post("/auth/token", data={"username": "admin", "password": PASSWORD})
    assert throttled.status_code == 429 and "too many failed sign-ins" in throttled.json()["detail"]
    checked = len(verifications)
    assert checked == TRIES  # the throttled try checked no password
    assert _sign_in(owner, "admin")["role"] == "admin"  # the owner, from their own address, is not locked out
    assert auth_service.MAX_FAILED_SIGN_INS == TRIES


def test_an_address_failing_across_many_accounts_is_throttled_as_a_whole(app, make_user, monkeypatch):
    monkeypatch.setattr(auth_service, "MAX_FAILED_SIGN_INS_PER_IP", 6, raising=False)
    make_user("dana")
    attacker, owner = TestClient(app, client=ATTACKER), TestClient(app, client=OWNER)
    for n in range(6):
        assert attacker.post("/auth/token", data={"username": f"user{n}", "password": "x" * 10}).status_code == 401
    assert attacker.post("/auth/token", data={"username": "dana", "password": PASSWORD}).status_code == 429
    assert _sign_in(owner, "dana")["role"] == "dispatcher"


def test_successful_sign_ins_do_not_use_up_the_address(app, make_user, monkeypatch):
    monkeypatch.setattr(auth_service, "MAX_FAILED_SIGN_INS_PER_IP", 3, raising=False)
    make_user("dana")
    office = TestClient(app, client=OWNER)
    for _ in range(6):
        _sign_in(office, "dana")
    assert office.post("/auth/token", data={"username": "dana", "password": "wrong-wrong"}).status_code == 401
    assert _sign_in(office, "dana")["role"] == "dispatcher"


def test_concurrent_wrong_tries_check_no_more_passwords_than_allowed(app, client, make_user, verifications):
    make_user("admin", Role.admin)

    def attempt(_: int) -> int:
        return client.post("/auth/token", data={"username": "admin", "password": "guess-guess"}).status_code

    with ThreadPoolExecutor(max_workers=30) as pool:
        codes = list(pool.map(attempt, range(30)))
    assert len(verifications) <= TRIES, f"{len(verifications)} passwords checked"
    assert codes.count(401) == len(verifications) and codes.count(429) == 30 - len(verifications)


def test_concurrent_wrong_tries_in_the_service_check_no_more_passwords_than_allowed(app, make_user, verifications):
    """The same through the service with 30 sessions at once (no request queue in between)."""
    make_user("admin", Role.admin)
    barrier = threading.Barrier(30)
    by_ip = {"client_ip": ATTACKER[0]} if "client_ip" in inspect.signature(auth_service.authenticate).parameters else {}

    def attempt(_: int) -> int:
        with Session(app.state.engine) as session:
            barrier.wait()
            try:
                auth_service.authenticate(session=session, username="admin", password="guess-guess", **by_ip)
            except DomainError as exc:
                return exc.status_code
            return 200

    with ThreadPoolExecutor(max_workers=30) as pool:
        answers = list(pool.map(attempt, range(30)))
    assert len(verifications) <= TRIES, f"{len(verifications)} passwords checked"
    assert answers.count(429) == 30 - len(verifications), answers


# --- user administration ----------------------------------------------------------------------------------------


def test_the_last_active_admin_cannot_be_demoted_or_deactivated(client, make_user):
    admin_id = make_user("admin", Role.admin)
    headers = _bearer(_sign_in(client, "admin")["access_token"])
    for body, field in (({"role": "dispatcher"}, "role"), ({"is_active": False}, "is_active")):
        refused = client.patch(f"/users/{admin_id}", json=body, headers=headers)
        assert refused.status_code == 409, refused.text
        assert refused.json()["detail"].startswith(f"{field}:") and "last active admin" in refused.json()["detail"]
    second_id = make_user("second", Role.admin)
    assert client.patch(f"/users/{second_id}", json={"role": "agent"}, headers=headers).status_code == 200
    assert client.patch(f"/users/{admin_id}", json={"role": "agent"}, headers=headers).status_code == 409
    assert client.get("/auth/me", headers=headers).json()["role"] == "admin"


@pytest.mark.parametrize("field", ["password", "role", "is_active", "full_name"])
def test_null_in_a_user_patch_is_422_naming_the_field(client, make_user, field):
    make_user("admin", Role.admin)
    user_id = make_user("dana")
    headers = _bearer(_sign_in(client, "admin")["access_token"])
    response = client.patch(f"/users/{user_id}", json={field: None}, headers=headers)
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]
    unlinked = client.patch(f"/users/{user_id}", json={"technician_id": None}, headers=headers)
    assert unlinked.status_code == 200  # a null that means something is still taken
