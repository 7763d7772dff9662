"""Listening and proactive notices in Debian's Chromium, as an agent on the real demo server: public posts about our
services that were not addressed to us arrive through the X webhook (signed as X signs them,
https://docs.x.com/x-api/webhooks/introduction "Signature verification": base64 HMAC-SHA256 of the raw body), show
under Listening, are answered in public or dismissed; a customer living near an open job is found and sent one
notice, and the screen then says they were told. axe-core finds no serious violation on either. Screenshot at
1366×768 to docs/screenshots/."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import ROOT
from tests.console.conftest import LiveServer, axe_violations, demo_server, sign_in
from tests.server.intake.helpers import tweet

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

SHOTS = ROOT / "docs" / "screenshots"
X_SECRET = "console-test-x-consumer-secret"


@pytest.fixture(scope="module")
def x_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The demo with X connected for intake (its consumer secret set), so posts come in signed, as from X."""
    with demo_server(tmp_path_factory.mktemp("outreach-server"), GROUNDCREW_X_CONSUMER_SECRET=X_SECRET,
                     GROUNDCREW_APPOINTMENT_SWEEP="false") as server:
        yield server


def post_from_x(server: LiveServer, payload: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps(payload).encode()
    signature = "sha256=" + base64.b64encode(hmac.new(X_SECRET.encode(), body, hashlib.sha256).digest()).decode()
    req = urllib.request.Request(server.url + "/channels/twitter", data=body, method="POST", headers={
        "Content-Type": "application/json", "Accept": "application/json", "x-twitter-webhooks-signature": signature})
    with urllib.request.urlopen(req, timeout=60) as res:
        return json.loads(res.read())


def no_serious_axe_violation(page: Any, axe_source: str) -> None:
    found = axe_violations(page, axe_source)
    assert not found, "; ".join(f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
                                for v in found)


def test_an_agent_answers_and_dismisses_public_mentions(x_server: LiveServer, page_factory: Any,
                                                        axe_source: str) -> None:
    token = x_server.token("agent")
    light = post_from_x(x_server, tweet("lx-1", "ugh the streetlight at 2900 Fait Ave is out again, pitch black",
                                        user_id="9101", username="faitneighbour", name="Fait Neighbour"))
    pothole = post_from_x(x_server, tweet("lx-2", "that pothole on E Baltimore St at Milton Ave ate my tire",
                                          user_id="9102", username="tirewoes", name="Tyre Woes"))
    assert light["listening"] is True and pothole["listening"] is True  # not addressed to us: a mention, no case
    _, feed = x_server.request("GET", "/listening?status=new", token=token)
    ids = {m["message_id"]: m["id"] for m in feed["items"]}
    assert light["message_id"] in ids and pothole["message_id"] in ids
    page = page_factory()
    sign_in(page, x_server, "agent")
    page.locator("nav[aria-label='Views'] a", has_text="Listening").click()
    light_item = page.locator(f".mention[data-mention-id='{ids[light['message_id']]}']")
    expect(light_item).to_contain_text("pitch black")
    expect(light_item).to_contain_text("Fait Neighbour")
    expect(light_item).to_contain_text("Streetlight")  # the service, by the catalogue's label
    page.screenshot(path=SHOTS / "console-listening.png")
    no_serious_axe_violation(page, axe_source)

    light_item.get_by_role("button", name="Reply publicly…").click()
    box = light_item.locator("textarea")
    assert box.get_attribute("maxlength") == "280"  # an X post's limit
    box.fill("Thanks for flagging it: a crew is on the way to Fait Ave tonight.")
    light_item.get_by_role("button", name="Send reply").click()
    expect(page.locator("#notices")).to_contain_text("queued for X")
    expect(light_item).to_have_count(0)  # answered: no longer to answer
    _, answered = x_server.request("GET", "/listening?status=answered", token=token)
    mine = next(m for m in answered["items"] if m["id"] == ids[light["message_id"]])
    assert mine["reply_message_id"] is not None

    pothole_item = page.locator(f".mention[data-mention-id='{ids[pothole['message_id']]}']")
    pothole_item.get_by_role("button", name="Dismiss").click()
    expect(pothole_item).to_have_count(0)
    _, dismissed = x_server.request("GET", "/listening?status=dismissed", token=token)
    assert ids[pothole["message_id"]] in {m["id"] for m in dismissed["items"]}
    page.locator("#mentions-tab-answered").click()
    answered_item = page.locator(f".mention[data-mention-id='{ids[light['message_id']]}']")
    expect(answered_item).to_contain_text("Answered in public")


def test_an_agent_tells_a_neighbour_of_an_incident_once(x_server: LiveServer, page_factory: Any,
                                                        output_dir: Path, axe_source: str) -> None:
    token = x_server.token("agent")
    _, jobs = x_server.request("GET", "/jobs?status=unassigned&limit=20", token=token)
    job = jobs["items"][0]
    status, near = x_server.request("POST", "/customers", token=token, body={
        "display_name": "Nia Neighbour", "address": job["address"] or "next door",
        "address_lat": job["lat"] + 0.0003, "address_lon": job["lon"], "preferred_channel": "sms"})  # ~33 m north
    assert status == 201, near
    status, ident = x_server.request("POST", f"/customers/{near['id']}/identities", token=token,
                                     body={"channel": "sms", "handle": "+14105550177"})
    assert status in (200, 201), ident
    page = page_factory()
    sign_in(page, x_server, "agent")
    page.goto(x_server.url + f"/#/listening/{job['id']}")  # a job named in the address is looked up at once
    row = page.locator(f"#notice-table tr[data-customer-id='{near['id']}']")
    expect(row).to_contain_text("Nia Neighbour")
    expect(row).to_contain_text("SMS")
    expect(row.locator("input[type=checkbox]")).to_be_checked()
    page.locator("#notice-text").fill("We know about the problem on your street: a crew is on it, no need to report.")
    page.screenshot(path=output_dir / "proactive-notice.png")
    no_serious_axe_violation(page, axe_source)
    page.locator("#notice-send").click()
    expect(page.locator("#notices")).to_contain_text("Notice queued for Nia Neighbour (SMS)")
    expect(page.locator(f"#notice-table tr[data-customer-id='{near['id']}']")).to_contain_text("already told")
    _, affected = x_server.request("GET", f"/jobs/{job['id']}/affected-customers", token=token)
    assert next(a for a in affected if a["customer_id"] == near["id"])["already_notified"] is True
    # Once only: the screen offers nobody left to tell for this customer.
    expect(page.locator(f"#notice-{near['id']}")).to_be_disabled()


def test_an_open_job_in_the_customer_timeline_links_to_its_neighbours_notices(x_server: LiveServer,
                                                                              page_factory: Any) -> None:
    token = x_server.token("agent")
    _, jobs = x_server.request("GET", "/jobs?status=unassigned&limit=30", token=token)
    found = None
    for job in jobs["items"]:  # a reporter's conversation whose customer's timeline lists the job
        _, reports = x_server.request("GET", f"/jobs/{job['id']}/reporters", token=token)
        for report in reports:
            if not report.get("conversation_id") or not report.get("customer_id"):
                continue
            _, timeline = x_server.request("GET", f"/inbox/customers/{report['customer_id']}/timeline", token=token)
            if any(j["id"] == job["id"] for j in timeline["jobs"]):
                found = report["conversation_id"], job["id"]
                break
        if found:
            break
    assert found is not None, "the demo has customers whose report became an open job"
    conversation_id, job_id = found
    page = page_factory()
    sign_in(page, x_server, "agent")
    page.goto(x_server.url + f"/#/inbox/{conversation_id}")
    page.locator(f"#timeline-jobs li[data-job-id='{job_id}'] a.notice-link").click()
    expect(page).to_have_url(re.compile(rf"#/listening/{job_id}$"))
    expect(page.locator("#notice-job-number")).to_have_value(str(job_id))
    expect(page.locator("#notice-customers h3, #notice-customers .empty-note").first).to_be_visible()
