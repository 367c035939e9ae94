"""The bare baseline: the same number of activities and timers as a filed complaint, no work."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from models import search_attributes as sa

# A filed complaint runs: record, classify, record, acknowledge, record.
ACTIVITIES_PER_COMPLAINT = 5


@activity.defn
def noop_step(step: int) -> int:
    return step


@workflow.defn
class BareWorkflow:
    @workflow.run
    async def run(self) -> None:
        for step in range(ACTIVITIES_PER_COMPLAINT):
            await workflow.execute_activity(noop_step, step, start_to_close_timeout=timedelta(seconds=30))
        workflow.upsert_search_attributes([sa.STATUS.value_set("in_handling")])
        # The complaint's next step: wait on its SLA timer.
        await workflow.wait_condition(lambda: False, timeout=timedelta(hours=1))
