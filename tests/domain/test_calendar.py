"""Deadline arithmetic over China's official calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from complaints.config import PROJECT_ROOT
from domain.calendar import add_limit, is_business_day
from domain.policy import load_policy
from models.policy import TimeLimit, TimeUnit

SHANGHAI = ZoneInfo("Asia/Shanghai")
POLICY = load_policy(PROJECT_ROOT / "policies" / "standard.yaml")


def business_days(n: int) -> TimeLimit:
    return TimeLimit(amount=n, unit=TimeUnit.BUSINESS_DAYS)


def test_complex_complaint_before_national_day_counts_the_working_saturday() -> None:
    # 1-7 Oct 2026 is the National Day holiday; Saturday 10 Oct is a substituted working day (调休).
    received = datetime(2026, 9, 30, 16, 20, tzinfo=SHANGHAI)
    due = add_limit(received, business_days(5), POLICY)
    # 8 Oct, 9 Oct, Sat 10 Oct, 12 Oct, 13 Oct.
    assert due.due_at == datetime(2026, 10, 13, 18, 0, tzinfo=SHANGHAI)
    assert not due.estimated


def test_business_days_are_counted_in_the_policy_time_zone() -> None:
    # 17:00 UTC on Friday is already Saturday 01:00 in Shanghai.
    received = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)
    due = add_limit(received, business_days(1), POLICY)
    assert due.due_at == datetime(2026, 11, 30, 18, 0, tzinfo=SHANGHAI)


def test_hours_and_calendar_days_ignore_the_calendar() -> None:
    received = datetime(2026, 9, 30, 16, 20, tzinfo=SHANGHAI)
    assert add_limit(received, TimeLimit(amount=24, unit=TimeUnit.HOURS), POLICY).due_at == received + timedelta(
        hours=24
    )
    assert add_limit(received, TimeLimit(amount=15, unit=TimeUnit.CALENDAR_DAYS), POLICY).due_at == datetime(
        2026, 10, 15, 16, 20, tzinfo=SHANGHAI
    )


def test_a_year_the_official_calendar_does_not_cover_is_flagged_estimated() -> None:
    received = datetime(2026, 12, 30, 9, 0, tzinfo=SHANGHAI)
    due = add_limit(received, business_days(5), POLICY)
    assert due.estimated
    assert due.due_at.weekday() < 5


@pytest.mark.parametrize(
    ("day", "business"),
    [("2026-10-01", False), ("2026-10-10", True), ("2026-10-11", False), ("2026-10-12", True)],
)
def test_official_calendar(day: str, business: bool) -> None:
    assert is_business_day(datetime.fromisoformat(day).date()) == (business, True)


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^start must be timezone-aware$"):
        add_limit(datetime(2026, 10, 1), business_days(1), POLICY)


def test_the_day_of_receipt_is_the_policy_time_zones_day() -> None:
    # 17:00 UTC on Thursday 26 Nov is already Friday 27 Nov, 01:00, in Shanghai: the day of
    # receipt is the Friday, so one business day later is Monday 30 Nov (counting from the UTC
    # date, Thursday, would give Friday 27 Nov).
    received = datetime(2026, 11, 26, 17, 0, tzinfo=UTC)
    due = add_limit(received, business_days(1), POLICY)
    assert due.due_at == datetime(2026, 11, 30, 18, 0, tzinfo=SHANGHAI)
    assert due.due_at.tzinfo == SHANGHAI and not due.estimated
    # A minute before midnight in Shanghai it is still Thursday there: due on Friday.
    assert add_limit(datetime(2026, 11, 26, 15, 59, tzinfo=UTC), business_days(1), POLICY).due_at == datetime(
        2026, 11, 27, 18, 0, tzinfo=SHANGHAI
    )


def test_a_limit_in_seconds_to_calendar_days_is_never_estimated() -> None:
    received = datetime(2030, 1, 5, 9, 0, tzinfo=SHANGHAI)  # a year the official calendar does not cover
    for unit in (TimeUnit.SECONDS, TimeUnit.MINUTES, TimeUnit.HOURS, TimeUnit.CALENDAR_DAYS):
        assert not add_limit(received, TimeLimit(amount=2, unit=unit), POLICY).estimated


@pytest.mark.parametrize(("day", "business"), [("2030-01-04", True), ("2030-01-05", False), ("2030-01-06", False)])
def test_outside_the_official_calendar_weekdays_are_business_days(day: str, business: bool) -> None:
    assert is_business_day(date.fromisoformat(day)) == (business, False)


def test_a_deadline_that_spans_days_the_calendar_does_not_know_is_estimated() -> None:
    # The calendar starts in 2004: Wed 31 Dec 2003 is unknown, the days after it are known.
    received = datetime(2003, 12, 30, 9, 0, tzinfo=SHANGHAI)
    due = add_limit(received, business_days(2), POLICY)
    assert due.due_at == datetime(2004, 1, 2, 18, 0, tzinfo=SHANGHAI)  # 31 Dec (estimated), 1 Jan holiday, 2 Jan
    assert due.estimated


def test_the_policys_business_calendar_is_the_one_used() -> None:
    with pytest.raises(ValueError, match=r"^business_calendar: no calendar for 'US'$"):
        is_business_day(date(2026, 10, 12), "US")
    elsewhere = POLICY.model_copy(update={"business_calendar": "US"})
    with pytest.raises(ValueError, match="no calendar for 'US'"):
        add_limit(datetime(2026, 10, 12, 9, 0, tzinfo=SHANGHAI), business_days(1), elsewhere)
