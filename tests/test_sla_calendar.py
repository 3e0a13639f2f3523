"""Business-hours arithmetic: weekends, holidays, split shifts, DST in Europe/Madrid, 24/7."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cuida.sla.calendar import BusinessCalendar, CalendarError, add_business_time, business_minutes_between

MADRID = ZoneInfo("Europe/Madrid")
WEEKDAYS_9_18 = {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


def office(**extra: object) -> BusinessCalendar:
    return BusinessCalendar.from_spec(timezone="Europe/Madrid", hours=WEEKDAYS_9_18, **extra)  # type: ignore[arg-type]


def madrid(*args: int) -> datetime:
    return datetime(*args, tzinfo=MADRID)  # type: ignore[misc]


def test_without_a_calendar_time_runs_24_7():
    start = datetime(2026, 3, 7, 23, 30, tzinfo=UTC)  # a Saturday night
    assert add_business_time(start, 90, None) == start + timedelta(minutes=90)
    assert business_minutes_between(start, start + timedelta(days=2), None) == 2 * 24 * 60


def test_within_one_working_day():
    assert add_business_time(madrid(2026, 3, 2, 10, 0), 120, office()) == madrid(2026, 3, 2, 12, 0)
    assert business_minutes_between(madrid(2026, 3, 2, 10), madrid(2026, 3, 2, 12), office()) == 120


def test_start_outside_hours_counts_from_the_next_opening():
    cal = office()
    assert add_business_time(madrid(2026, 3, 2, 7, 0), 30, cal) == madrid(2026, 3, 2, 9, 30)
    assert add_business_time(madrid(2026, 3, 2, 19, 0), 30, cal) == madrid(2026, 3, 3, 9, 30)
    assert business_minutes_between(madrid(2026, 3, 2, 18, 0), madrid(2026, 3, 3, 9, 0), cal) == 0


def test_weekends_are_skipped():
    cal = office()
    friday_5pm = madrid(2026, 3, 6, 17, 0)
    assert add_business_time(friday_5pm, 120, cal) == madrid(2026, 3, 9, 10, 0)
    assert business_minutes_between(friday_5pm, madrid(2026, 3, 9, 10, 0), cal) == 120
    # Starting on a Saturday waits for Monday.
    assert add_business_time(madrid(2026, 3, 7, 12, 0), 60, cal) == madrid(2026, 3, 9, 10, 0)


def test_holidays_are_skipped():
    cal = office(holidays=["2026-01-06"])  # Reyes, a Tuesday
    assert add_business_time(madrid(2026, 1, 5, 17, 0), 120, cal) == madrid(2026, 1, 7, 10, 0)
    assert business_minutes_between(madrid(2026, 1, 5, 9), madrid(2026, 1, 8, 9), cal) == 2 * 540


def test_multi_day_spans_end_at_closing_time_exactly():
    cal = office()
    monday = madrid(2026, 3, 2, 9, 0)
    assert add_business_time(monday, 3 * 540, cal) == madrid(2026, 3, 4, 18, 0)
    assert add_business_time(monday, 10 * 540 + 1, cal) == madrid(2026, 3, 16, 9, 1)  # two weeks on
    assert business_minutes_between(monday, madrid(2026, 3, 16, 9, 1), cal) == 10 * 540 + 1


def test_split_shifts():
    cal = BusinessCalendar.from_spec(
        timezone="Europe/Madrid", hours={"mon": [["16:00", "19:00"], ["09:00", "14:00"]]}
    )
    assert add_business_time(madrid(2026, 3, 2, 13, 0), 120, cal) == madrid(2026, 3, 2, 17, 0)
    assert add_business_time(madrid(2026, 3, 2, 18, 0), 120, cal) == madrid(2026, 3, 9, 10, 0)
    assert business_minutes_between(madrid(2026, 3, 2, 8), madrid(2026, 3, 3, 8), cal) == 8 * 60


def test_dst_spring_forward_in_madrid():
    # 2026-03-29 02:00 CET jumps to 03:00 CEST; office hours are wall-clock hours on both sides.
    cal = office()
    friday = madrid(2026, 3, 27, 17, 0)
    due = add_business_time(friday, 120, cal)
    assert due == madrid(2026, 3, 30, 10, 0)
    assert due.astimezone(UTC) == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)  # CEST is UTC+2
    assert business_minutes_between(madrid(2026, 3, 27, 9), madrid(2026, 3, 30, 9), cal) == 540
    # A round-the-clock calendar counts the 23 real hours of that Sunday, not 24.
    always = BusinessCalendar.from_spec(timezone="Europe/Madrid", hours={"sun": [["00:00", "24:00"]]})
    assert business_minutes_between(madrid(2026, 3, 29, 0), madrid(2026, 3, 30, 0), always) == 23 * 60
    assert add_business_time(madrid(2026, 3, 29, 0), 23 * 60, always) == madrid(2026, 3, 30, 0)


def test_dst_fall_back_in_madrid():
    always = BusinessCalendar.from_spec(timezone="Europe/Madrid", hours={"sun": [["00:00", "24:00"]]})
    assert business_minutes_between(madrid(2026, 10, 25, 0), madrid(2026, 10, 26, 0), always) == 25 * 60
    # Office hours on the Monday after the change are 09:00 CET = 08:00 UTC.
    due = add_business_time(madrid(2026, 10, 23, 18, 0), 60, office())
    assert due.astimezone(UTC) == datetime(2026, 10, 26, 9, 0, tzinfo=UTC)


def test_adding_then_measuring_gives_back_the_minutes():
    cal = office(holidays=["2026-03-19"])
    start = madrid(2026, 3, 1, 0, 0)
    for step in range(0, 24 * 40, 7):  # starts every 7 hours, over DST and a holiday
        begin = start + timedelta(hours=step)
        for minutes in (1, 59, 540, 541, 2000):
            due = add_business_time(begin, minutes, cal)
            assert business_minutes_between(begin, due, cal) == pytest.approx(minutes)
            assert business_minutes_between(due, begin, cal) == pytest.approx(-minutes)


def test_zero_minutes_is_the_start_itself():
    saturday = madrid(2026, 3, 7, 12, 0)
    assert add_business_time(saturday, 0, office()) == saturday


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"timezone": "Mars/Olympus", "hours": WEEKDAYS_9_18}, "unknown time zone"),
        ({"timezone": "UTC", "hours": {}}, "at least one weekday"),
        ({"timezone": "UTC", "hours": {"lun": [["09:00", "18:00"]]}}, "unknown weekday"),
        ({"timezone": "UTC", "hours": {"mon": [["18:00", "09:00"]]}}, "ends before it starts"),
        ({"timezone": "UTC", "hours": {"mon": [["09:00", "14:00"], ["13:00", "18:00"]]}}, "overlap"),
        ({"timezone": "UTC", "hours": {"mon": [["9h", "18:00"]]}}, "not a time of day"),
        ({"timezone": "UTC", "hours": WEEKDAYS_9_18, "holidays": ["6 de enero"]}, "ISO dates"),
    ],
)
def test_bad_calendars_are_refused_with_the_reason(spec, message):
    with pytest.raises(CalendarError, match=message):
        BusinessCalendar.from_spec(**spec)


def test_naive_datetimes_are_refused():
    with pytest.raises(CalendarError, match="timezone-aware"):
        add_business_time(datetime(2026, 3, 2, 9, 0), 10, office())
