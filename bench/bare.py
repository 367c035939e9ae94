"""The bare baseline: the shape of a simple complaint from intake to closure, doing nothing.

A simple complaint runs 9 activities to reach a handler (record x4, classify, acknowledge,
roster, choose handler, notify), then five staff actions, each an update: propose (2
activities), approve (2), accept (6: final response, record, choose caller, plan the
follow-up clock, notify, record), root cause (1), follow-up call (2), while the workflow
waits on an SLA timer.
"""

from __future__ import annotations

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
