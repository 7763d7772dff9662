"""The agents' inbox in Debian's Chromium against the real demo server: search, assign (to me, to someone else, by
key), a private note that is never sent, a canned reply with the customer's name that reaches the customer's
conversation, resolve (key e) and the customer re-opening it, snooze, triage correction, the timeline, the keyboard
path with visible focus, axe-core. Screenshots docs/screenshots/inbox-*.png at 1366×768 and 820×1180 (tablet)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.console.conftest import LiveServer, axe_violations, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]  # the first test also waits for the demo server

SHOTS = ROOT / "docs" / "screenshots"


def _world(server: LiveServer) -> dict[str, Any]:
    """A customer who texted about a leaking hydrant (a case opened on it) and an admin's canned reply."""
    agent, admin = server.token("agent"), server.token("admin")
    tag = uuid.uuid4().hex[:6]
    code = f"crew-{tag}"
    status, canned = server.request("POST", "/canned-replies", token=admin, body={
        "short_code": code, "text": "Hi {{first_name}}, thanks for telling us. A crew is on the way."})
    assert status == 201, canned
    name = f"Wendy Waters {tag}"
    handle = f"+1410555{int(tag, 16) % 10000:04d}"
    status, msg = server.request("POST", "/conversations/inbound", token=agent, body={
        "channel": "sms", "external_id": f"sms-{tag}", "author_handle": handle, "author_name": name,
        "text": f"Hydrant leaking all over Boston St since this morning ({tag})"})
    assert status == 201, msg
    status, case = server.request("POST", "/cases", token=agent, body={
        "conversation_id": msg["conversation_id"], "category": "water_leak", "priority": 6, "needs_field_work": True})
    assert status == 201, case
    agents = server.request("GET", "/inbox/agents", token=agent)[1]
    return {"tag": tag, "name": name, "handle": handle, "conversation_id": msg["conversation_id"],
            "case_id": case["id"],
            "canned_id": canned["id"], "agent": agent, "me": next(a for a in agents if a["username"] == "agent"),
            "admin_user": next(a for a in agents if a["username"] == "admin"), "external_id": f"sms-{tag}"}


def _conversation(server: LiveServer, world: dict[str, Any]) -> dict[str, Any]:
    status, body = server.request("GET", f"/conversations/{world['conversation_id']}", token=world["agent"])
    assert status == 200, body
    return body


def _until(check: Any, what: str, timeout_s: float = 15.0) -> Any:
    """Poll the server until ``check()`` is truthy (the page's request may land a moment after the click)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        time.sleep(0.2)


def _dismiss_notices(page: Any) -> None:
    """Close the "Assigned to you"-style notices so the screenshot shows the page under them."""
    page.locator(".notice button.link").evaluate_all("bs => bs.forEach(b => b.click())")


def _open_row(page: Any, world: dict[str, Any]) -> Any:
    return page.locator(f".inbox-row[data-conversation-id='{world['conversation_id']}']")


def test_agent_works_a_conversation_in_the_inbox(live_server: LiveServer, page_factory: Any, axe_source: str) -> None:
    world = _world(live_server)
    cid = world["conversation_id"]
    page = page_factory(width=1366, height=768)
    sign_in(page, live_server, "agent")
    page.wait_for_selector(".inbox-tab[aria-selected='true']#inbox-tab-open")
    # Search by name finds exactly this customer; by the message's words too.
    page.locator("#inbox-search").fill(world["name"])
    page.wait_for_function("n => [...document.querySelectorAll('.inbox-row')].length === 1 && "
                           "document.querySelector('.inbox-row').innerText.includes(n)", arg=world["name"])
    page.locator("#inbox-search").fill(f"boston st since this morning ({world['tag']})")
    page.wait_for_function("id => [...document.querySelectorAll('.inbox-row')].map(b => b.dataset.conversationId)"
                           ".join() === String(id)", arg=cid)
    row = _open_row(page, world)
    assert "reply due in" in row.locator(".sla-badge").inner_text()  # the first-response timer runs
    assert "unassigned" in row.inner_text()
    row.click()
    page.wait_for_selector("#case-panel")
    page.wait_for_selector("#assign-me")

    # Assign to me, then to someone else from the picker.
    page.locator("#assign-me").click()
    _until(lambda: _conversation(live_server, world)["assignee_user_id"] == world["me"]["id"], "assigned to me")
    page.wait_for_function("() => document.querySelector('.inbox-row .badge.assignee')?.innerText.includes('Alex')")
    page.locator("#assign-select").select_option(str(world["admin_user"]["id"]))
    _until(lambda: _conversation(live_server, world)["assignee_user_id"] == world["admin_user"]["id"], "assigned on")
    page.wait_for_function("() => document.querySelector('.inbox-row .badge.assignee')?.innerText.includes('Avery')")

    # A private note: shown apart in the thread, never queued or sent.
    page.locator("#mode-note").check()
    page.locator("#reply-text").fill("Landlord called about this one too.")
    assert page.locator("#reply-send").inner_text() == "Add private note"
    page.locator("#reply-send").click()
    page.wait_for_selector(".msg-note:has-text('Landlord called about this one too.')")
    assert "not sent to the customer" in page.locator(".msg-note").last.inner_text()
    thread = _conversation(live_server, world)["messages"]
    note = [m for m in thread if m["text"] == "Landlord called about this one too."]
    assert [(m["direction"], m["delivery_status"]) for m in note] == [("note", "recorded")]
    assert not [m for m in thread if m["direction"] == "outbound" and "Landlord" in m["text"]]

    # A canned reply with the customer's first name, sent on the customer's channel and seen in their thread.
    page.locator("#mode-reply").check()
    page.locator("#canned-picker").select_option(str(world["canned_id"]))
    first = world["name"].split()[0]
    expected = f"Hi {first}, thanks for telling us. A crew is on the way."
    assert page.locator("#reply-text").input_value() == expected
    page.locator("#reply-send").click()
    page.wait_for_selector(f".msg-outbound:has-text('{expected}')")
    sent = _until(lambda: [m for m in _conversation(live_server, world)["messages"]
                           if m["text"] == expected and m["delivery_status"] != "queued"], "the reply delivered")
    assert sent[0]["direction"] == "outbound" and sent[0]["channel"] == "sms"
    assert sent[0]["delivery_status"] in ("recorded", "sent", "delivered")
    # Answered: no first-response timer any more.
    page.wait_for_function("id => !document.querySelector(`.inbox-row[data-conversation-id='${id}'] .sla-badge`)",
                           arg=cid)

    # Triage correction from the inbox: a real category, stored on the case (and in the audit the model learns from).
    _, categories = live_server.request("GET", "/inbox/categories", token=world["agent"])
    target = next(c["name"] for c in categories if c["field_work"] and c["name"] != "water_leak")
    page.locator("#triage-category").select_option(target)
    page.locator("#triage-save").click()
    _until(lambda: live_server.request("GET", f"/cases/{world['case_id']}", token=world["agent"])[1]["category"]
           == target, "category corrected")

    # The customer's timeline across channels, with the note marked and links back to the conversation.
    page.wait_for_selector("#customer-timeline .tl-note")
    timeline = page.locator("#customer-timeline").inner_text()
    assert "Private note by" in timeline and expected in timeline
    _dismiss_notices(page)
    page.screenshot(path=SHOTS / "inbox-conversation-1366x768.png")

    # Keyboard: Esc from the search box goes back to the open conversation's row, which shows a visible outline;
    # `a` assigns to me, `e` resolves.
    page.locator("#inbox-search").focus()
    page.keyboard.press("Escape")
    assert page.evaluate("() => document.activeElement.dataset.conversationId") == str(cid)
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert page.evaluate("() => document.activeElement.classList.contains('inbox-row')") and outline != "none"
    page.keyboard.press("a")
    _until(lambda: _conversation(live_server, world)["assignee_user_id"] == world["me"]["id"], "assigned by key")
    page.keyboard.press("e")
    _until(lambda: _conversation(live_server, world)["status"] == "resolved", "resolved by key e")
    page.wait_for_selector("#conversation #reopen")  # the open conversation shows it resolved, not a stale draw
    assert not page.locator("#conversation #resolve").count()
    page.locator("#inbox-tab-resolved").click()
    page.wait_for_selector(f".inbox-row[data-conversation-id='{cid}'][data-status='resolved']")
    _dismiss_notices(page)
    page.screenshot(path=SHOTS / "inbox-resolved-tab-1366x768.png")

    # The customer writes again: the conversation re-opens with a timer.
    status, again = live_server.request("POST", "/conversations/inbound", token=world["agent"], body={
        "channel": "sms", "external_id": f"sms-{world['tag']}-2", "author_handle": world["handle"],
        "text": "It is getting worse, the street is flooding", "reply_to_external_id": world["external_id"]})
    assert status == 201 and again["conversation_id"] == cid
    assert _conversation(live_server, world)["status"] == "open"
    page.locator("#inbox-tab-open").click()
    page.wait_for_selector(f".inbox-row[data-conversation-id='{cid}'] .sla-badge")

    # Snooze for an hour from the toolbar: gone from Open, listed under Snoozed with its time.
    _open_row(page, world).click()
    page.wait_for_selector("#snooze-select")
    page.locator("#snooze-select").select_option("1h")
    snoozed = _until(lambda: (c := _conversation(live_server, world))["status"] == "snoozed" and c, "snoozed")
    until = datetime.fromisoformat(snoozed["snoozed_until"])
    assert 3000 < (until - datetime.now(UTC)).total_seconds() <= 3600
    page.wait_for_function("id => !document.querySelector(`.inbox-row[data-conversation-id='${id}']`)", arg=cid)
    page.locator("#inbox-tab-snoozed").click()
    page.wait_for_selector(f".inbox-row[data-conversation-id='{cid}'][data-status='snoozed']")
    assert "snoozed until" in _open_row(page, world).inner_text()

    violations = axe_violations(page, axe_source)
    assert not violations, violations


def test_keyboard_moves_between_conversations(live_server: LiveServer, page_factory: Any) -> None:
    page = page_factory(width=1366, height=768)
    sign_in(page, live_server, "agent")
    page.locator("#inbox-attention").uncheck()
    page.wait_for_function("() => document.querySelectorAll('.inbox-row').length >= 3")
    # The list redraws when a live event arrives (earlier tests' replies are still being delivered): read it once it
    # has stood still for a second, so the rows the keys move over are the rows on screen.
    ids = None
    for _ in range(30):
        now = page.locator(".inbox-row").evaluate_all("els => els.map(e => e.dataset.conversationId)")
        if now == ids:
            break
        ids = now
        page.wait_for_timeout(1000)
    page.locator(".inbox-row").first.focus()
    page.keyboard.press("j")
    page.wait_for_selector(f".inbox-row.selected[data-conversation-id='{ids[0]}']")
    page.keyboard.press("j")
    page.wait_for_selector(f".inbox-row.selected[data-conversation-id='{ids[1]}']")
    assert page.evaluate("() => document.activeElement.dataset.conversationId") == ids[1]
    page.keyboard.press("ArrowDown")
    page.wait_for_selector(f".inbox-row.selected[data-conversation-id='{ids[2]}']")
    page.keyboard.press("k")
    page.wait_for_selector(f".inbox-row.selected[data-conversation-id='{ids[1]}']")
    page.wait_for_selector("#reply-text")
    page.keyboard.press("r")  # reply: focus goes to the reply box, and typing there is not a shortcut
    assert page.evaluate("() => document.activeElement.id") == "reply-text"
    page.keyboard.type("je")
    assert page.locator("#reply-text").input_value() == "je"
    page.keyboard.press("Escape")
    assert page.evaluate("() => document.activeElement.dataset.conversationId") == ids[1]
    page.keyboard.press("/")
    assert page.evaluate("() => document.activeElement.id") == "inbox-search"


def test_inbox_on_a_tablet(live_server: LiveServer, page_factory: Any, axe_source: str) -> None:
    world = _world(live_server)
    page = page_factory(width=820, height=1180)
    sign_in(page, live_server, "agent")
    page.goto(f"{live_server.url}/#/inbox/{world['conversation_id']}")
    page.reload()
    page.wait_for_selector("#case-panel")
    page.wait_for_selector("#customer-timeline")
    page.wait_for_selector(".inbox-row")
    # Nothing is wider than the screen: the panes stack, and long canned replies do not widen the reply form.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 820
    page.wait_for_function("() => document.querySelectorAll('#canned-picker option').length > 1")
    picker, form = page.locator("#canned-picker").bounding_box(), page.locator("form.reply").bounding_box()
    assert picker["x"] + picker["width"] <= form["x"] + form["width"] + 1
    page.screenshot(path=SHOTS / "inbox-tablet-820x1180.png")
    page.screenshot(path=SHOTS / "inbox-tablet-820x1180-full.png", full_page=True)
    violations = axe_violations(page, axe_source)
    assert not violations, violations
