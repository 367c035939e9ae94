"""Worker Versioning (issue 17): which build a worker is, and how its workflows move between builds.

A worker declares a Worker Deployment Version, ``<COMPLAINTS_DEPLOYMENT_NAME>.<COMPLAINTS_BUILD_ID>``,
only when ``COMPLAINTS_BUILD_ID`` is set; operators then choose the build that takes new work with
``temporal worker deployment set-current-version`` (README, 'Upgrading workers'). Unset, the worker
is unversioned, as before: every worker on the task queue takes every task.

Each workflow class declares its behaviour in ``@workflow.defn(versioning_behavior=...)``:
complaints and the other workflows that live for weeks or months are ``AUTO_UPGRADE`` (they move
to the current build at their next task, and changes to them stay behind ``workflow.patched``);
reports, awards and the other short ones are ``PINNED`` (they finish on the build they started on).

The server refuses a workflow task completion that names a behaviour from a worker without a
deployment version ("versioning behavior cannot be specified without deployment options being
set with versioned mode"), so an unversioned worker runs its workflows through
:class:`WithoutVersioningBehavior`, which leaves the behaviour out.
"""

from __future__ import annotations

from typing import Any

from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.worker import (
    UnsandboxedWorkflowRunner,
    WorkerDeploymentConfig,
    WorkflowInstance,
    WorkflowInstanceDetails,
    WorkflowRunner,
)
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.workflow import _Definition

from complaints.config import Settings


def deployment_config(settings: Settings) -> WorkerDeploymentConfig | None:
    """The worker's deployment version, or None (unversioned) when no build id is configured.

    A workflow class without a behaviour of its own would be ``AUTO_UPGRADE``: the one that never
    strands a run on a build being retired. tests/test_worker_versioning.py checks that every
    workflow chooses one explicitly.
    """
    if not settings.build_id:
        return None
    return WorkerDeploymentConfig(
        version=WorkerDeploymentVersion(deployment_name=settings.deployment_name, build_id=settings.build_id),
        use_worker_versioning=True,
        default_versioning_behavior=VersioningBehavior.AUTO_UPGRADE,
    )


def with_versioning(options: dict[str, Any], deployment: WorkerDeploymentConfig | None) -> dict[str, Any]:
    """Worker arguments ``options`` plus the deployment version, or (unversioned) runners that
    leave the workflows' behaviours out."""
    if deployment is not None:
        return options | {"deployment_config": deployment}
    runner = options.get("workflow_runner") or SandboxedWorkflowRunner()
    return options | {
        "workflow_runner": WithoutVersioningBehavior(runner),
        "unsandboxed_workflow_runner": WithoutVersioningBehavior(UnsandboxedWorkflowRunner()),
    }


def versioning_behavior(workflow_class: type) -> VersioningBehavior:
    """The behaviour a workflow class declares (UNSPECIFIED when it declares none)."""
    return _Definition.must_from_class(workflow_class).versioning_behavior or VersioningBehavior.UNSPECIFIED


class WithoutVersioningBehavior(WorkflowRunner):
    """Runs workflows through ``inner`` but leaves their versioning behaviour out of each completion."""

    def __init__(self, inner: WorkflowRunner) -> None:
        self.inner = inner

    def prepare_workflow(self, defn: _Definition) -> None:
        self.inner.prepare_workflow(defn)

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _Unversioned(self.inner.create_instance(det))

    def set_worker_level_failure_exception_types(self, types: Any) -> None:
        self.inner.set_worker_level_failure_exception_types(types)


class _Unversioned(WorkflowInstance):
    def __init__(self, inner: WorkflowInstance) -> None:
        self.inner = inner

    def activate(self, act: WorkflowActivation) -> WorkflowActivationCompletion:
        completion = self.inner.activate(act)
        if completion.HasField("successful"):
            completion.successful.ClearField("versioning_behavior")
        return completion

    def get_serialization_context(self, command_info: Any) -> Any:
        return self.inner.get_serialization_context(command_info)

    def get_external_store_context(self, command_info: Any) -> Any:
        return self.inner.get_external_store_context(command_info)

    def get_info(self) -> Any:
        return self.inner.get_info()

    def get_thread_id(self) -> int | None:
        return self.inner.get_thread_id()
