"""Administration › Appointments (issue 30, dispatcher control) in Debian's Chromium against the demo server: the
catalogue screen points to it; a window length, the days ahead, a service switched off and a blackout range are set
with the keyboard; a bad window length and a blackout that ends before it starts are refused beside their fields
(the server's 422); the saved policy is what GET /appointments/policy then returns, and the audit log has the change.
Screenshot at 1366×768: docs/screenshots/admin-booking-policy.png."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.console.conftest import PASSWORD, LiveServer, axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

SHOT = ROOT / "docs" / "screenshots" / "admin-booking-policy.png"
URL = "/appointments/policy"


@pytest.fixture
def restore_policy(live_server: LiveServer) -> Iterator[dict[str, Any]]:
    """The policy as the test found it, put back afterwards (the session's server is shared with other tests)."""
    token = live_server.token("admin")
    status, before = live_server.request("GET", URL, token=token)
    assert status == 200, before
    yield before
    _, now = live_server.request("GET", URL, token=token)
    body = {k: before[k] for k in ("window_min", "offer_count", "days", "lead_min", "blackouts")}
    body["services"] = {s["name"]: s["override"] for s in before["services"] if s["override"] is not None}
    status, _ = live_server.request("PUT", URL, token=token, body={**body, "version": now["version"]})
    assert status == 200


def sign_in_to(page: Any, server: LiveServer, screen: str) -> None:
    page.goto(f"{server.url}/#/admin/{screen}")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector(f"#admin-{screen} .adm-pane, #admin-{screen} .adm-split")


def test_booking_policy_is_set_in_the_console_and_the_api_reflects_it(live_server: LiveServer, page_factory: Any,
                                                                      restore_policy: dict[str, Any],
                                                                      axe_source: str) -> None:
    token = live_server.token("admin")
    before = restore_policy
    present = [s for s in before["services"] if s["field_work"] and s["offers_slots"]]
    assert present, "the demo catalogue has no service that books the customer"
    service = present[0]
    first = date.today() + timedelta(days=40)
    last = first + timedelta(days=2)

    page = page_factory()
    # The catalogue screen says where booking is controlled, and its link opens the screen.
    sign_in_to(page, live_server, "catalogue")
    page.locator("#catalogue-booking-link").get_by_role("link", name="Appointments").click()
    page.wait_for_selector("#booking-form")
    assert page.locator(".admin-nav a[aria-current='page']").inner_text() == "Appointments"

    form = page.locator("#booking-form")
    window = form.get_by_label("Window length (minutes)")
    assert window.get_attribute("placeholder") == str(before["defaults"]["window_min"])
    window.fill("100")  # not whole quarter hours: refused by the server, named beside the field
    form.get_by_label("Working days ahead (today included)").fill("4")
    # The service's switch, by keyboard: focus it and press Space.
    switch = page.get_by_role("switch", name=f"Offer arrival windows for {service['label']}")
    assert switch.is_checked()
    switch.focus()
    page.keyboard.press("Space")
    assert not switch.is_checked()
    row = page.locator(f"#booking-services tr[data-service='{service['name']}']")
    assert "changed from the catalogue" in row.inner_text()
    # Blackout days: a range with a reason added with Enter, and one that ends before it starts.
    page.get_by_label("First day").fill(first.isoformat())
    page.get_by_label("Last day (optional)").fill(last.isoformat())
    page.get_by_label("Reason (optional)").fill("holidays")
    page.get_by_label("Reason (optional)").press("Enter")
    page.get_by_label("First day").fill((first + timedelta(days=20)).isoformat())
    page.get_by_label("Last day (optional)").fill((first + timedelta(days=18)).isoformat())
    page.locator("#add-blackout").click()
    assert page.locator("#blackout-list li").count() == len(before["blackouts"]) + 2
    page.locator("#save-booking").click()

    window_error = page.locator("#booking-form .field[data-field='window_min'] .field-error")
    window_error.wait_for()
    assert "multiple of 15" in window_error.inner_text()
    assert window.get_attribute("aria-invalid") == "true"
    blackout_error = page.locator("#booking-form [id^='adm-blackouts-error']")
    assert "is before the first day" in blackout_error.inner_text()
    bad = first + timedelta(days=20)
    assert page.locator("#blackout-list li.has-error").get_attribute("data-first-day") == bad.isoformat()
    assert live_server.request("GET", URL, token=token)[1]["version"] == before["version"]  # nothing stored

    # Fixed: the bad range removed with its own button, a whole-quarter-hour length, saved with Enter.
    page.locator(f"#blackout-list li[data-first-day='{bad.isoformat()}'] button").click()
    window.fill("90")
    window.press("Enter")
    page.wait_for_selector(".notice-ok")
    page.locator("#booking-status", has_text="version").wait_for()

    _, after = live_server.request("GET", URL, token=token)
    assert after["version"] == before["version"] + 1
    assert (after["window_min"], after["days"]) == (90, 4)
    assert after["effective"]["window_min"] == 90 and after["effective"]["days"] == 4
    assert {s["name"]: s for s in after["services"]}[service["name"]]["offers_slots"] is False
    assert {"first_day": first.isoformat(), "last_day": last.isoformat(), "reason": "holidays"} in after["blackouts"]
    assert not any(b["first_day"] == bad.isoformat() for b in after["blackouts"])
    _, audit = live_server.request("GET", "/audit?entity=booking_policy", token=token)
    assert audit["items"][0]["detail"]["changes"]["window_min"]["to"] == 90

    # The screen shows what was stored: the switch off, the range listed, the saved version.
    assert not page.get_by_role("switch", name=f"Offer arrival windows for {service['label']}").is_checked()
    assert page.locator(f"#blackout-list li[data-first-day='{first.isoformat()}']").inner_text().count("holidays") == 1
    assert window.input_value() == "90"
    assert axe_violations(page, axe_source) == []
    page.locator(".notice-ok").get_by_role("button", name="Dismiss message").click()  # it covers the title
    page.screenshot(path=SHOT)

    # On a tablet (820 px wide) the screen is one column without sideways scrolling.
    tablet = page_factory(width=820, height=1180)
    sign_in_to(tablet, live_server, "appointments")
    tablet.wait_for_selector("#booking-services")
    assert tablet.evaluate("document.documentElement.scrollWidth") <= 820
