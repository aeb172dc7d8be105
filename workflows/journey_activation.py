"""JourneyActivationWorkflow: a partner's switch-on request for a journey, through the approval
chain of its content, to `active` or `rejected`.

The request (editor or GM) -> the chain (the shared ChainRunner, subject journey_activation; the
brand policy JOURNEY_APPROVAL_POLICY names, else the built-in stage where the partner's GM
decides, reminded after 2 days and escalated to the region manager after 4) -> approved:
`active`; rejected, changes requested or expired: `rejected` with the reason. Switching off
while the chain waits withdraws it (signal `withdraw`); the switch-off itself is written by the
service, so the workflow then only closes the task. The chain audits its own steps
(`journey_activation.submitted`, `.approved`, ...); the row's change is
`journey_activation.state_changed`, written by one idempotent activity that changes only a row
still waiting for this request.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from approvals.engine import Outcome
    from domain.journeys import ActivationState
    from domain.money import ChainSubject
    from models.chain_io import ChainDecision, ChainStatus, ChainTarget
    from models.journey_activation_io import (
        ActivationChainInput,
        ActivationInput,
        ActivationTransition,
        ActivationWithdraw,
    )
    from workflows.chain_runner import ChainRunner

RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
AFTER_CHAIN = {Outcome.approved: ActivationState.active}


@workflow.defn
class JourneyActivationWorkflow:
    @workflow.init
    def __init__(self, inp: ActivationInput) -> None:
        self.inp = inp
        self.state = ActivationState.pending_approval
        self.projected = False
        self.deciding: ChainDecision | None = None
        self.chain = ChainRunner(
            ChainSubject.journey_activation,
            inp.activation_id,
            ChainTarget(brand_id=inp.brand_id, region_id=inp.region_id, partner_id=inp.partner_id),
            inp.label,
            portal_path=f"/journey-activations/{inp.activation_id}",
        )

    @workflow.run
    async def run(self, inp: ActivationInput) -> str:
        given: ActivationChainInput = await workflow.execute_activity(
            "journey_activation_chain_input",
            inp.activation_id,
            result_type=ActivationChainInput,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )
        outcome = await self.chain.run(given.policy, given.facts, inp.requested_by)
        if self.chain.withdrawn:  # switched off: the service wrote `off`
            self.state = ActivationState.off
            self.projected = True
            return self.state.value
        to = AFTER_CHAIN.get(outcome, ActivationState.rejected)
        by = self.deciding
        comment = (by.comment if by else None) or f"the approval chain: {outcome.value}"
        info = workflow.info()
        await workflow.execute_activity(
            "project_journey_activation",
            ActivationTransition(
                activation_id=inp.activation_id,
                event=outcome.value,
                to_state=to.value,
                at=workflow.now(),
                actor_id=by.actor.user_id if by else None,
                comment=comment,
                workflow_id=info.workflow_id,
                run_id=info.run_id,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )
        self.state = to
        self.projected = True
        workflow.set_current_details(f"{to.value} (after {outcome.value})")
        return self.state.value

    @workflow.update
    async def decide(self, action: ChainDecision) -> ChainStatus:
        """A vote; when it ends the chain, answered once the activation row moved."""
        status = await self.chain.decide(action)
        if status.outcome is not None:
            self.deciding = action
            await workflow.wait_condition(lambda: self.projected)
        return status

    @decide.validator
    def _check_decide(self, action: ChainDecision) -> None:
        self.chain.refusal(action)

    @workflow.signal
    def withdraw(self, action: ActivationWithdraw) -> None:
        self.chain.withdraw(action.actor.user_id, action.comment or "switched off")

    @workflow.query
    def chain_status(self) -> ChainStatus:
        return self.chain.status()
