"""Sign-in, tokens, lockout and role checks."""

from __future__ import annotations

from datetime import timedelta

import jwt

from server.auth.models import Role
from server.core.timeutil import utcnow
from tests.server.conftest import PASSWORD, sign_in


def test_sign_in_issues_token_for_me(client, make_user):
    make_user("dana", Role.dispatcher)
    response = client.post("/auth/token", data={"username": "dana", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["role"] == "dispatcher" and body["expires_in"] > 0
    me = client.get("/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json()["username"] == "dana"
    assert "password_hash" not in me.json()


def test_wrong_password_and_unknown_user_are_401(client, make_user):
    make_user("dana", Role.dispatcher)
    for username, password in (("dana", "wrong-password"), ("nobody", PASSWORD)):
        response = client.post("/auth/token", data={"username": username, "password": password})
        assert response.status_code == 401
        assert response.json()["detail"] == "incorrect username or password"


def test_repeated_failures_throttle_that_address_for_that_account(client, make_user):
    make_user("dana", Role.dispatcher)
    for _ in range(5):
        client.post("/auth/token", data={"username": "dana", "password": "nope-nope"})
    response = client.post("/auth/token", data={"username": "dana", "password": PASSWORD})
    assert response.status_code == 429
    assert "too many failed sign-ins" in response.json()["detail"]


def test_refresh_token_gives_new_access_token(client, make_user):
    make_user("dana", Role.dispatcher)
    tokens = client.post("/auth/token", data={"username": "dana", "password": PASSWORD}).json()
    response = client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert response.status_code == 200
    assert client.get("/auth/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"}).is_success
    # an access token is not a refresh token
    bad = client.post("/auth/refresh", json={"refresh_token": tokens["access_token"]})
    assert bad.status_code == 401 and "refresh" in bad.json()["detail"]


def test_missing_invalid_and_expired_tokens(client, settings, make_user):
    user_id = make_user("dana", Role.dispatcher)
    assert client.get("/auth/me").status_code == 401
    assert "not signed in" in client.get("/auth/me").json()["detail"]
    assert client.get("/auth/me", headers={"Authorization": "Bearer garbage"}).json()["detail"] == "invalid token"
    expired = jwt.encode(
        {"sub": str(user_id), "typ": "access", "exp": int((utcnow() - timedelta(minutes=1)).timestamp())},
        settings.resolved_secret_key, algorithm="HS256",
    )
    response = client.get("/auth/me", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401 and "expired" in response.json()["detail"]
    forged = jwt.encode({"sub": str(user_id), "typ": "access"}, "another-key-" + "y" * 32, algorithm="HS256")
    assert client.get("/auth/me", headers={"Authorization": f"Bearer {forged}"}).status_code == 401


def test_only_admin_manages_users(client, auth):
    admin = auth(Role.admin)
    body = {"username": "newtech", "role": "technician", "password": "long-enough-1"}
    for role in (Role.dispatcher, Role.agent, Role.technician):
        response = client.post("/users", json=body, headers=auth(role))
        assert response.status_code == 403
        assert "admin" in response.json()["detail"]
    created = client.post("/users", json=body, headers=admin)
    assert created.status_code == 201 and created.json()["role"] == "technician"
    assert client.post("/users", json=body, headers=admin).status_code == 409
    assert sign_in(client, "newtech", "long-enough-1")


def test_a_disabled_or_demoted_account_is_refused_at_once_despite_the_user_cache(client, auth):
    """Signed-in users are cached briefly per process; a change to the account must still apply to the very next
    request (the cache forgets a user when the ORM writes it)."""
    admin = auth(Role.admin)
    dispatcher = auth(Role.dispatcher)
    me = client.get("/auth/me", headers=dispatcher).json()
    assert client.get("/jobs", headers=dispatcher).status_code == 200  # now cached
    assert client.patch(f"/users/{me['id']}", json={"role": "agent"}, headers=admin).status_code == 200
    demoted = client.post("/technicians", headers=dispatcher, json={
        "name": "Ana Ruiz", "skills": {"electrical": 3}, "home_lat": 39.2833, "home_lon": -76.5930,
        "shift_start": "08:00", "shift_end": "17:00"})
    assert demoted.status_code == 403 and "you are agent" in demoted.json()["detail"]
    assert client.patch(f"/users/{me['id']}", json={"is_active": False}, headers=admin).status_code == 200
    refused = client.get("/jobs", headers=dispatcher)
    assert refused.status_code == 401 and "disabled" in refused.json()["detail"]


def test_a_token_accepted_before_is_refused_once_it_expires_and_a_refresh_token_never_passes_for_access(
        client, settings, make_user):
    import time

    user_id = make_user("erin", Role.dispatcher)
    exp = int(time.time()) + 2
    token = jwt.encode({"sub": str(user_id), "typ": "access", "exp": exp, "ver": 0}, settings.resolved_secret_key,
                       algorithm="HS256")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/auth/me", headers=headers).status_code == 200
    assert client.get("/auth/me", headers=headers).status_code == 200  # the second time from the verified tokens
    time.sleep(max(0.0, exp + 0.2 - time.time()))
    response = client.get("/auth/me", headers=headers)
    assert response.status_code == 401 and "expired" in response.json()["detail"]
    refresh = jwt.encode({"sub": str(user_id), "typ": "refresh", "exp": int(time.time()) + 60, "ver": 0},
                         settings.resolved_secret_key, algorithm="HS256")
    for _ in range(2):  # verified once, refused for access both times
        refused = client.get("/auth/me", headers={"Authorization": f"Bearer {refresh}"})
        assert refused.status_code == 401 and "expected an access token" in refused.json()["detail"]
