"""The limits some packs add: ASIC's 21 days for default-notice and hardship complaints, and
FCA's summary resolution window. Pure (``domain.classification``); the workflow test is
tests/workflows/test_pack_limits.py."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from domain.classification import (
    decision_spec,
    initial_clocks,
    replan,
    resolution_communication,
    summary_resolution_by,
)
from models.clocks import Clock
from models.complaint import ResolutionCommunication
from models.intake import ComplaintFlag
from models.policy import Policy, Tier
from tests.policies import policy_under

SYDNEY, LONDON, SHANGHAI = ZoneInfo("Australia/Sydney"), ZoneInfo("Europe/London"), ZoneInfo("Asia/Shanghai")
ASIC, FCA, CN = policy_under("asic-rg271"), policy_under("fca-disp"), policy_under("cn-2020")


def decision(flags: list[ComplaintFlag], policy: Policy = ASIC, received: datetime | None = None) -> Clock:
    received = received or datetime(2026, 11, 2, 10, 0, tzinfo=SYDNEY)
    return {c.name: c for c in initial_clocks(Tier.SIMPLE, received, policy, flags)}["regulatory_decision"]


@pytest.mark.parametrize(
    "flags",
    [[ComplaintFlag.DEFAULT_NOTICE], [ComplaintFlag.HARDSHIP], [ComplaintFlag.HARDSHIP, ComplaintFlag.DEFAULT_NOTICE]],
)
def test_asic_decides_a_default_notice_or_hardship_complaint_in_21_days(flags: list[ComplaintFlag]) -> None:
    clock = decision(flags)
    assert (clock.label, clock.limit) == ("IDR response (default notice or hardship)", "21 calendar days")
    assert clock.due_at == datetime(2026, 11, 23, 10, 0, tzinfo=SYDNEY)
    assert clock.source.startswith("RG 271")


def test_an_unflagged_asic_complaint_keeps_30_days() -> None:
    clock = decision([])
    assert (clock.label, clock.limit, clock.source) == (
        "IDR response (regulatory)",
        "30 calendar days",
        "RG 271.55: IDR response within 30 calendar days",
    )


def test_a_pack_without_the_option_ignores_the_flags() -> None:
    received = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
    assert decision([ComplaintFlag.HARDSHIP], CN, received) == decision([], CN, received)
    assert decision_spec(CN, [ComplaintFlag.HARDSHIP]) == CN.regulatory_pack.decision


def test_replanning_a_flagged_complaint_keeps_its_21_days() -> None:
    clock = decision([ComplaintFlag.HARDSHIP])
    assert replan(clock, Tier.SIMPLE, ASIC, [ComplaintFlag.HARDSHIP]).limit == "21 calendar days"
    assert replan(clock, Tier.SIMPLE, ASIC).limit == "30 calendar days"


def test_fca_summary_resolution_runs_to_close_of_business_on_the_third_business_day() -> None:
    # Thursday before Easter 2026: Good Friday and Easter Monday do not count.
    received = datetime(2026, 4, 2, 10, 0, tzinfo=LONDON)
    assert summary_resolution_by(received, FCA) == datetime(2026, 4, 9, 17, 0, tzinfo=LONDON)


@pytest.mark.parametrize("pack", ["cn-2020", "asic-rg271", "cfpb"])
def test_other_packs_have_no_summary_resolution(pack: str) -> None:
    assert summary_resolution_by(datetime(2026, 4, 2, 10, 0, tzinfo=LONDON), policy_under(pack)) is None


def test_a_resolution_accepted_by_the_close_of_the_window_gets_the_summary_resolution() -> None:
    window = datetime(2026, 4, 9, 17, 0, tzinfo=LONDON)
    summary, final = ResolutionCommunication.SUMMARY_RESOLUTION, ResolutionCommunication.FINAL_RESPONSE
    assert resolution_communication(window, window) == summary
    assert resolution_communication(window, datetime(2026, 4, 9, 17, 1, tzinfo=LONDON)) == final
    assert resolution_communication(None, datetime(2026, 4, 2, 11, 0, tzinfo=LONDON)) == final  # no such window
