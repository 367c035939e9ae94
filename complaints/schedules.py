"""The Temporal Schedules of the periodic analysis and the award, created or updated by the worker at start.

One schedule per period the policy needs, each visible on the Web UI's Schedules page:

- ``complaints-report-monthly``: every month, the analysis of the month before, with the
  pack's monthly returns;
- ``complaints-report-quarterly`` / ``-half-yearly``: only where the pack's returns fall due
  then: the analysis of the quarter or half-year, with those returns.

They run at the policy's ``reporting.run_hour`` on ``run_day`` in the policy's time zone.
``ensure_schedules`` is idempotent: it creates what is missing, updates what differs (a changed
policy moves the time, the zone or the returns) and deletes report schedules the policy no
longer asks for.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from models.analysis import ANALYSIS, PeriodKind, ReportRequest
from models.award import AwardRequest
from models.policy import Policy
from workflows.step3_analysis import ReportingWorkflow
from workflows.step4_award import AwardWorkflow

PREFIX = "complaints-report-"
NAMES = {PeriodKind.MONTH: "monthly", PeriodKind.QUARTER: "quarterly", PeriodKind.HALF_YEAR: "half-yearly"}
MONTHS = {PeriodKind.MONTH: range(1, 13), PeriodKind.QUARTER: (1, 4, 7, 10), PeriodKind.HALF_YEAR: (1, 7)}


def schedules_for(policy: Policy, task_queue: str, prefix: str = PREFIX) -> dict[str, Schedule]:
    """The schedules ``policy`` asks for, by id."""
    due = {r.period for r in policy.regulatory_pack.returns}
    found = {}
    for kind in PeriodKind:
        if kind != PeriodKind.MONTH and kind not in due:
            continue
        returns = [r.kind.value for r in policy.regulatory_pack.returns if r.period == kind]
        schedule_id = f"{prefix}{NAMES[kind]}"
        r = policy.reporting
        found[schedule_id] = Schedule(
            action=ScheduleActionStartWorkflow(
                ReportingWorkflow.run,
                ReportRequest(kinds=[ANALYSIS, *returns], period_kind=kind, timezone=policy.timezone),
                id=schedule_id.replace("complaints-report-", "report-", 1),
                task_queue=task_queue,
                execution_timeout=timedelta(hours=6),
                static_summary=f"Complaint analysis, {NAMES[kind]}"
                + (f", with {', '.join(returns)}" if returns else ""),
            ),
            spec=ScheduleSpec(
                calendars=[
                    ScheduleCalendarSpec(
                        second=[ScheduleRange(0)],
                        minute=[ScheduleRange(0)],
                        hour=[ScheduleRange(r.run_hour)],
                        day_of_month=[ScheduleRange(r.run_day)],
                        month=[ScheduleRange(m) for m in MONTHS[kind]],
                        comment=f"{r.run_hour:02d}:00 on day {r.run_day} ({policy.timezone}), {NAMES[kind]}",
                    )
                ],
                time_zone_name=policy.timezone,
            ),
            # One run at a time; a run missed while the service was down runs when it is back (within a week).
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.BUFFER_ONE, catchup_window=timedelta(days=7)),
        )
    return found


async def create_or_update_schedule(client: Client, schedule_id: str, schedule: Schedule) -> None:
    """Create the schedule, or give an existing one this spec and action (every schedule the
    worker keeps: reports, the award, the clause watch); an operator's pause stays."""
    try:
        await client.create_schedule(schedule_id, schedule)
    except ScheduleAlreadyRunningError:

        def update(current: ScheduleUpdateInput) -> ScheduleUpdate:
            # The new spec and action; the state (paused by an operator, with a note) stays.
            return ScheduleUpdate(schedule=dataclasses.replace(schedule, state=current.description.schedule.state))

        await client.get_schedule_handle(schedule_id).update(update)


def interval_schedule(
    workflow_run: Any,
    arg: Any,
    *,
    schedule_id: str,
    task_queue: str,
    every: timedelta,
    timeout: timedelta,
    summary: str,
) -> Schedule:
    """A watch that runs every ``every``, one run at a time (the clause watch, the surge watch,
    retention): its workflow id is the schedule's without ``complaints-``; a run missed while the
    service was down is not caught up: the next one does its work."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            workflow_run,
            arg,
            id=schedule_id.replace("complaints-", "", 1),
            task_queue=task_queue,
            execution_timeout=timeout,
            static_summary=summary,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(minutes=1)),
    )


async def ensure_schedules(client: Client, policy: Policy, task_queue: str, prefix: str = PREFIX) -> list[str]:
    """Create or update the policy's report schedules, and delete those it no longer asks for."""
    wanted = schedules_for(policy, task_queue, prefix)
    for schedule_id, schedule in wanted.items():
        await create_or_update_schedule(client, schedule_id, schedule)
    async for listed in await client.list_schedules():
        if listed.id.startswith(prefix) and listed.id not in wanted:
            await client.get_schedule_handle(listed.id).delete()
    return sorted(wanted)


AWARD_SCHEDULE = "complaints-award-quarterly"


def award_schedule(policy: Policy, task_queue: str, schedule_id: str = AWARD_SCHEDULE) -> Schedule:
    """Each quarter, on the award's run day of its first month, the award of the quarter before."""
    award = policy.performance.award
    return Schedule(
        action=ScheduleActionStartWorkflow(
            AwardWorkflow.run,
            AwardRequest(timezone=policy.timezone),
            id=schedule_id.replace("complaints-", "", 1),
            task_queue=task_queue,
            static_summary="Service Quality Award of the quarter before: ranked, then a senior manager approves",
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    second=[ScheduleRange(0)],
                    minute=[ScheduleRange(0)],
                    hour=[ScheduleRange(award.run_hour)],
                    day_of_month=[ScheduleRange(award.run_day)],
                    month=[ScheduleRange(m) for m in MONTHS[PeriodKind.QUARTER]],
                    comment=f"{award.run_hour:02d}:00 on day {award.run_day} ({policy.timezone}), quarterly",
                )
            ],
            time_zone_name=policy.timezone,
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL, catchup_window=timedelta(days=7)),
    )


async def ensure_award_schedule(
    client: Client, policy: Policy, task_queue: str, schedule_id: str = AWARD_SCHEDULE
) -> str:
    """Create or update the award's schedule (one award per quarter: the workflow holds the quarter)."""
    await create_or_update_schedule(client, schedule_id, award_schedule(policy, task_queue, schedule_id))
    return schedule_id
