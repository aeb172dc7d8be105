"""JourneyContactWorkflow: one contact in one journey for one occurrence (the workflow id is
derived from the enrolment, so starting it twice runs it once).

It walks the activation's pinned version of the design. Before every step an activity reads
the activation and the contact again: switched off, erased, without consent, unsubscribed or
converted ends the run as `exited` with that reason. Waits are durable timers computed in
the partner's zone (domain.journey_time: DST-correct local times). A send is an activity that
writes the ledger row first; quiet hours at the partner make it wait and try again. Branches
read the contact's attributes from that check; branches on opens and clicks are refused at
run time (journey messages are not tracked per send yet): the contact exits with reason
`branch_unsupported`, which the counts show, rather than taking a guessed way.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from domain.journey_time import wait_until, zone
    from domain.journeys import BranchOn, EnrolmentState
    from models.journey_io import (
        FinishEnrolment,
        JourneyContactInput,
        JourneyPlan,
        JourneySendOutcome,
        JourneyStepSend,
        StepCheck,
    )
    from models.journey_spec import BranchStep, EndStep, JourneySpec, SendStep, WaitStep

LOAD_PLAN = "load_journey_plan"
CHECK_STEP = "check_journey_step"
SEND_STEP = "send_journey_step"
FINISH = "finish_journey_enrolment"
BRANCH_UNSUPPORTED = "branch_unsupported"

RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=0,  # database or transport down: keep trying, the timers are durable
)


@workflow.defn(name="JourneyContactWorkflow")
class JourneyContactWorkflow:
    def __init__(self) -> None:
        self._step = ""

    @workflow.query
    def step(self) -> str:
        return self._step

    @workflow.run
    async def run(self, inp: JourneyContactInput) -> str:
        plan = inp.plan
        if plan is None:  # started without it: read it (None when the enrolment has ended)
            plan = await workflow.execute_activity(
                LOAD_PLAN,
                inp.enrolment_id,
                result_type=JourneyPlan | None,  # type: ignore[arg-type]
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RETRY,
            )
        if plan is None:  # ended by an earlier run of the same id: nothing to do
            return "ended"
        spec = JourneySpec.model_validate(plan.spec)
        tz = zone(plan.timezone)
        if inp.not_before is not None and inp.not_before > workflow.now():
            await workflow.sleep(inp.not_before - workflow.now())
        step_id = spec.entry
        while True:
            self._step = step_id
            step = spec.step(step_id)
            if isinstance(step, WaitStep):  # checked when the wait is over, before what follows
                until = wait_until(workflow.now(), step.days, step.until_local_time, tz)
                if until > workflow.now():
                    await workflow.sleep(until - workflow.now())
                step_id = spec.following(step)[0] if step.next else ""
                if not step_id:
                    return await self._finish(inp, EnrolmentState.completed, step.id)
                continue
            check: StepCheck = await workflow.execute_activity(
                CHECK_STEP,
                args=[inp.enrolment_id, step_id],
                result_type=StepCheck,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RETRY,
            )
            if check.exit_reason is not None:
                return await self._finish(inp, EnrolmentState.exited, step_id, check.exit_reason)
            if isinstance(step, EndStep):
                return await self._finish(inp, EnrolmentState.completed, step_id)
            if isinstance(step, SendStep):
                left = await self._send(inp, step_id)
                if left is not None:
                    return await self._finish(inp, EnrolmentState.exited, step_id, left)
            elif isinstance(step, BranchStep):
                if step.on is not BranchOn.attribute:
                    return await self._finish(
                        inp, EnrolmentState.exited, step_id, BRANCH_UNSUPPORTED
                    )
                value = check.attributes.get(step.attribute or "")
                holds = value is not None and str(value) == step.equals
                step_id = step.then if holds else step.otherwise
                continue
            nxt = spec.following(step)
            if not nxt:
                return await self._finish(inp, EnrolmentState.completed, step_id)
            step_id = nxt[0]

    async def _send(self, inp: JourneyContactInput, step_id: str) -> str | None:
        """Send the step's message; the exit reason when the contact left meanwhile."""
        while True:  # quiet hours end at a time of day: at most a round or two
            out: JourneySendOutcome = await workflow.execute_activity(
                SEND_STEP,
                JourneyStepSend(enrolment_id=inp.enrolment_id, step_id=step_id, at=workflow.now()),
                result_type=JourneySendOutcome,
                task_queue=inp.send_task_queue,
                # One message; a worker killed mid-send is noticed (and the send retried) then.
                start_to_close_timeout=timedelta(minutes=1),
                retry_policy=RETRY,
            )
            if out.status == "exit":
                return out.exit_reason
            if out.status != "quiet" or out.quiet_until is None:
                return None
            await workflow.sleep(max(out.quiet_until - workflow.now(), timedelta(seconds=1)))

    async def _finish(
        self, inp: JourneyContactInput, state: EnrolmentState, step_id: str, reason: str = ""
    ) -> str:
        await workflow.execute_activity(
            FINISH,
            FinishEnrolment(
                enrolment_id=inp.enrolment_id,
                state=state.value,
                step_id=step_id,
                exit_reason=reason,
                at=workflow.now(),
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )
        return state.value if not reason else f"{state.value}:{reason}"
