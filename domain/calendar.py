"""Deadline arithmetic: a pure function over an official business calendar.

China's calendar (``chinesecalendar``) knows public holidays and the substituted working
weekends (调休). For a year it does not cover yet, weekdays count as business days and the
deadline is flagged as estimated, so compliance can see it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

from models.policy import Policy, TimeLimit, TimeUnit


@dataclass(frozen=True)
class Deadline:
    due_at: datetime
    estimated: bool


def is_business_day(day: date, calendar: str = "CN") -> tuple[bool, bool]:
    """(is a business day, known from the official calendar)."""
    if calendar != "CN":
        raise ValueError(f"business_calendar: no calendar for {calendar!r}")
    try:
        return chinese_calendar.is_workday(day), True
    except NotImplementedError:
        return day.weekday() < 5, False


def add_limit(start: datetime, limit: TimeLimit, policy: Policy) -> Deadline:
    """When a limit that starts at ``start`` falls due.

    Business days: count the business days after the day of receipt; due at close of
    business (policy ``business_day_close``) on the last one, in the policy's time zone.
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

    tz = ZoneInfo(policy.timezone)
    day = start.astimezone(tz).date()
    counted, estimated = 0, False
    while counted < limit.amount:
        day += timedelta(days=1)
        business, known = is_business_day(day, policy.business_calendar)
        estimated |= not known
        counted += business
    due = datetime.combine(day, policy.business_day_close, tzinfo=tz)
    return Deadline(due, estimated)
