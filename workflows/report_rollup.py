"""ReportRollupWorkflow: one tick of the reporting rollup schedule (core/report_schedule.py).

Lists the brands and closes each one's finished days through an activity (the database work
is all there); `today` is the workflow's clock, so a replay and a retried brand close the same
days. A brand that keeps failing after its retries is logged and named in the result, and the
other brands are still rolled up: one brand's bad data must not freeze everyone's reports.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from models.report_rollup_io import BrandRollup, BrandRollupInput, ReportRollupSummary

BRANDS_TO_ROLL = "report_brands_to_roll"
ROLL_UP_BRAND = "roll_up_brand"
ROLLUP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=2),
    maximum_attempts=4,
)


@workflow.defn
class ReportRollupWorkflow:
    @workflow.run
    async def run(self) -> ReportRollupSummary:
        today = workflow.now().date()  # UTC: the workflow clock is timezone-aware UTC
        brand_ids: list[int] = await workflow.execute_activity(
            BRANDS_TO_ROLL,
            result_type=list[int],
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=ROLLUP_RETRY,
        )
        summary = ReportRollupSummary(today=today)
        for brand_id in brand_ids:
            try:
                done: BrandRollup = await workflow.execute_activity(
                    ROLL_UP_BRAND,
                    BrandRollupInput(brand_id=brand_id, today=today),
                    result_type=BrandRollup,
                    start_to_close_timeout=timedelta(minutes=20),
                    retry_policy=ROLLUP_RETRY,
                )
            except ActivityError as err:
                cause = err.cause if err.cause is not None else err
                workflow.logger.error("report rollup of brand %s failed: %s", brand_id, cause)
                done = BrandRollup(brand_id=brand_id, error=str(cause))
            summary.brands.append(done)
        if summary.failed:
            workflow.set_current_details(
                "failed brands: " + ", ".join(str(b.brand_id) for b in summary.failed)
            )
        return summary
