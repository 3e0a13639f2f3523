"""Business-hours arithmetic, pure: no database, no clock.

A calendar is a time zone, working intervals per weekday in local wall time, and holidays. Every
interval is turned into UTC instants before any subtraction: Python subtracts two datetimes that
share a tzinfo as wall times, which would count the hour lost or gained at a DST change wrongly.
`None` as the calendar means 24/7."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A calendar with a year of holidays in a row still ends; one with no hours at all is refused.
MAX_DAYS = 800


class CalendarError(ValueError):
    pass


@dataclass(frozen=True)
class BusinessCalendar:
    zone: ZoneInfo
    # weekday (0 = Monday) -> sorted, non-overlapping (start, end) local times; end None = midnight
    hours: tuple[tuple[tuple[time, time | None], ...], ...]
    holidays: frozenset[date]

    @classmethod
    def from_spec(
        cls, *, timezone: str, hours: Mapping[str, Sequence[Sequence[str]]], holidays: Sequence[str] = ()
    ) -> BusinessCalendar:
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise CalendarError(f"unknown time zone {timezone!r}") from None
        unknown = sorted(set(hours) - set(WEEKDAYS))
        if unknown:
            raise CalendarError(f"unknown weekday(s) {', '.join(unknown)}; use {', '.join(WEEKDAYS)}")
        week = []
        for name in WEEKDAYS:
            intervals = []
            for pair in hours.get(name, ()):
                if len(pair) != 2:
                    raise CalendarError(f"{name}: each interval is [start, end], e.g. ['09:00', '18:00']")
                start, end = _parse_time(pair[0]), _parse_end(pair[1])
                if end is not None and end <= start:
                    raise CalendarError(f"{name}: {pair[0]}-{pair[1]} ends before it starts")
                intervals.append((start, end))
            intervals.sort(key=lambda iv: iv[0])
            for (_, end_a), (start_b, _) in zip(intervals, intervals[1:], strict=False):
                if end_a is None or end_a > start_b:
                    raise CalendarError(f"{name}: intervals overlap")
            week.append(tuple(intervals))
        if not any(week):
            raise CalendarError("a calendar needs working hours on at least one weekday")
        try:
            days = frozenset(date.fromisoformat(d) for d in holidays)
        except ValueError as exc:
            raise CalendarError(f"holidays are ISO dates (2026-01-06): {exc}") from None
        return cls(zone=zone, hours=tuple(week), holidays=days)

    def intervals_from(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working intervals in UTC that end after `start`, in order, clipped to begin at `start`."""
        day = start.astimezone(self.zone).date()
        for _ in range(MAX_DAYS):
            if day not in self.holidays:
                for opens, closes in self.hours[day.weekday()]:
                    begin = _utc(day, opens, self.zone)
                    if closes is None:
                        end = _utc(day + timedelta(days=1), time(0), self.zone)
                    else:
                        end = _utc(day, closes, self.zone)
                    if end <= start or end <= begin:
                        continue
                    yield max(begin, start), end
            day += timedelta(days=1)
        raise CalendarError(f"no working time within {MAX_DAYS} days of {start.isoformat()}")


def _parse_time(value: str) -> time:
    try:
        return time.fromisoformat(value)
    except (TypeError, ValueError):
        raise CalendarError(f"{value!r} is not a time of day (HH:MM)") from None


def _parse_end(value: str) -> time | None:
    return None if value in ("24:00", "24:00:00") else _parse_time(value)


def _utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    # A wall time in the spring-forward gap resolves with the offset before the change (fold=0).
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise CalendarError("business-time arithmetic needs timezone-aware datetimes")
    return value.astimezone(UTC)


def add_business_time(start: datetime, minutes: float, calendar: BusinessCalendar | None) -> datetime:
    """The instant `minutes` of working time after `start` (UTC). 24/7 when `calendar` is None."""
    start = _aware(start)
    remaining = timedelta(minutes=max(0.0, minutes))
    if calendar is None or not remaining:
        return start + remaining
    for begin, end in calendar.intervals_from(start):
        if remaining <= end - begin:
            return begin + remaining
        remaining -= end - begin
    raise AssertionError("intervals_from never ends without raising")  # pragma: no cover


def business_minutes_between(a: datetime, b: datetime, calendar: BusinessCalendar | None) -> float:
    """Working minutes from `a` to `b`; negative when `b` is before `a`."""
    a, b = _aware(a), _aware(b)
    if b < a:
        return -business_minutes_between(b, a, calendar)
    if calendar is None:
        return (b - a).total_seconds() / 60
    total = timedelta()
    for begin, end in calendar.intervals_from(a):
        if begin >= b:
            break
        total += min(end, b) - begin
    return total.total_seconds() / 60
