"""The schedule board with a finger, in Debian's Chromium at tablet size with a touch screen: a bar held still is
picked up, carried onto another technician's lane and let go there, and the job moves after the same cost preview
and confirmation as a mouse drag (HTML5 drag and drop does not start from touch on most tablets). The touches are
real touch events through the DevTools protocol (`Input.dispatchTouchEvent`), so the page sees pointer events of
type "touch", as on a tablet."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.console.conftest import LiveServer, sign_in
from tests.console.test_board import SHOTS, day_of, ensure_plan, movable_pair

pytestmark = [pytest.mark.browser, pytest.mark.timeout(400)]


def has_class(cls: str) -> Any:
    """A pattern for `to_have_class` that matches when the element has ``cls`` among its classes."""
    return re.compile(rf"(^|\s){re.escape(cls)}(\s|$)")


def finger_drag(page: Any, source: Any, lane: Any) -> None:
    """Press ``source`` with a finger, hold until the page picks it up, carry it onto ``lane`` just right of the
    technicians' names (the start of the board's hours) and lift."""
    cdp = page.context.new_cdp_session(page)
    source.scroll_into_view_if_needed()
    box = source.bounding_box()
    x, y = box["x"] + min(12, box["width"] / 2), box["y"] + box["height"] / 2
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    expect(source).to_have_class(has_class("touch-held"))  # held still: picked up (no time assumed)
    # The board scrolls both ways (a later bar scrolled the hours sideways to come into view): bring the target row
    # and the board's first hour into view, as the finger near the pane's edge (or the other hand) would.
    page.locator(".board-scroll").evaluate("e => { e.scrollLeft = 0; }")
    lane.evaluate("""e => { const pane = e.closest('.timeline-pane'); const r = e.getBoundingClientRect();
        const p = pane.getBoundingClientRect();
        if (r.top < p.top + 40 || r.bottom > p.bottom - 40) pane.scrollTop += r.top - p.top - 80; }""")
    target = lane.bounding_box()
    names = lane.evaluate("e => e.parentElement.querySelector('.tl-name').getBoundingClientRect().right")
    to_x, to_y = names + 3, target["y"] + target["height"] / 2
    for k in range(1, 9):
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [
            {"x": x + (to_x - x) * k / 8, "y": y + (to_y - y) * k / 8}]})
    expect(lane).to_have_class(has_class("drop-target"))  # the lane shows where the job would land
    assert page.locator(".touch-ghost").count() == 1  # a copy of the bar under the finger
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def test_a_bar_carried_by_a_finger_onto_another_technician_moves_the_job(
    live_server: LiveServer, page_factory: Any, output_dir: Path
) -> None:
    token = live_server.token("dispatcher")
    plan = ensure_plan(live_server, token)
    job_id, from_tech, to_tech = movable_pair(live_server, token, plan)
    page = page_factory(width=820, height=1180, touch=True)
    sign_in(page, live_server, "dispatcher")
    assert page.evaluate("() => navigator.maxTouchPoints") > 0
    bar = page.locator(f".tl-row[data-tech-id='{from_tech}'] .tl-bar[data-job-id='{job_id}']")
    bar.wait_for()
    page.wait_for_selector("#dispatch-map[data-streets]")
    to_name = page.locator(f".tl-row[data-tech-id='{to_tech}'] .tl-tech").inner_text()
    from_name = page.locator(f".tl-row[data-tech-id='{from_tech}'] .tl-tech").inner_text()
    lane = page.locator(f".tl-lane[data-tech-id='{to_tech}']")
    page.locator(".board-scroll").evaluate("e => { e.scrollLeft = 0; }")  # the board's first hour in view
    finger_drag(page, bar, lane)
    page.wait_for_selector("#confirm-assign", timeout=60_000)
    words = page.locator("#drop-words").inner_text()
    assert f"Dropped on {to_name}" in words and "first job of the day" in words and f"Taken from {from_name}" in words
    assert page.locator(".touch-ghost").count() == 0 and page.locator(".tl-lane.drop-target").count() == 0
    page.screenshot(path=SHOTS / "console-board-touch-preview.png")
    page.locator("#confirm-assign").tap()
    page.wait_for_selector(f".tl-row[data-tech-id='{to_tech}'] .tl-bar[data-job-id='{job_id}']", timeout=30_000)
    _, after = live_server.request("GET", "/plans/current", token=token)
    assert day_of(after, to_tech)[0] == job_id and job_id not in day_of(after, from_tech)
