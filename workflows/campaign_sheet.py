"""CampaignSheetWorkflow: one uploaded campaign sheet, from validation to launched campaigns.

validate every row (activity) -> invalid, or ready -> wait for HQ's confirmation (Update
`confirm`, refused by its validator unless the sheet is ready and unconfirmed) or expire ->
check again and mark creating -> create and launch the rows in batches -> completed | failed.

The id is made of the brand, the file's SHA-256 and the import attempt (none for the first),
so the same file is one import while it is live. Creation
is idempotent per row (an Idempotency-Key of sheet hash and row number, and a launch that only
makes sure a running campaign's workflow exists): a retried batch or a killed worker never
creates a row twice. Progress is the workflow's current details (Temporal UI) and the sheet's
row (`rows_done`, portal and API).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from models.campaign_sheet_io import (
        SheetChecked,
        SheetConfirm,
        SheetInput,
        SheetProgress,
        SheetRows,
    )

R = TypeVar("R")
VALIDATE_SHEET = "validate_campaign_sheet"
BEGIN_SHEET = "begin_campaign_sheet"
CREATE_SHEET_ROWS = "create_campaign_sheet_rows"
FINISH_SHEET = "finish_campaign_sheet"
EXPIRE_SHEET = "expire_campaign_sheet"
BATCH = 20  # rows per creation activity: a retry redoes at most this many (idempotently)
SHEET_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=10,
)


def campaign_sheet_workflow_id(brand_id: int, sha256: str, attempt: int = 1) -> str:
    """One import per file and attempt: the first keeps the id sheets always had."""
    base = f"campaign-sheet-{brand_id}-{sha256}"
    return base if attempt == 1 else f"{base}-{attempt}"


@workflow.defn
class CampaignSheetWorkflow:
    def __init__(self) -> None:
        self._state = "validating"
        self._confirmed_by: int | None = None
        self._rows_total = 0
        self._rows_done = 0
        self._sheet_id = 0

    @workflow.run
    async def run(self, inp: SheetInput) -> SheetProgress:
        self._sheet_id = inp.sheet_id
        checked: SheetChecked = await self._step(VALIDATE_SHEET, inp.sheet_id, SheetChecked)
        self._rows_total = checked.rows_total
        if not checked.ok:
            return self._settle("invalid", f"{checked.problems} problem(s): nothing created")
        self._settle("ready", f"{checked.rows_total} rows valid: waiting for HQ's confirmation")
        try:
            await workflow.wait_condition(
                lambda: self._confirmed_by is not None,
                timeout=timedelta(seconds=inp.confirm_within),
            )
        except TimeoutError:
            await self._step(EXPIRE_SHEET, inp.sheet_id, SheetProgress)
            return self._settle("failed", "expired: nobody confirmed it; nothing created")
        assert self._confirmed_by is not None
        checked = await self._step(
            BEGIN_SHEET, inp.sheet_id, SheetChecked, SheetConfirm(user_id=self._confirmed_by)
        )
        if not checked.ok:
            return self._settle("invalid", f"{checked.problems} problem(s) at confirmation")
        self._settle("creating", f"0/{self._rows_total} rows created")
        for start in range(0, self._rows_total, BATCH):
            done: SheetProgress = await workflow.execute_activity(
                CREATE_SHEET_ROWS,
                SheetRows(
                    sheet_id=inp.sheet_id,
                    user_id=self._confirmed_by,
                    start=start,
                    stop=min(start + BATCH, self._rows_total),
                    task_queue=inp.task_queue,
                    delivery_task_queue=inp.delivery_task_queue,
                ),
                result_type=SheetProgress,
                start_to_close_timeout=timedelta(minutes=10),
                heartbeat_timeout=timedelta(minutes=2),
                retry_policy=SHEET_RETRY,
            )
            self._rows_done = done.rows_done
            workflow.set_current_details(f"{self._rows_done}/{self._rows_total} rows created")
        final = await self._step(FINISH_SHEET, inp.sheet_id, SheetProgress)
        return self._settle(final.state, f"{final.rows_done}/{self._rows_total} rows created")

    async def _step(self, name: str, arg: object, result: type[R], *more: object) -> R:
        out: R = await workflow.execute_activity(
            name,
            args=[arg, *more],
            result_type=result,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=SHEET_RETRY,
        )
        return out

    def _settle(self, state: str, details: str) -> SheetProgress:
        self._state = state
        workflow.set_current_details(f"{state}: {details}")
        return self.progress()

    @workflow.query
    def progress(self) -> SheetProgress:
        return SheetProgress(
            sheet_id=self._sheet_id,
            state=self._state,
            rows_total=self._rows_total,
            rows_done=self._rows_done,
        )

    @workflow.update
    async def confirm(self, confirm: SheetConfirm) -> SheetProgress:
        """Returns once creation has begun (or the re-check refused the sheet), so the caller
        reads the sheet's new state. Two confirmations in one workflow task both pass the
        validator (it runs before either handler); the second is refused here."""
        if self._confirmed_by is not None:
            raise ApplicationError("the sheet is already confirmed", type="conflict")
        self._confirmed_by = confirm.user_id
        await workflow.wait_condition(lambda: self._state != "ready")
        return self.progress()

    @confirm.validator
    def _check_confirm(self, confirm: SheetConfirm) -> None:
        if self._state != "ready":
            raise ApplicationError(
                f"the sheet is {self._state}: only a ready sheet can be confirmed", type="conflict"
            )
        if self._confirmed_by is not None:
            raise ApplicationError("the sheet is already confirmed", type="conflict")
