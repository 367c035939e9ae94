"""Step 5: EducationLogWorkflow, one customer-education action logged by a member of staff.

``complaints education log --as S-…`` is a staff action like any other, so the worker checks who
sent it (issue 16) rather than the CLI that claims it: the workflow loads the policy's signing
mode and the staff's keys, checks the recorder's signature on the request as sent, then logs the
action (an activity: the recorder's role, the policy's catalogue, once per action) and keeps what
was signed in ``signed_actions`` (``complaints verify education-log-…``). A refusal (signature,
role, field) is the answer: nothing is written, and the workflow ends normally with the reason.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.common import VersioningBehavior

with workflow.unsafe.imports_passed_through():
    from activities.education import EducationActivities
    from complaints.education import LOG_ACTION  # the action name the recorder signs
    from domain.rules import Refused
    from models.education import EducationActionRequest, EducationLogResult
    from workflows.options import call
    from workflows.signing import StaffSignatures


@workflow.defn(versioning_behavior=VersioningBehavior.PINNED)
class EducationLogWorkflow:
    def __init__(self) -> None:
        self._signing = StaffSignatures()

    @workflow.run
    async def run(self, request: EducationActionRequest) -> EducationLogResult:
        await self._signing.load()
        workflow.set_current_details(
            f"**Education action:** {request.kind.value} {request.title!r} on {request.product} / "
            f"{request.topic.value}, held {request.held_on}, logged by {request.recorded_by}"
        )
        logged = EducationLogResult()
        try:
            async with self._signing.turn():  # what was signed is kept only if the action is logged
                self._signing.check(request, LOG_ACTION, request.recorded_by)
                logged = await call(
                    EducationActivities.log_education_action,
                    request,
                    summary=f"Log {request.recorded_by}'s {request.kind.value} on {request.product}",
                )
                if logged.refused is not None:
                    raise Refused(logged.refused)
        except Refused as refused:
            if logged.refused is None:  # the signature, before anything was logged
                logged = EducationLogResult(refused=str(refused))
            workflow.set_current_details(f"**Refused:** {logged.refused}")
        return logged
