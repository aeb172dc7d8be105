"""The reporting rollup's database side, run by ReportRollupWorkflow."""

from __future__ import annotations

from sqlalchemy import Engine
from temporalio import activity

from models.report_rollup_io import BrandRollup, BrandRollupInput
from services.reporting import rollup
from workflows.report_rollup import BRANDS_TO_ROLL, ROLL_UP_BRAND


class ReportActivities:
    """Bound to the worker's engine; sync, so it runs on the worker's thread pool."""

    def __init__(self, engine: Engine, lookback_days: int = rollup.LOOKBACK_DAYS) -> None:
        self._engine = engine
        self._lookback_days = lookback_days

    @activity.defn(name=BRANDS_TO_ROLL)
    def report_brands_to_roll(self) -> list[int]:
        return rollup.brands_to_roll(self._engine)

    @activity.defn(name=ROLL_UP_BRAND)
    def roll_up_brand(self, job: BrandRollupInput) -> BrandRollup:
        """Idempotent: a retry rewrites the same days with the same rows."""
        done = rollup.roll_up(
            self._engine, job.brand_id, job.today, lookback_days=self._lookback_days
        )
        return BrandRollup(
            brand_id=done.brand_id,
            closed_from=done.closed_from,
            closed_until=done.closed_until,
            days=done.days,
            rows=done.rows,
        )
