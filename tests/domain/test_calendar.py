"""Deadline arithmetic over each pack's business calendar: China's official one, and the
public holidays of Australia (national and the firm's state), England and Wales, and the US."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from complaints.config import PROJECT_ROOT
from domain.calendar import add_limit, is_business_day
from domain.policy import load_policy
from models.policy import BusinessCalendar, TimeLimit, TimeUnit
from tests.policies import policy_under

SHANGHAI = ZoneInfo("Asia/Shanghai")
SYDNEY, PERTH = ZoneInfo("Australia/Sydney"), ZoneInfo("Australia/Perth")
LONDON, NEW_YORK = ZoneInfo("Europe/London"), ZoneInfo("America/New_York")
POLICY = load_policy(PROJECT_ROOT / "policies" / "standard.yaml")
ASIC, FCA, CFPB = policy_under("asic-rg271"), policy_under("fca-disp"), policy_under("cfpb")


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


def test_beyond_the_official_calendar_chinas_statutory_holidays_still_count() -> None:
    # chinesecalendar stops at 2026: 1 Jan 2027 (a Friday) is New Year's Day all the same.
    assert is_business_day(date(2027, 1, 1)) == (False, False)
    due = add_limit(datetime(2026, 12, 31, 10, 0, tzinfo=SHANGHAI), business_days(1), POLICY)
    assert due.due_at == datetime(2027, 1, 4, 18, 0, tzinfo=SHANGHAI)  # Fri holiday, weekend, Monday
    assert due.estimated


@pytest.mark.parametrize(
    ("day", "business"),
    [
        ("2027-10-01", False),  # National Day (Friday)
        ("2027-05-01", False),  # Labour Day (Saturday anyway)
        ("2027-02-08", False),  # Spring Festival (a lunar date, Monday)
        ("2027-10-08", True),  # the Friday after: whatever bridging days are announced, not guessed
    ],
)
def test_chinas_statutory_holidays_in_a_year_not_yet_published_are_estimated(day: str, business: bool) -> None:
    assert is_business_day(date.fromisoformat(day)) == (business, False)


def test_a_sydney_complaint_is_not_counted_on_chinas_calendar() -> None:
    # Wednesday 30 Sep 2026: China's National Day week starts the next day; Sydney works on Thursday.
    due = add_limit(datetime(2026, 9, 30, 11, 0, tzinfo=SYDNEY), ASIC.regulatory_pack.acknowledgement.limit, ASIC)
    assert due.due_at == datetime(2026, 10, 1, 17, 0, tzinfo=SYDNEY)
    assert not due.estimated


@pytest.mark.parametrize(
    ("received", "due"),
    [
        # Australia Day, Monday 26 Jan 2026.
        (datetime(2026, 1, 23, 10, 0, tzinfo=SYDNEY), datetime(2026, 1, 27, 17, 0, tzinfo=SYDNEY)),
        # Christmas (Fri), Boxing Day (Sat) and Boxing Day observed on Monday 28 Dec 2026.
        (datetime(2026, 12, 24, 10, 0, tzinfo=SYDNEY), datetime(2026, 12, 29, 17, 0, tzinfo=SYDNEY)),
        # NSW's Labour Day, Monday 5 Oct 2026 (a state holiday, the pack's default state).
        (datetime(2026, 10, 2, 10, 0, tzinfo=SYDNEY), datetime(2026, 10, 6, 17, 0, tzinfo=SYDNEY)),
    ],
)
def test_australian_public_holidays_are_not_business_days(received: datetime, due: datetime) -> None:
    assert add_limit(received, business_days(1), ASIC).due_at == due


def test_a_firm_names_its_own_state_and_time_zone() -> None:
    perth = policy_under("asic-rg271", calendar_subdivision="WA", timezone="Australia/Perth")
    # Western Australia Day, Monday 1 Jun 2026: a holiday in Perth, a business day in Sydney.
    received = datetime(2026, 5, 29, 10, 0, tzinfo=PERTH)
    assert add_limit(received, business_days(1), perth).due_at == datetime(2026, 6, 2, 17, 0, tzinfo=PERTH)
    assert add_limit(received, business_days(1), ASIC).due_at == datetime(2026, 6, 1, 17, 0, tzinfo=SYDNEY)
    melbourne = policy_under("asic-rg271", calendar_subdivision="VIC", timezone="Australia/Melbourne")
    # Melbourne Cup Day, Tuesday 3 Nov 2026.
    received = datetime(2026, 11, 2, 10, 0, tzinfo=SYDNEY)
    assert add_limit(received, business_days(1), melbourne).due_at == datetime(2026, 11, 4, 17, 0, tzinfo=SYDNEY)
    assert perth.timezone == "Australia/Perth" and ASIC.timezone == "Australia/Sydney"


@pytest.mark.parametrize(
    ("received", "days", "due"),
    [
        # Good Friday 3 Apr and Easter Monday 6 Apr 2026; due at 17:00 British Summer Time.
        (datetime(2026, 4, 2, 10, 0, tzinfo=LONDON), 1, datetime(2026, 4, 7, 17, 0, tzinfo=LONDON)),
        # The summary resolution window: the third business day after receipt.
        (datetime(2026, 4, 2, 10, 0, tzinfo=LONDON), 3, datetime(2026, 4, 9, 17, 0, tzinfo=LONDON)),
        # The late summer bank holiday, Monday 31 Aug 2026.
        (datetime(2026, 8, 28, 16, 0, tzinfo=LONDON), 1, datetime(2026, 9, 1, 17, 0, tzinfo=LONDON)),
        # Christmas (Fri) and Boxing Day (Sat), its substitute on Monday 28 Dec; 17:00 GMT.
        (datetime(2026, 12, 24, 10, 0, tzinfo=LONDON), 1, datetime(2026, 12, 29, 17, 0, tzinfo=LONDON)),
    ],
)
def test_bank_holidays_of_england_and_wales_are_not_business_days(received: datetime, days: int, due: datetime) -> None:
    deadline = add_limit(received, business_days(days), FCA)
    assert deadline.due_at == due
    assert deadline.due_at.utcoffset() == due.utcoffset()
    assert not deadline.estimated


def test_us_federal_holidays_are_not_business_days() -> None:
    # Thanksgiving, Thursday 26 Nov 2026; the Friday after is a federal business day.
    received = datetime(2026, 11, 25, 10, 0, tzinfo=NEW_YORK)
    assert add_limit(received, business_days(1), CFPB).due_at == datetime(2026, 11, 27, 17, 0, tzinfo=NEW_YORK)
    # Independence Day falls on a Saturday in 2026: observed on Friday 3 July.
    received = datetime(2026, 7, 2, 10, 0, tzinfo=NEW_YORK)
    assert add_limit(received, business_days(1), CFPB).due_at == datetime(2026, 7, 6, 17, 0, tzinfo=NEW_YORK)


def test_each_pack_names_its_calendar_and_time_zone() -> None:
    assert {p.regulatory_pack.id: p.calendar for p in (POLICY, ASIC, FCA, CFPB)} == {
        "CN-2020": BusinessCalendar(country="CN", timezone="Asia/Shanghai"),
        "ASIC-RG271": BusinessCalendar(
            country="AU", subdivision="NSW", timezone="Australia/Sydney", close_of_business=time(17, 0)
        ),
        "FCA-DISP": BusinessCalendar(
            country="GB", subdivision="ENG", timezone="Europe/London", close_of_business=time(17, 0)
        ),
        "CFPB": BusinessCalendar(country="US", timezone="America/New_York", close_of_business=time(17, 0)),
    }
    # Times are shown in the zone the deadlines are counted in.
    assert [p.timezone for p in (POLICY, ASIC, FCA, CFPB)] == [
        "Asia/Shanghai",
        "Australia/Sydney",
        "Europe/London",
        "America/New_York",
    ]


def test_the_calendars_own_holidays_not_chinas() -> None:
    # 1 Oct 2026: China's National Day, a working Thursday in London, Sydney and New York.
    assert is_business_day(date(2026, 10, 1)) == (False, True)
    for policy in (ASIC, FCA, CFPB):
        assert is_business_day(date(2026, 10, 1), policy.calendar) == (True, True)
