"""JourneySweepWorkflow: one tick of the journey sweep schedule (core/journey_schedule.py).

For every `active` activation it walks the partner's contacts page by page; each page is one
activity that writes the due contacts' enrolment rows and starts their workflows with the
worker's client, a bounded number in flight (activities/journeys.py). Activations run a few
at a time, their pages one after another, so a club switching a journey on for 100,000
contacts, or thousands of birthdays on one morning, reach Temporal at the pace of one
rolling window per activation in flight, not all at once. A long sweep continues as new
after a batch of activations, so its history stays small.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from models.journey_io import EnrolledPage, EnrolPage, JourneySweepInput, JourneySweepResult

ACTIVATIONS = "journey_activations_to_sweep"
ENROL_PAGE = "enrol_journey_page"
PARALLEL = 4  # activations swept at once (each has one page, and its starts, in flight)
HISTORY_LIMIT = 8_000  # events before the sweep continues as new with the activations left

RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=10,
)


@workflow.defn(name="JourneySweepWorkflow")
class JourneySweepWorkflow:
    @workflow.run
    async def run(self, inp: JourneySweepInput | None = None) -> JourneySweepResult:
        inp = inp or JourneySweepInput()  # the schedule starts it without arguments
        at = inp.at or workflow.now()
        contact_queue = inp.contact_task_queue or workflow.info().task_queue
        ids: list[int] = await workflow.execute_activity(
            ACTIVATIONS,
            inp.after_activation_id,
            result_type=list[int],
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=RETRY,
        )
        out = JourneySweepResult()
        gate = asyncio.Semaphore(PARALLEL)

        async def sweep(activation_id: int) -> None:
            async with gate:
                after: int | None = 0
                while after is not None:
                    page: EnrolledPage = await workflow.execute_activity(
                        ENROL_PAGE,
                        EnrolPage(
                            activation_id=activation_id,
                            at=at,
                            after_contact_id=after,
                            contact_task_queue=contact_queue,
                            send_task_queue=inp.send_task_queue,
                        ),
                        result_type=EnrolledPage,
                        start_to_close_timeout=timedelta(minutes=10),
                        heartbeat_timeout=timedelta(seconds=60),
                        retry_policy=RETRY,
                    )
                    out.pages += 1
                    out.scanned += page.scanned
                    out.enrolled += page.enrolled
                    out.started += page.started
                    after = page.next_contact_id

        for first in range(0, len(ids), PARALLEL * 4):
            batch = ids[first : first + PARALLEL * 4]
            await asyncio.gather(*(sweep(i) for i in batch))
            out.activations += len(batch)
            left = first + len(batch) < len(ids)
            if left and workflow.info().get_current_history_length() > HISTORY_LIMIT:
                workflow.continue_as_new(
                    inp.model_copy(update={"at": at, "after_activation_id": batch[-1]})
                )
        return out
