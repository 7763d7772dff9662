"""axe-core (the npm package, test-only: tests/console/a11y) in Debian's Chromium on the console's three views, with
the schedule board, a dialog and the inbox's conversation open: no serious or critical violation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.console.conftest import LiveServer, assignable, axe_violations, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


def _check(page: Any, axe_source: str, where: str, output_dir: Path) -> None:
    found = axe_violations(page, axe_source)
    (output_dir / f"axe-{where}.json").write_text(json.dumps(found, indent=2))
    assert not found, f"{where}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}" for v in found)


def test_dispatch_inbox_and_operations_have_no_serious_axe_violations(
    live_server: LiveServer, page_factory: Any, axe_source: str, output_dir: Path
) -> None:
    token = live_server.token("dispatcher")
    _, plan = live_server.request("GET", "/plans/current", token=token)
    if not plan or not plan.get("stops"):  # a board with bars, not an empty one
        job_id, tech_id = assignable(live_server, token)
        status, body = live_server.request("POST", "/dispatch/overrides/commit", token=token,
                                           body={"action": "assign", "job_id": job_id, "technician_id": tech_id})
        assert status == 200, body
    page = page_factory()
    sign_in(page, live_server, "dispatcher")
    page.wait_for_selector(".queue-item")
    page.wait_for_selector(".tl-bar")
    page.wait_for_selector("#dispatch-map[data-streets]")
    _check(page, axe_source, "dispatch", output_dir)
    # A bar selected (the selection bar) and the assign dialog open.
    page.locator(".tl-bar").first.click()
    page.wait_for_selector("#board-selection #details-selected")
    page.locator(".queue-item").first.get_by_role("button", name="Assign…").click()
    page.wait_for_selector("#recommendations h3, #recommendations .inline-error", timeout=60_000)
    _check(page, axe_source, "dispatch-dialog", output_dir)
    page.keyboard.press("Escape")
    page.wait_for_selector("dialog", state="detached")

    page.get_by_role("link", name="Inbox").click()
    page.wait_for_selector(".inbox-row")
    page.locator(".inbox-row").first.click()
    page.wait_for_selector(".msg-text")
    _check(page, axe_source, "inbox", output_dir)

    page.get_by_role("link", name="Operations").click()
    page.wait_for_selector("#chart-status")
    page.wait_for_selector("#card-utilization")
    _check(page, axe_source, "operations", output_dir)


def test_axe_finds_what_it_should(live_server: LiveServer, page_factory: Any, axe_source: str) -> None:
    """The check can fail: a button with no name and grey-on-grey text are reported."""
    page = page_factory()
    sign_in(page, live_server, "dispatcher")
    page.wait_for_selector(".queue-item")
    page.evaluate("""() => { const b = document.createElement('button'); b.id = 'nameless';
        document.body.append(b); const p = document.createElement('p'); p.textContent = 'faint';
        p.style.color = '#ddd'; p.style.background = '#fff'; document.body.append(p); }""")
    ids = {v["id"] for v in axe_violations(page, axe_source)}
    assert {"button-name", "color-contrast"} <= ids
