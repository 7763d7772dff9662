"""Leaving the dispatch view at once after signing in. The view's map (a Leaflet canvas) was removed while its job
markers, the service area and the street lines were still arriving or animating; a redraw then ran on the removed
canvas and the page threw "Cannot read properties of undefined (reading 'clearRect')" (a moveend during or after the
map's removal redrew the job markers). The test signs in, goes to dispatch and leaves at once, as a dispatcher who
meant another view would."""

from __future__ import annotations

from typing import Any

import pytest

from tests.console.conftest import LiveServer, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


def test_leaving_dispatch_right_after_sign_in_throws_nothing(live_server: LiveServer, page_factory: Any) -> None:
    page = page_factory()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    sign_in(page, live_server, "dispatcher")
    page.wait_for_selector("#dispatch-map")
    page.get_by_role("link", name="Operations").click()
    page.wait_for_selector("main.view-operations")
    page.wait_for_load_state("networkidle")  # what the dispatch view asked for has arrived (after it was left)
    page.wait_for_timeout(1500)
    assert page.js_errors == []
    assert [c for c in console if "clearRect" in c or "leaflet" in c.lower()] == []
    # Back once more: the view mounts again and draws its map, streets and jobs.
    page.get_by_role("link", name="Dispatch").click()
    page.wait_for_selector("#dispatch-map[data-streets][data-jobs]", timeout=60_000)
    page.get_by_role("link", name="Operations").click()
    page.wait_for_selector("main.view-operations")
    page.wait_for_timeout(1000)
    assert page.js_errors == []
