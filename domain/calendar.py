"""Deadline arithmetic: a pure function over the business calendar of the policy's pack.

Each pack names its calendar (``models.policy.BusinessCalendar``): a country's public
holidays from ``holidays`` (with a state or nation's own, e.g. AU-NSW, GB-ENG), its time zone
and close of business. China's is the official calendar (``chinesecalendar``), which also
knows the substituted working weekends (调休). For a year that calendar does not cover yet,
the statutory Chinese holidays from ``holidays`` (New Year, Spring Festival, Qingming, Labour
Day, Dragon Boat, Mid-Autumn, National Day; no bridging days, which are announced each
year) and weekends are not business days, and the deadline is flagged as estimated, so
compliance can see it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar
import holidays

from models.policy import BusinessCalendar, Policy, TimeLimit, TimeUnit

CHINA = BusinessCalendar()


@dataclass(frozen=True)
class Deadline:
    due_at: datetime
    estimated: bool


@dataclass(frozen=True)
class _Year:
    """One year of a country's (or subdivision's) calendar, immutable so threads can share it."""

    holidays: frozenset[date]
    weekend: frozenset[int]
    known: bool


@lru_cache(maxsize=256)
def _year(country: str, subdivision: str | None, year: int, observed: bool = True) -> _Year:
    table = holidays.country_holidays(country, subdiv=subdivision, years=year, observed=observed)
    known = table.start_year <= year <= table.end_year
    return _Year(holidays=frozenset(table), weekend=frozenset(table.weekend), known=known)


def is_business_day(day: date, calendar: BusinessCalendar = CHINA) -> tuple[bool, bool]:
    """(is a business day, known from the calendar rather than estimated)."""
    if calendar.country == "CN":
        try:
            return chinese_calendar.is_workday(day), True
        except NotImplementedError:
            # Statutory holidays only: the holiday arrangement for the year is not published yet.
            fallback = _year("CN", None, day.year, observed=False)
            return day.weekday() not in fallback.weekend and day not in fallback.holidays, False
    year = _year(calendar.country, calendar.subdivision, day.year)
    return day.weekday() not in year.weekend and day not in year.holidays, year.known


def add_limit(start: datetime, limit: TimeLimit, policy: Policy) -> Deadline:
    """When a limit that starts at ``start`` falls due.

    Business days: count the business days after the day of receipt on the policy's
    calendar (its pack's, see ``Policy.calendar``); due at its close of business on the last
    one, in its time zone.
    """
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    simple = {
        TimeUnit.SECONDS: timedelta(seconds=limit.amount),
        TimeUnit.MINUTES: timedelta(minutes=limit.amount),
        TimeUnit.HOURS: timedelta(hours=limit.amount),
        TimeUnit.CALENDAR_DAYS: timedelta(days=limit.amount),
    }
    if limit.unit in simple:
        return Deadline(start + simple[limit.unit], estimated=False)

    calendar = policy.calendar
    tz = ZoneInfo(calendar.timezone)
    day = start.astimezone(tz).date()
    counted, estimated = 0, False
    while counted < limit.amount:
        day += timedelta(days=1)
        business, known = is_business_day(day, calendar)
        estimated |= not known
        counted += business
    due = datetime.combine(day, calendar.close_of_business, tzinfo=tz)
    return Deadline(due, estimated)
