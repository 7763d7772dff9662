"""Appointment pieces without a city: reading the customer's answer, the signed link, the catalogue flag, texts in
the customer's language, the windows of a day and which ones are offered."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from server.appointments import service
from server.appointments.service import Slot
from server.config import Settings
from server.core.errors import NotFound
from server.triage.service import load_taxonomy


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, secret_key="test-secret-" + "x" * 32, load_city=False,
                    timezone="America/New_York")


@pytest.mark.parametrize(("text", "choice"), [
    ("2", 2), (" 2 ", 2), ("2.", 2), ("#1", 1), ("Option 2 please", 2), ("3!", 3), ("vaihtoehto 1", 1),
    ("1\n\nOn Sat, Groundcrew wrote:\n> Reply 1 for Tue 10:00–12:00, 2 for Wed", 1),
    ("tomorrow?", None), ("", None), ("2 or 3", None), ("> 2", None), ("the 2nd one", None),
])
def test_the_answer_is_the_first_line_of_a_short_reply(text: str, choice: int | None) -> None:
    assert service.parse_choice(text) == choice


def test_a_long_message_is_not_an_answer() -> None:
    assert service.is_answer_length("2")
    assert not service.is_answer_length("Also the pressure in the kitchen has been low for a week now")


def test_the_link_is_signed_and_short_lived(settings: Settings) -> None:
    now = datetime(2026, 12, 5, 15, 0, tzinfo=UTC)
    token = service.link_token(settings, 42, now=now)
    assert service.check_token(settings, token, now=now) == 42
    appt_id, expires, sig = token.split(".")
    with pytest.raises(NotFound):  # another appointment's id under this signature
        service.check_token(settings, f"43.{expires}.{sig}", now=now)
    with pytest.raises(NotFound):  # a longer life under this signature
        service.check_token(settings, f"{appt_id}.{int(expires) + 3600}.{sig}", now=now)
    with pytest.raises(NotFound):
        service.check_token(settings, "42.x.y", now=now)
    other = Settings(data_dir=settings.data_dir, secret_key="another-secret-" + "y" * 32, load_city=False)
    with pytest.raises(NotFound):  # signed with another deployment's secret
        service.check_token(other, token, now=now)
    with pytest.raises(service.LinkExpired):
        service.check_token(settings, token, now=now + timedelta(hours=settings.appointment_link_hours, seconds=1))


def test_catalogue_flag_defaults_off_and_is_validated(tmp_path: Path) -> None:
    taxonomy = load_taxonomy()
    flagged = {c.name for c in taxonomy.categories if c.customer_present}
    assert {"no_water", "housing", "internet_outage"} <= flagged and "pothole" not in flagged
    settings = Settings(data_dir=tmp_path, load_city=False)
    assert service.customer_present_categories(settings) == flagged  # the sweep's own cheap read agrees
    assert service.needs_customer(settings, "no_water") and not service.needs_customer(settings, "pothole")
    base = ('[[category]]\nname = "meter"\nservice_code = "M1"\nskill = "water"\nfield_work = true\n'
            'keywords = ["meter"]\n')
    bad = tmp_path / "bad.toml"
    bad.write_text(base + 'customer_present = "yes"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="field 'customer_present' must be true or false"):
        load_taxonomy(bad)
    desk = tmp_path / "desk.toml"
    desk.write_text('[[category]]\nname = "bill"\nservice_code = "B1"\nfield_work = false\nkeywords = ["bill"]\n'
                    'customer_present = true\n', encoding="utf-8")
    with pytest.raises(ValueError, match="customer_present"):
        load_taxonomy(desk)


def test_offer_text_in_the_customers_language(settings: Settings) -> None:
    tz = ZoneInfo(settings.timezone)
    options = [{"n": 1, "start": datetime(2026, 12, 8, 10, tzinfo=tz).isoformat(),
                "end": datetime(2026, 12, 8, 12, tzinfo=tz).isoformat()},
               {"n": 2, "start": datetime(2026, 12, 9, 14, tzinfo=tz).isoformat(),
                "end": datetime(2026, 12, 9, 16, tzinfo=tz).isoformat()}]
    assert service.options_text(settings, options, "en") == "1 for Tue 10:00–12:00, 2 for Wed 14:00–16:00"
    assert service.options_text(settings, options, "fi") == "1, jos ti 10:00–12:00 sopii, 2, jos ke 14:00–16:00 sopii"
    assert service.options_text(settings, options, "de") == service.options_text(settings, options, None)


def test_windows_of_a_day_follow_the_shifts_and_the_lead_time(settings: Settings) -> None:
    tz = ZoneInfo(settings.timezone)
    day = date(2026, 12, 8)
    shifts = [(time(8, 0), time(17, 0)), (time(9, 30), time(18, 0))]
    windows = service.day_windows(settings, day, shifts, datetime(2026, 12, 8, 0, tzinfo=tz))
    assert [(a.hour, b.hour) for a, b in windows] == [(8, 10), (10, 12), (12, 14), (14, 16), (16, 18)]
    later = service.day_windows(settings, day, shifts, datetime(2026, 12, 8, 11, 15, tzinfo=tz))
    assert [(a.hour, b.hour) for a, b in later] == [(12, 14), (14, 16), (16, 18)]
    assert service.day_windows(settings, day, [], datetime(2026, 12, 8, tzinfo=tz)) == []


def test_offer_days_skip_days_without_visits(settings: Settings) -> None:
    friday = datetime(2026, 12, 4, 15, tzinfo=UTC)
    assert service.offer_days(settings, friday) == [date(2026, 12, 4), date(2026, 12, 7), date(2026, 12, 8)]


def test_offer_days_skip_public_holidays_and_closed_dates(settings: Settings) -> None:
    """The organisation's calendar is the planning horizon's: no visits offered on Christmas or a closed day."""
    us = settings.model_copy(update={"horizon_holidays_country": "US", "horizon_closed_dates": "2026-12-28"})
    assert service.offer_days(us, datetime(2026, 12, 24, 15, tzinfo=UTC)) == [
        date(2026, 12, 24), date(2026, 12, 29), date(2026, 12, 30)]


def test_the_cheapest_windows_are_offered_on_more_than_one_day() -> None:
    def slot(day: int, hour: int, cost: int) -> Slot:
        start = datetime(2026, 12, day, hour, tzinfo=UTC)
        return Slot(start, start + timedelta(hours=2), 1, cost, cost)

    slots = [slot(8, 10, 100), slot(8, 12, 50), slot(8, 14, 60), slot(9, 10, 400), slot(9, 14, 300)]
    chosen = service.choose(slots, 3)
    assert [(s.start.day, s.start.hour) for s in chosen] == [(8, 12), (8, 14), (9, 14)]  # in time order
    assert service.choose(slots[:1], 3) == slots[:1]
    assert service.choose([], 3) == []
