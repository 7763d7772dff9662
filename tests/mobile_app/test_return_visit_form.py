"""The job screen's "needs a return visit" fields read into the API's ``return_visit``: a bad day or bad minutes is
told on the screen (ValueError) and nothing is sent; blank fields are left to the server's defaults."""

from __future__ import annotations

import pytest

from mobile_app.screens.job import MAX_WORK_LEFT_MIN, return_visit


def test_reason_day_and_work_left_become_the_return_visit() -> None:
    assert return_visit(" part on order ", "2026-12-09", " 90 ") == {
        "reason": "part on order", "earliest_day": "2026-12-09", "duration_min": 90}
    assert return_visit("part on order", "", "") == {"reason": "part on order"}  # the server's defaults


@pytest.mark.parametrize("minutes", ["0", "-5", "1.5", "ninety", str(MAX_WORK_LEFT_MIN + 1)])
def test_work_left_that_is_not_whole_minutes_in_range_is_refused(minutes: str) -> None:
    with pytest.raises(ValueError, match="Work left"):
        return_visit("part on order", "", minutes)


def test_a_day_that_is_not_a_date_is_refused() -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        return_visit("part on order", "next tuesday", "90")
