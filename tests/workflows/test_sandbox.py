"""How the workflow sandbox loads the workflows (no server): what each cached workflow costs.

The sandbox imports a workflow's own module afresh for every run it builds (each new
complaint, and each one rebuilt after leaving the worker's cache), and passes through the
modules the workflow imports under ``imports_passed_through``. A step module loaded afresh
instead would cost every cached complaint its code again: about 0.2 MB each (README,
'Benchmark').
"""

from __future__ import annotations

import sys
import types
from datetime import UTC, datetime, timedelta

import pytest
import temporalio.common
import temporalio.converter
import temporalio.workflow
from temporalio.api.common.v1 import Payloads
from temporalio.api.failure.v1 import Failure
from temporalio.worker import WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from worker import WORKFLOWS

START = datetime(2026, 11, 29, tzinfo=UTC)
OURS = ("workflows.", "domain.", "models.", "activities.", "complaints.")


def details(workflow: type) -> WorkflowInstanceDetails:
    converter = temporalio.converter.DataConverter.default
    return WorkflowInstanceDetails(
        payload_converter_factory=converter._new_payload_converter,
        failure_converter_class=converter.failure_converter_class,
        interceptor_classes=[],
        defn=temporalio.workflow._Definition.must_from_class(workflow),
        info=temporalio.workflow.Info(
            attempt=1,
            continued_run_id=None,
            cron_schedule=None,
            execution_timeout=None,
            first_execution_run_id="run",
            headers={},
            namespace="default",
            original_execution_run_id="run",
            parent=None,
            root=None,
            priority=temporalio.common.Priority.default,
            raw_memo={},
            retry_policy=None,
            run_id="run",
            run_timeout=None,
            search_attributes={},
            start_time=START,
            task_queue="complaints",
            task_timeout=timedelta(seconds=10),
            typed_search_attributes=temporalio.common.TypedSearchAttributes.empty,
            workflow_id="workflow",
            workflow_start_time=START,
            workflow_type=workflow.__name__,
        ),
        randomness_seed=1,
        extern_functions={},
        disable_eager_activity_execution=False,
        worker_level_failure_exception_types=[],
        patch_activation_callback=None,
        last_completion_result=Payloads(),
        last_failure=Failure(),
    )


async def sandboxed_globals(workflow: type) -> dict[str, object]:
    """The module globals of the workflow class as a sandbox of the worker's default builds it."""
    instance = SandboxedWorkflowRunner().create_instance(details(workflow))
    cls = instance.globals_and_locals["__temporal_workflow_class"]  # type: ignore[attr-defined]
    return cls.__init__.__globals__


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda w: w.__name__)
async def test_each_run_loads_only_the_workflows_own_module(workflow: type) -> None:
    first, second = await sandboxed_globals(workflow), await sandboxed_globals(workflow)

    # The workflow's module is its own per run (its state isolated, as the sandbox means)...
    assert first is not second
    assert first[workflow.__name__] is not workflow
    # ...and every module of ours it uses (steps, rules, models), or a class or function it imports
    # from one, is the worker's own, passed through, not reloaded.
    used: dict[str, bool] = {}
    for value in first.values():
        if isinstance(value, types.ModuleType) and value.__name__.startswith(OURS):
            used[value.__name__] = value is sys.modules[value.__name__]
        elif isinstance(value, type | types.FunctionType) and value.__module__.startswith(OURS):
            if value.__module__ != workflow.__module__:  # defined in the workflow's own module: its own
                home = sys.modules[value.__module__]
                used[f"{value.__module__}.{value.__qualname__}"] = value is getattr(home, value.__name__, None)
    assert used, "the workflow module uses steps, rules or models of ours"
    reloaded = sorted(name for name, same in used.items() if not same)
    assert reloaded == []
