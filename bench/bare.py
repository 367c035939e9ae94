"""The bare baseline: the shape of a simple complaint from intake to closure, doing nothing.

A simple complaint runs 9 activities to reach a handler (record x4, classify, acknowledge,
roster, choose handler, notify), then five staff actions, each an update: propose (2
activities), approve (2), accept (6: final response, record, choose caller, plan the
follow-up clock, notify, record), root cause (1), follow-up call (2), while the workflow
waits on an SLA timer.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from models import search_attributes as sa

INTAKE_ACTIVITIES = 9
ACTIVITIES_PER_ACTION = [2, 2, 6, 1, 2]
ACTIONS = len(ACTIVITIES_PER_ACTION)


@activity.defn
def noop_step(step: int) -> int:
    return step


@workflow.defn
class BareWorkflow:
    def __init__(self) -> None:
        self._ready = False
        self._actions = 0

    @workflow.run
    async def run(self) -> int:
        for step in range(INTAKE_ACTIVITIES):
            await workflow.execute_activity(noop_step, step, start_to_close_timeout=timedelta(seconds=30))
        self._ready = True
        workflow.upsert_search_attributes([sa.STATUS.value_set("in_handling")])
        # The complaint's SLA clock: a timer that the actions outrun.
        await workflow.wait_condition(lambda: self._actions >= ACTIONS, timeout=timedelta(hours=1))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._actions

    @workflow.update
    async def act(self, number: int) -> int:
        for step in range(ACTIVITIES_PER_ACTION[number]):
            await workflow.execute_activity(noop_step, step, start_to_close_timeout=timedelta(seconds=30))
        self._actions += 1
        return number

    @workflow.query
    def ready(self) -> bool:
        return self._ready


# -- the recall line's baseline: a sliding window of children, continuing as new ----------------


@dataclass
class BareFanOut:
    """``count`` children, at most ``window`` in hand, ``per_run`` a run (the recall's shape)."""

    count: int
    window: int = 100
    per_run: int = 1000
    started: int = 0
    runs: int = 1


@workflow.defn
class BareChildWorkflow:
    """A remediation's shape: one step (tell, link, record), report to the parent, then its clock."""

    @workflow.run
    async def run(self, parent_id: str) -> None:
        await workflow.execute_local_activity(noop_step, 0, start_to_close_timeout=timedelta(seconds=30))
        await workflow.get_external_workflow_handle(parent_id).signal("child_done")
        await workflow.sleep(timedelta(days=30))


@workflow.defn
class BareFanOutWorkflow:
    def __init__(self) -> None:
        self._in_hand = 0

    @workflow.signal
    def child_done(self) -> None:
        self._in_hand -= 1

    @workflow.run
    async def run(self, job: BareFanOut) -> int:
        this_run = 0
        parent = workflow.info().workflow_id
        while job.started < job.count and this_run < job.per_run:
            await workflow.wait_condition(lambda: self._in_hand < job.window)
            # As the recall does: every free slot at once, the starts in one workflow task.
            room = min(job.window - self._in_hand, job.per_run - this_run, job.count - job.started)
            first, self._in_hand = job.started, self._in_hand + room
            job.started, this_run = job.started + room, this_run + room
            await asyncio.gather(
                *(
                    workflow.start_child_workflow(
                        BareChildWorkflow.run,
                        parent,
                        id=f"{parent}-{n}",
                        parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                    )
                    for n in range(first, first + room)
                )
            )
        await workflow.wait_condition(lambda: self._in_hand == 0 and workflow.all_handlers_finished())
        if job.started < job.count:
            job.runs += 1
            workflow.continue_as_new(job)
        return job.runs
