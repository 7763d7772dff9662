"""The authorization matrix: EVERY (method, path) of the OpenAPI spec, called with no token, a forged token, an
expired token and a token of every role, gives the outcome written in ``RULES`` below. A route missing from the table
fails the test, so each new route must be classified here.

Outcomes: allowed = neither 401 nor 403 (a 2xx, or a 4xx about the request itself: validation, not found, conflict);
denied for a role = 403 or 404 (404 where existence is not revealed); no/forged/expired token on a protected route =
401. ``OWN`` routes take a technician's object id: the technician (tech A) is allowed on A's job / customer /
conversation / technician record, and denied on tech B's."""

from __future__ import annotations

import re
from datetime import timedelta

import jwt
import pytest

from server.core.timeutil import utcnow

PUBLIC = "public"  # everyone, no token needed
APIKEY = "apikey"  # public, but refused (403) without a valid Open311 api_key
SIGNED_IN = "signed_in"  # any role
FILTERED = "filtered"  # any role; technicians see only their own rows (asserted in test_technician_lists_...)
OWN = "own"  # staff; technicians only for their own object
FIELD = "field"  # a job's lifecycle: admin, dispatcher, and the technician of that job (agents refused)
STAFF = "staff"  # admin, dispatcher, agent
DISPATCHER = "dispatcher"  # admin, dispatcher
AGENT = "agent"  # admin, agent
ADMIN = "admin"
TECHNICIAN = "technician"  # a technician's own device (admin may too); other staff refused

ROLES = ("admin", "dispatcher", "agent", "technician")
ALLOWED: dict[str, set[str]] = {
    PUBLIC: set(ROLES), APIKEY: set(ROLES), SIGNED_IN: set(ROLES), FILTERED: set(ROLES), OWN: set(ROLES),
    STAFF: {"admin", "dispatcher", "agent"}, DISPATCHER: {"admin", "dispatcher"}, AGENT: {"admin", "agent"},
    ADMIN: {"admin"}, TECHNICIAN: {"admin", "technician"}, FIELD: {"admin", "dispatcher", "technician"},
}

RULES: dict[tuple[str, str], str] = {
    ("GET", "/health"): PUBLIC,
    # auth
    ("POST", "/auth/token"): PUBLIC,
    ("POST", "/auth/refresh"): PUBLIC,
    ("GET", "/auth/me"): SIGNED_IN,
    ("POST", "/auth/logout"): SIGNED_IN,
    ("POST", "/auth/password"): SIGNED_IN,
    ("GET", "/users"): ADMIN,
    ("POST", "/users"): ADMIN,
    ("PATCH", "/users/{user_id}"): ADMIN,
    ("GET", "/audit"): ADMIN,
    # cases, customers, conversations, identity
    ("GET", "/cases"): STAFF,
    ("POST", "/cases"): AGENT,
    ("GET", "/cases/{case_id}"): STAFF,
    ("PATCH", "/cases/{case_id}"): AGENT,
    ("POST", "/cases/{case_id}/handoff"): STAFF,
    ("GET", "/customers"): FILTERED,
    ("POST", "/customers"): AGENT,
    ("GET", "/customers/{customer_id}"): OWN,
    ("PATCH", "/customers/{customer_id}"): AGENT,
    ("GET", "/customers/{customer_id}/360"): OWN,
    ("POST", "/customers/{customer_id}/identities"): AGENT,
    ("POST", "/customers/{customer_id}/merge"): AGENT,
    ("POST", "/customers/{customer_id}/unmerge/{merge_id}"): AGENT,
    ("GET", "/customers/merge-suggestions"): AGENT,
    ("POST", "/customers/merge-suggestions/{suggestion_id}"): AGENT,
    ("DELETE", "/customers/merge-suggestions/{suggestion_id}"): AGENT,
    ("GET", "/customers/{customer_id}/export"): ADMIN,
    ("POST", "/customers/{customer_id}/erase"): ADMIN,
    ("GET", "/conversations"): FILTERED,
    ("POST", "/conversations/inbound"): AGENT,
    ("GET", "/conversations/{conversation_id}"): OWN,
    ("POST", "/conversations/{conversation_id}/messages"): OWN,
    # the agents' inbox
    ("POST", "/conversations/{conversation_id}/notes"): AGENT,
    ("POST", "/conversations/{conversation_id}/status"): AGENT,
    ("POST", "/conversations/{conversation_id}/assign"): AGENT,
    ("POST", "/conversations/{conversation_id}/triage"): AGENT,
    ("GET", "/conversations/{conversation_id}/canned-replies"): AGENT,
    ("GET", "/inbox"): STAFF,
    ("GET", "/inbox/agents"): STAFF,
    ("GET", "/inbox/categories"): STAFF,
    ("GET", "/inbox/customers/{customer_id}/timeline"): STAFF,
    ("GET", "/canned-replies"): STAFF,
    ("POST", "/canned-replies"): ADMIN,
    ("PATCH", "/canned-replies/{canned_id}"): ADMIN,
    ("DELETE", "/canned-replies/{canned_id}"): ADMIN,
    ("GET", "/listening"): AGENT,
    ("POST", "/listening/{mention_id}/reply"): AGENT,
    ("POST", "/listening/{mention_id}/dismiss"): AGENT,
    # inbound channels: public webhooks, verified by signature when the secret is configured (test_webhooks.py)
    ("POST", "/channels/twitter"): PUBLIC,
    ("GET", "/channels/facebook"): PUBLIC,
    ("POST", "/channels/facebook"): PUBLIC,
    ("POST", "/channels/email"): PUBLIC,
    ("GET", "/channels/twitter"): PUBLIC,  # X's CRC check (answers only with the consumer secret set)
    ("POST", "/channels/email/mailgun"): PUBLIC,  # Mailgun-signed (test_webhooks.py)
    ("POST", "/channels/email/sendgrid"): PUBLIC,  # webhook credentials in the URL (test_webhooks.py)
    ("POST", "/channels/email/postmark"): PUBLIC,
    ("POST", "/channels/sms"): PUBLIC,
    ("POST", "/channels/webform"): PUBLIC,
    ("POST", "/notify/twilio/status"): PUBLIC,  # Twilio delivery reports, signed (tests/server/notify)
    ("GET", "/notify/channels"): ADMIN,  # channel status for the admin screens
    # jobs and their lifecycle
    ("GET", "/jobs"): FILTERED,
    ("POST", "/jobs"): STAFF,
    ("GET", "/jobs/{job_id}"): OWN,
    ("PATCH", "/jobs/{job_id}"): STAFF,
    ("GET", "/jobs/{job_id}/reports"): OWN,
    ("GET", "/jobs/{job_id}/reporters"): OWN,
    ("GET", "/jobs/{job_id}/events"): OWN,
    ("GET", "/jobs/{job_id}/attachments"): OWN,
    # one file by name (none exists here: 404 for all); authorized like the job, see tests/security/test_robustness.py
    ("GET", "/jobs/{job_id}/attachments/{name}"): SIGNED_IN,
    ("POST", "/jobs/{job_id}/status"): FIELD,
    ("POST", "/jobs/{job_id}/reports/{report_id}/split"): STAFF,
    ("GET", "/jobs/{job_id}/affected-customers"): AGENT,
    ("POST", "/jobs/{job_id}/proactive-notice"): AGENT,
    # technicians
    ("GET", "/technicians"): FILTERED,
    ("POST", "/technicians"): DISPATCHER,
    ("GET", "/technicians/{technician_id}"): OWN,
    ("PATCH", "/technicians/{technician_id}"): DISPATCHER,
    ("GET", "/technicians/skills"): STAFF,  # the skills to choose from (admin screens, job edits)
    ("GET", "/technicians/catalogue"): STAFF,
    ("POST", "/technicians/{technician_id}/dispatch-status"): FIELD,  # dispatchers, or the technician themself
    ("POST", "/technicians/me/location"): SIGNED_IN,
    ("GET", "/technicians/me/route"): SIGNED_IN,
    ("GET", "/technicians/{technician_id}/route"): STAFF,
    # appointments (the customer's own page is signed by its link and left out of the spec)
    ("POST", "/appointments/jobs/{job_id}/offers"): DISPATCHER,
    ("GET", "/appointments/jobs/{job_id}"): STAFF,
    ("GET", "/appointments/policy"): DISPATCHER,
    ("PUT", "/appointments/policy"): ADMIN,
    # an email offer's one-click link: signed by its token (an option of one offer round), rate-limited, no login;
    # GET shows a confirmation page only, POST books
    ("GET", "/appointments/choose/{token}"): PUBLIC,
    ("POST", "/appointments/choose/{token}"): PUBLIC,
    # address search, planning horizon
    ("GET", "/addresses/search"): STAFF,
    ("GET", "/horizon"): STAFF,
    ("GET", "/horizon/mine"): SIGNED_IN,  # a technician's own coming days; 404 for accounts with no technician
    ("GET", "/technicians/{technician_id}/absences"): STAFF,
    ("POST", "/technicians/{technician_id}/absences"): DISPATCHER,
    ("DELETE", "/technicians/{technician_id}/absences/{absence_id}"): DISPATCHER,
    ("POST", "/horizon"): DISPATCHER,
    # dispatch and plans
    ("GET", "/dispatch/solves"): STAFF,
    ("POST", "/dispatch/solves"): DISPATCHER,
    ("GET", "/dispatch/solves/{solve_id}"): STAFF,
    ("DELETE", "/dispatch/solves/{solve_id}"): DISPATCHER,
    ("POST", "/dispatch/overrides/preview"): DISPATCHER,
    ("POST", "/dispatch/overrides/commit"): DISPATCHER,
    ("GET", "/dispatch/jobs/{job_id}/explain"): STAFF,
    ("GET", "/plans"): STAFF,
    ("GET", "/plans/current"): STAFF,
    ("GET", "/plans/{plan_id}"): STAFF,
    # map, console, events, metrics
    ("GET", "/map/streets"): SIGNED_IN,
    ("GET", "/map/service-area"): SIGNED_IN,
    ("GET", "/map/routes"): STAFF,
    ("GET", "/console/config"): SIGNED_IN,
    ("GET", "/console/inbox"): STAFF,
    ("GET", "/events/stream"): SIGNED_IN,
    ("POST", "/events/ticket"): SIGNED_IN,
    ("GET", "/metrics/ops"): STAFF,
    ("GET", "/metrics"): PUBLIC,  # Prometheus scrape: aggregate counts only, no personal data
    # Open311
    ("GET", "/open311/v2/discovery.{fmt}"): PUBLIC,
    ("GET", "/open311/v2/services.{fmt}"): PUBLIC,
    ("GET", "/open311/v2/services/{code}.{fmt}"): PUBLIC,
    ("GET", "/open311/v2/requests.{fmt}"): PUBLIC,
    ("POST", "/open311/v2/requests.{fmt}"): APIKEY,
    ("GET", "/open311/v2/requests/{request_id}.{fmt}"): PUBLIC,
    ("GET", "/open311/v2/tokens/{token}.{fmt}"): PUBLIC,
    ("GET", "/open311/v2/servicerequestupdates.{fmt}"): PUBLIC,  # our notices on Open311 requests (no contacts)
    ("POST", "/open311/v2/servicerequestupdates.{fmt}"): APIKEY,
    ("GET", "/open311/v2/media/{message_id}/{name}"): PUBLIC,  # the photo published as a request's media_url
    ("GET", "/open311/keys"): ADMIN,
    ("POST", "/open311/keys"): ADMIN,
    ("DELETE", "/open311/keys/{key_id}"): ADMIN,
}

# Valid bodies for OWN/FIELD/APIKEY calls, so that the outcome is decided by the access rule and not by validation
# (validation runs before the handler looks at who owns the object).
BODIES: dict[tuple[str, str], dict] = {
    ("POST", "/conversations/{conversation_id}/messages"): {"text": "On my way."},
    ("POST", "/jobs/{job_id}/status"): {"status": "en_route"},
    ("POST", "/open311/v2/requests.{fmt}"): {"service_code": "streetlight", "lat": 39.29, "long": -76.61,
                                            "description": "Streetlight out"},
    ("POST", "/open311/v2/servicerequestupdates.{fmt}"): {"service_request_id": "1", "update_id": "1", "status": "OPEN",
                                                          "updated_datetime": "2026-01-01T00:00:00Z",
                                                          "description": "Thanks"},
    # late_min 0 with running_late is refused (422) after the ownership check: nothing changes
    ("POST", "/technicians/{technician_id}/dispatch-status"): {"status": "running_late", "late_min": 0},
}
# Streams that never end on their own: only the refusals are checked here (tests/server/events covers the stream).
OBJ = (OWN, FIELD, APIKEY)  # rules whose calls use BODIES and a technician's own ids
STREAMS = {("GET", "/events/stream"), ("POST", "/auth/logout")}  # logout would sign the role out mid-run
MISSING_ID = 987654


def spec_operations(app) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    spec = app.openapi()
    return sorted((method.upper(), path) for path, ops in spec["paths"].items() for method in ops
                  if method in ("get", "post", "put", "patch", "delete"))


def _url(path: str, ids: dict[str, int]) -> str:
    values = {"fmt": "json", "code": "streetlight", "request_id": str(MISSING_ID), "token": "no-such-token",
              "solve_id": "no-such-solve"}
    out = path
    for name in re.findall(r"{(\w+)}", path):
        value = ids.get(name, values.get(name, MISSING_ID))
        out = out.replace("{" + name + "}", str(value))
    return out


def _call(client, method: str, path: str, url: str, headers: dict[str, str], own_body: bool):  # type: ignore[no-untyped-def]
    kwargs: dict = {"headers": headers}
    if method in ("POST", "PATCH", "PUT"):
        body = BODIES.get((method, path)) if own_body else None
        # A JSON array is never a valid body here: allowed roles get a 4xx about the body and nothing is written.
        kwargs["json"] = body if body is not None else []
    return client.request(method, url, **kwargs)


def _bad_tokens(settings) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    now = utcnow()
    expired = jwt.encode({"sub": "1", "role": "admin", "typ": "access", "iat": int((now - timedelta(hours=2))
                          .timestamp()), "exp": int((now - timedelta(hours=1)).timestamp())},
                         settings.resolved_secret_key, algorithm="HS256")
    forged = jwt.encode({"sub": "1", "role": "admin", "typ": "access", "iat": int(now.timestamp()),
                         "exp": int((now + timedelta(hours=1)).timestamp())}, "not-the-key-" + "z" * 32,
                        algorithm="HS256")
    refresh_as_access = jwt.encode({"sub": "1", "role": "admin", "typ": "refresh", "iat": int(now.timestamp()),
                                    "exp": int((now + timedelta(hours=1)).timestamp())},
                                   settings.resolved_secret_key, algorithm="HS256")
    none_alg = jwt.encode({"sub": "1", "role": "admin", "typ": "access", "exp": int((now + timedelta(hours=1))
                           .timestamp())}, None, algorithm="none")
    return {name: {"Authorization": f"Bearer {token}"} for name, token in (
        ("expired", expired), ("forged", forged), ("refresh-token", refresh_as_access), ("alg-none", none_alg))}


def test_every_route_is_classified(sec_app):
    missing = [f"{m} {p}" for m, p in spec_operations(sec_app) if (m, p) not in RULES]
    assert not missing, "classify these routes in RULES (tests/security/test_authz_matrix.py): " + ", ".join(missing)


def test_authorization_matrix(sec_client, sec_app, sec_settings, world):
    failures: list[str] = []
    checked = 0
    bad_tokens = _bad_tokens(sec_settings)

    def expect(cond: bool, what: str, response) -> None:  # type: ignore[no-untyped-def]
        nonlocal checked
        checked += 1
        if not cond:
            failures.append(f"{what}: got {response.status_code} {response.text[:160]}")

    for method, path in spec_operations(sec_app):
        rule = RULES.get((method, path))
        if rule is None:
            continue  # reported by test_every_route_is_classified
        allowed = ALLOWED[rule]
        public = rule in (PUBLIC, APIKEY)
        own_url = _url(path, world.own) if rule in OBJ else _url(path, {})
        label = f"{method} {path} [{rule}]"
        stream = (method, path) in STREAMS

        # nobody signed in, and tokens that must never work
        r = _call(sec_client, method, path, own_url, {}, rule in OBJ)
        if rule == APIKEY:
            expect(r.status_code == 403 and "api_key" in r.text, f"{label} without api_key", r)
        elif public:
            expect(r.status_code not in (401, 403), f"{label} no token", r)
        else:
            expect(r.status_code == 401, f"{label} no token", r)
            for name, headers in bad_tokens.items():
                r = _call(sec_client, method, path, own_url, headers, rule in OBJ)
                expect(r.status_code == 401, f"{label} {name} token", r)

        # the technician on someone else's object
        if rule in (OWN, FIELD):
            r = _call(sec_client, method, path, _url(path, world.other), world.headers["technician"], True)
            expect(r.status_code in (403, 404), f"{label} technician on another technician's object", r)

        for role in ROLES:
            if stream and role in allowed:
                continue
            r = _call(sec_client, method, path, own_url, world.headers[role], rule in OBJ)
            if rule == APIKEY:
                expect(r.status_code == 403 and "api_key" in r.text, f"{label} {role} without api_key", r)
            elif role in allowed:
                expect(r.status_code not in (401, 403), f"{label} {role} allowed", r)
                if rule == OWN and method == "GET":
                    expect(r.status_code == 200, f"{label} {role} reads an object it may see", r)
            else:
                expect(r.status_code in (403, 404), f"{label} {role} denied", r)

    assert not failures, f"{len(failures)} of {checked} checks failed:\n" + "\n".join(failures)
    assert checked > 300


@pytest.mark.parametrize("path", ["/jobs", "/customers", "/conversations", "/technicians"])
def test_technician_lists_hold_only_their_own_rows(sec_client, world, path):
    own_key = {"/jobs": "job_id", "/customers": "customer_id", "/conversations": "conversation_id",
               "/technicians": "technician_id"}[path]
    tech_items = sec_client.get(path, headers=world.headers["technician"]).json()["items"]
    assert [i["id"] for i in tech_items] == [world.own[own_key]]
    staff_items = sec_client.get(path, headers=world.headers["dispatcher"]).json()["items"]
    assert {world.own[own_key], world.other[own_key]} <= {i["id"] for i in staff_items}


def test_technician_cannot_reach_unrelated_customers_in_any_view(sec_client, world):
    tech = world.headers["technician"]
    other = world.other
    assert sec_client.get(f"/customers/{other['customer_id']}", headers=tech).status_code in (403, 404)
    assert sec_client.get(f"/customers/{other['customer_id']}/360", headers=tech).status_code in (403, 404)
    assert sec_client.get(f"/conversations?customer_id={other['customer_id']}", headers=tech).json()["items"] == []
    assert sec_client.get(f"/jobs/{other['job_id']}/reporters", headers=tech).status_code == 404
    assert sec_client.get(f"/jobs/{other['job_id']}/reports", headers=tech).status_code == 404
    listed = sec_client.get("/customers?q=bob", headers=tech).json()["items"]
    assert all(c["id"] != other["customer_id"] for c in listed)


def test_events_websocket_refuses_missing_and_bad_tokens(sec_client, sec_settings, world):
    from starlette.websockets import WebSocketDisconnect

    for token in ("", "garbage", _bad_tokens(sec_settings)["expired"]["Authorization"].split(" ")[1]):
        with pytest.raises(WebSocketDisconnect) as exc, sec_client.websocket_connect(f"/events/ws?token={token}") as ws:
            ws.receive_json()
        assert exc.value.code == 4401
