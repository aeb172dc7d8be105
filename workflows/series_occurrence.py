"""SeriesOccurrenceWorkflow: what a series' Schedule starts at each occurrence.

It reads its occurrence's time (the Schedule's TemporalScheduledStartTime, or the time given,
as tests and a manual re-run pass it) and hands it to one idempotent activity that records the
occurrence and creates and launches its campaign through the normal launch path. No I/O here.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey

with workflow.unsafe.imports_passed_through():
    from models.series_io import OccurrenceOutcome, SeriesOccurrenceInput

OPEN_OCCURRENCE = "open_series_occurrence"
SCHEDULED_START = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")
OCCURRENCE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=10,
    non_retryable_error_types=["ValueError"],
)


@workflow.defn
class SeriesOccurrenceWorkflow:
    @workflow.run
    async def run(self, inp: SeriesOccurrenceInput) -> OccurrenceOutcome:
        at = inp.scheduled_at or self._scheduled_time()
        workflow.set_current_details(f"opening the occurrence of {at.isoformat()}")
        outcome: OccurrenceOutcome = await workflow.execute_activity(
            OPEN_OCCURRENCE,
            SeriesOccurrenceInput(series_id=inp.series_id, scheduled_at=at),
            result_type=OccurrenceOutcome,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=OCCURRENCE_RETRY,
        )
        detail = f"{outcome.occurs_on}: {outcome.state}"
        if outcome.campaign_id is not None:
            detail += f", campaign {outcome.campaign_id}"
        if outcome.reason:
            detail += f" ({outcome.reason})"
        workflow.set_current_details(detail)
        return outcome

    def _scheduled_time(self) -> datetime:
        """The Schedule's nominal time (not the start time, which a catch-up delays)."""
        at = workflow.info().typed_search_attributes.get(SCHEDULED_START)
        return at if at is not None else workflow.now()
