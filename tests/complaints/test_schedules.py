"""The report schedules a policy asks for (complaints/schedules.schedules_for), without a server."""

from __future__ import annotations

import pytest
from temporalio.client import ScheduleActionStartWorkflow

from complaints.schedules import schedules_for
from models.analysis import ANALYSIS, PeriodKind, ReportRequest
from tests.policies import policy_under


def _request(action: object) -> ReportRequest:
    assert isinstance(action, ScheduleActionStartWorkflow)
    (request,) = action.args
    assert isinstance(request, ReportRequest)
    return request


@pytest.mark.parametrize(("pack", "kind"), [("fca-disp", "fca_disp"), ("asic-rg271", "asic_idr")])
def test_a_half_yearly_return_gets_a_half_yearly_schedule(pack: str, kind: str) -> None:
    policy = policy_under(pack)
    found = schedules_for(policy, "complaints", prefix="p-")
    assert sorted(found) == ["p-half-yearly", "p-monthly"]  # no quarterly return in this pack

    half = found["p-half-yearly"]
    (calendar,) = half.spec.calendars
    assert [m.start for m in calendar.month] == [1, 7]  # for the half-years ending June and December
    assert [d.start for d in calendar.day_of_month] == [policy.reporting.run_day]
    assert [h.start for h in calendar.hour] == [policy.reporting.run_hour]
    assert half.spec.time_zone_name == policy.timezone
    assert isinstance(half.action, ScheduleActionStartWorkflow)
    assert half.action.id == "p-half-yearly"  # the prefix is the caller's; only "complaints-report-" is shortened
    assert half.action.static_summary == f"Complaint analysis, half-yearly, with {kind}"
    request = _request(half.action)
    assert (request.kinds, request.period_kind, request.timezone) == (
        [ANALYSIS, kind],
        PeriodKind.HALF_YEAR,
        policy.timezone,
    )

    # The monthly schedule runs the analysis alone: the pack has no monthly return.
    monthly = found["p-monthly"]
    assert [m.start for m in monthly.spec.calendars[0].month] == list(range(1, 13))
    assert _request(monthly.action).kinds == [ANALYSIS]


def test_the_default_prefix_names_the_workflow_report_() -> None:
    found = schedules_for(policy_under("fca-disp"), "complaints")
    assert sorted(found) == ["complaints-report-half-yearly", "complaints-report-monthly"]
    action = found["complaints-report-half-yearly"].action
    assert isinstance(action, ScheduleActionStartWorkflow) and action.id == "report-half-yearly"


def test_a_quarterly_pack_gets_no_half_yearly_schedule() -> None:
    found = schedules_for(policy_under("cn-2020"), "complaints", prefix="p-")
    assert sorted(found) == ["p-monthly", "p-quarterly"]
    quarterly = found["p-quarterly"]
    assert [m.start for m in quarterly.spec.calendars[0].month] == [1, 4, 7, 10]
    assert _request(quarterly.action).kinds == [ANALYSIS, "nfra_quarterly"]
