"""Step 4: AwardWorkflow, the quarterly Service Quality Award (服务质量奖).

It runs on a Temporal Schedule each quarter (``complaints/schedules.py``) or on demand
(``complaints award run``), for the quarter before:

1. propose: compute every person's scorecard, store the computed service quality score, rank
   the eligible by the policy's formula (each with the figures behind it and, for the others,
   why not), assign the training the quarter's figures call for, and take the quarter (one
   award per quarter: a second run for a quarter already taken ends at once);
2. wait for a senior manager's decision, an update with a validator: only the policy's
   approver roles, nobody approves an award for themselves, winners from the eligible
   nominees and no more than the policy allows;
3. record the winners once in their service history and tell them.

The decision is a signed staff action (issue 16): checked in the validator after the award's own
refusal and again in the handler's turn, and once accepted kept in ``signed_actions``
(``workflows.signing.StaffSignatures``; ``complaints verify <workflow id>`` re-checks it).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import SearchAttributeKey, VersioningBehavior

with workflow.unsafe.imports_passed_through():
    import domain.analysis as periods
    import domain.performance as performance
    from activities.award import AwardActivities
    from domain.rules import Refused
    from models.analysis import Period, PeriodKind
    from models.award import AwardDecision, AwardOutcome, AwardProposal, AwardRecord, AwardRequest
    from workflows.handlers import recheck
    from workflows.options import ACTIVITY_TIMEOUT, RETRY
    from workflows.signing import StaffSignatures

SCHEDULED_START = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")


def quarter_of(request: AwardRequest) -> Period:
    if request.quarter is not None:
        return request.quarter
    scheduled = workflow.info().typed_search_attributes.get(SCHEDULED_START)
    return periods.previous_period(PeriodKind.QUARTER, scheduled or workflow.now(), request.timezone)


@workflow.defn(versioning_behavior=VersioningBehavior.PINNED)
class AwardWorkflow:
    def __init__(self) -> None:
        self._proposal: AwardProposal | None = None
        self._decision: AwardDecision | None = None
        self._lock = asyncio.Lock()
        self._signing = StaffSignatures()

    @workflow.run
    async def run(self, request: AwardRequest) -> AwardOutcome:
        await self._signing.load()
        quarter = quarter_of(request)
        workflow.set_current_details(f"Ranking the nominees for {quarter.label}")
        proposal = await workflow.execute_activity_method(
            AwardActivities.propose_award,
            quarter,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=RETRY,
            summary=f"Rank the nominees for {quarter.label}",
        )
        if not (proposal.taken_by or proposal.decided):
            assigned = await workflow.execute_activity_method(
                AwardActivities.assign_training_needs,
                quarter,
                start_to_close_timeout=timedelta(minutes=5),
                retry_policy=RETRY,
                summary=f"Assign the training {quarter.label}'s figures call for",
            )
            proposal = proposal.model_copy(update={"training_assigned": assigned})
        self._proposal = proposal
        if proposal.taken_by or proposal.decided:
            why = "already decided" if proposal.decided else f"held by {proposal.taken_by}"
            workflow.set_current_details(f"The award for {quarter.label} is {why}: nothing to do here")
            return AwardOutcome(quarter=quarter.label, status="taken")
        workflow.set_current_details(
            f"Awaiting a senior manager's approval for {quarter.label}. Proposed: "
            + (", ".join(proposal.proposed) or "nobody eligible")
        )
        await workflow.wait_condition(lambda: self._decision is not None)
        decision = self._decision
        assert decision is not None
        record = AwardRecord(
            quarter=quarter.label,
            winners=decision.winners or proposal.proposed,
            approved_by=decision.actor,
            reason=decision.reason,
            decided_at=workflow.now(),
        )
        told = await workflow.execute_activity_method(
            AwardActivities.record_award,
            record,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
            summary=f"Record and announce the award for {quarter.label}",
        )
        workflow.set_current_details(f"Awarded {quarter.label}: {', '.join(record.winners)} (by {decision.actor})")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return AwardOutcome(
            quarter=quarter.label, status="approved", winners=record.winners, approved_by=decision.actor, told=told
        )

    @workflow.update
    async def decide(self, decision: AwardDecision) -> AwardOutcome:
        # Two approvers at once: the first decides, the second is refused; the re-check in the
        # signing turn is the one that counts (and holds the signature, kept once accepted).
        async with self._lock, self._signing.turn():
            recheck(self.validate_decide, decision)
            proposal = self._proposal
            assert proposal is not None
            self._decision = decision
            winners = decision.winners or proposal.proposed
            return AwardOutcome(
                quarter=proposal.quarter, status="approved", winners=winners, approved_by=decision.actor
            )

    @decide.validator
    def validate_decide(self, decision: AwardDecision) -> None:
        if self._proposal is None:
            raise Refused("the nominees are still being ranked; try again in a moment")
        problem = performance.award_refusal(self._proposal, self._decision is not None, decision)
        if problem:
            raise Refused(problem)
        self._signing.check(decision)  # who decides is proven (issue 16)

    @workflow.signal
    async def refresh_staff_keys(self) -> None:
        """A key was registered or revoked (``complaints keys register|revoke|refresh``)."""
        await self._signing.refresh()

    @workflow.query
    def proposal(self) -> AwardProposal | None:
        return self._proposal
