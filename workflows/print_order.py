"""PrintOrderWorkflow (`print-order-<id>`): quote -> approval -> print-ready PDF (documents
queue) -> order at the vendor under the order's vendor_key -> the vendor's callbacks (accepted,
printed, shipped, delivered, as signals from the API after dedupe) -> spend booked, claim
started.

Every transition is projected to the order's row with an audit event. Timers watch the
vendor's SLA: not accepted within `accept_within_hours`, not shipped by the wanted day: the
miss is audited (the order's page shows it) and the workflow keeps waiting. A vendor refusal or
a PDF that cannot be made ends the order `failed` with the reason; an unreachable vendor is
retried for SUBMIT_WINDOW, then the order fails too (never retried silently for ever).

The approval is the shared approval chain (workflows.chain_runner.ChainRunner) with the policy
the partner campaign pinned: its `decide` Update, votes, reminders, escalations and audit
events are the chain's; this workflow audits only the order's own transitions.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from typing import Literal

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from approvals.engine import Outcome
    from domain.money import ChainSubject, PrintOrderState
    from models.chain_io import ChainDecision, ChainStatus, ChainTarget
    from models.print_order_io import (
        ClaimStart,
        PdfResult,
        PrintMoney,
        PrintOrderCancel,
        PrintOrderInput,
        PrintProjection,
        QuoteResult,
        SubmitResult,
        VendorLate,
        VendorStatus,
    )
    from workflows.chain_runner import ChainRunner

S = PrintOrderState
STEPS = ("accepted", "printed", "shipped", "delivered")
BEFORE_SUBMISSION = (S.quoted, S.pending_approval, S.approved)
DB_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=20,
)
VENDOR_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
)
SUBMIT_WINDOW = timedelta(hours=6)
PDF_TIMEOUT = timedelta(minutes=5)
# The claims' activity, invoked by name so print orders do not import claims.
CLAIM_ACTIVITY = "start_claim"
CLAIM_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=8,
)


@workflow.defn(name="PrintOrderWorkflow")
class PrintOrderWorkflow:
    @workflow.init
    def __init__(self, inp: PrintOrderInput) -> None:
        self._inp = inp
        self._state = S.quoted
        self._cancel: PrintOrderCancel | None = None
        self._statuses: dict[str, VendorStatus] = {}
        self.chain = ChainRunner(
            ChainSubject.print_order,
            inp.print_order_id,
            ChainTarget(brand_id=inp.brand_id, region_id=inp.region_id, partner_id=inp.partner_id),
            f"print order {inp.print_order_id}",
            portal_path=f"/print-orders/{inp.print_order_id}",
        )

    @workflow.query
    def state(self) -> str:
        return self._state.value

    @workflow.query
    def approval(self) -> ChainStatus:
        return self.chain.status()

    @workflow.signal
    def vendor_status(self, status: VendorStatus) -> None:
        """A vendor callback (deduplicated by the API; a repeat of a status is ignored)."""
        self._statuses.setdefault(status.status, status)

    @workflow.update
    async def decide(self, action: ChainDecision) -> ChainStatus:
        return await self.chain.decide(action)

    @decide.validator
    def _validate_decide(self, action: ChainDecision) -> None:
        self.chain.refusal(action)

    @workflow.update
    async def cancel(self, cancel: PrintOrderCancel) -> str:
        self._cancel = cancel
        if self._state == S.pending_approval:
            self.chain.withdraw(cancel.user_id, cancel.comment or "cancelled by the partner")
        return "cancelled"

    @cancel.validator
    def _may_cancel(self, cancel: PrintOrderCancel) -> None:
        if self._state not in BEFORE_SUBMISSION or self._cancel is not None:
            raise ApplicationError(
                f"the order is {self._state.value}: only an order not yet submitted to the "
                "vendor can be cancelled"
            )

    # ----------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: PrintOrderInput) -> str:
        quote: QuoteResult = await workflow.execute_activity(
            "quote_print_order",
            inp.print_order_id,
            result_type=QuoteResult,
            start_to_close_timeout=timedelta(minutes=2),
            schedule_to_close_timeout=SUBMIT_WINDOW,
            retry_policy=VENDOR_RETRY,
        )
        if quote.error:
            return await self._fail(quote.error, reserved=False)
        await self._project(
            S.pending_approval,
            "quoted",
            fields={"quote_minor": quote.total_minor, "currency": quote.currency},
        )
        outcome = await self.chain.run(inp.policy, inp.facts, inp.ordered_by)
        if self._cancel is not None:
            return await self._cancelled(reserved=False)
        if outcome != Outcome.approved:
            # The order cannot be changed: requested changes end it too (order again).
            await self._project(S.rejected, "order_rejected", comment=f"approval {outcome.value}")
            return self._state.value
        await self._project(S.approved, "order_approved")
        await self._money("reserve")
        if self._cancel is not None:
            return await self._cancelled(reserved=True)
        pdf: PdfResult = await workflow.execute_activity(
            "make_print_pdf",
            inp.print_order_id,
            result_type=PdfResult,
            task_queue=inp.documents_task_queue or None,
            start_to_close_timeout=PDF_TIMEOUT,
            retry_policy=DB_RETRY,
        )
        if pdf.error:
            return await self._fail(pdf.error, reserved=True)
        if self._cancel is not None:
            return await self._cancelled(reserved=True)
        # From here on no cancellation: the order is being placed.
        await self._project(
            S.submitting, "submitting", fields={"pdf_key": pdf.key, "pdf_sha256": pdf.sha256}
        )
        try:
            placed: SubmitResult = await workflow.execute_activity(
                "submit_print_order",
                inp.print_order_id,
                result_type=SubmitResult,
                start_to_close_timeout=timedelta(seconds=inp.submit_timeout_seconds),
                schedule_to_close_timeout=SUBMIT_WINDOW,
                retry_policy=VENDOR_RETRY,
            )
        except ActivityError as err:
            return await self._fail(f"the vendor could not be reached: {err.cause}", True)
        if placed.error:
            return await self._fail(placed.error, reserved=True)
        accept_by = workflow.now() + timedelta(hours=inp.accept_within_hours)
        await self._project(
            S.ordered,
            "ordered",
            fields={
                "vendor_order_id": placed.vendor_order_id,
                "vendor_due_at": accept_by.isoformat(),
            },
        )
        ship_by = datetime.combine(inp.wanted_by, time(0), tzinfo=UTC)
        # The SLA watchers run beside the steps: a late acceptance does not hide a late
        # shipment. Each ends when its step (or a later one) is reported.
        watchers = [
            asyncio.create_task(self._watch("accepted", accept_by)),
            asyncio.create_task(self._watch("shipped", ship_by)),
        ]
        for step in STEPS:
            await workflow.wait_condition(lambda step=step: self._reached(step))  # type: ignore[misc]
            status = self._statuses.get(step)
            if status is not None:
                await self._project_status(status)
        await asyncio.gather(*watchers)
        await self._money("book")
        await self._start_claim()
        return self._state.value

    def _reached(self, step: str) -> bool:
        rank = STEPS.index(step)
        return any(STEPS.index(s) >= rank for s in self._statuses)

    async def _watch(self, step: Literal["accepted", "shipped"], due: datetime) -> None:
        """Tell ops (audit, shown on the order) when the vendor has not reached `step` by
        `due`; the order keeps waiting for the vendor either way."""
        left = due - workflow.now()
        try:
            if left.total_seconds() > 0:
                await workflow.wait_condition(lambda: self._reached(step), timeout=left)
        except TimeoutError:
            pass
        if self._reached(step):
            return
        await workflow.execute_activity(
            "print_vendor_late",
            VendorLate(
                print_order_id=self._inp.print_order_id,
                missed=step,
                due=due.isoformat(timespec="seconds"),
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=DB_RETRY,
        )

    async def _project_status(self, status: VendorStatus) -> None:
        fields: dict[str, object] = {}
        if status.tracking_number:
            fields["tracking_number"] = status.tracking_number
            fields["tracking_url"] = status.tracking_url
        if status.status == "delivered":
            fields["proof_of_delivery"] = status.proof_of_delivery
            if status.invoice_minor is not None:
                fields["invoice_minor"] = status.invoice_minor
        await self._project(
            S(status.status), f"vendor_{status.status}", fields=fields, actor="vendor"
        )

    async def _start_claim(self) -> None:
        try:
            await workflow.execute_activity(
                CLAIM_ACTIVITY,
                ClaimStart(print_order_id=self._inp.print_order_id),
                start_to_close_timeout=timedelta(minutes=1),
                retry_policy=CLAIM_RETRY,
            )
        except ActivityError as err:
            workflow.logger.warning("the claim was not started: %s", err.cause)

    async def _money(self, action: Literal["reserve", "release", "book"]) -> None:
        await workflow.execute_activity(
            "print_order_money",
            PrintMoney(print_order_id=self._inp.print_order_id, action=action),
            result_type=int,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=DB_RETRY,
        )

    async def _cancelled(self, reserved: bool) -> str:
        assert self._cancel is not None
        await self._project(
            S.cancelled, "cancelled", actor=str(self._cancel.user_id), comment=self._cancel.comment
        )
        if reserved:
            await self._money("release")
        return self._state.value

    async def _fail(self, error: str, reserved: bool) -> str:
        await self._project(S.failed, "failed", error=error)
        if reserved:
            await self._money("release")
        return self._state.value

    async def _project(
        self,
        state: PrintOrderState,
        event: str,
        *,
        fields: dict[str, object] | None = None,
        actor: str = "",
        comment: str = "",
        error: str = "",
    ) -> None:
        self._state = state  # first: validators see the new state while the write runs
        await workflow.execute_activity(
            "project_print_order",
            PrintProjection(
                print_order_id=self._inp.print_order_id,
                state=state,
                actor=actor or f"workflow:{workflow.info().workflow_id}",
                event=event,
                fields=fields or {},
                comment=comment,
                error=error,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=DB_RETRY,
        )
