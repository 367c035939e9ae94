"""Pure rules of customer education (step 5): the months around an action, and whether the
topic's complaints fell after it.

An action held on ``held_on`` is compared month by month, anchored on its day: the
``months`` months before it (the last ending the day before) against as many after it (the
first starting on the day itself). A month after the action counts only once it has ended by
``as_of``; a comparison per month uses as many whole months after as have passed, so an action
two months old is judged on two months, and one not a month old is "too early".
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from models.education import Effect

Window = tuple[date, date]  # [first day, day after the last)


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (or earlier), the month's last day if it has no such day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def windows(held_on: date, months: int) -> tuple[list[Window], list[Window]]:
    """The months before the action (oldest first) and after it, each as [first day, day after)."""
    before = [(add_months(held_on, -i), add_months(held_on, -i + 1)) for i in range(months, 0, -1)]
    after = [(add_months(held_on, i), add_months(held_on, i + 1)) for i in range(months)]
    return before, after


def ended(after: list[Window], as_of: date) -> list[Window]:
    """The months after the action that have ended by the end of ``as_of``."""
    return [w for w in after if w[1] <= as_of + timedelta(days=1)]


def effect(before: list[int], after: list[int], months: int) -> Effect:
    """Complaints per month before against after (only the whole months passed), in percent."""
    before_rate = sum(before) / months
    after_rate = sum(after) / len(after) if after else None
    change: float | None = None
    if after_rate is None:
        verdict = "too early"
    elif before_rate == 0:
        verdict = "no complaints before"
    else:
        change = round(100.0 * (after_rate - before_rate) / before_rate, 1)
        verdict = "fell" if change < 0 else "rose" if change > 0 else "unchanged"
    return Effect(
        months=months,
        before=before,
        after=after,
        before_per_month=round(before_rate, 2),
        after_per_month=None if after_rate is None else round(after_rate, 2),
        change_percent=change,
        verdict=verdict,
    )
