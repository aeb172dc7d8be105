"""The API's calls to an order's PrintOrderWorkflow: start it, send a decision or a
cancellation (refusals as HTTP problems), signal a vendor callback."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from core.errors import Conflict
from core.settings import Settings
from models.print_order_io import PrintOrderInput, VendorStatus
from models.print_orders import PrintOrder
from services.workflow_updates import problem_from
from workflows.print_order import PrintOrderWorkflow


def workflow_input(settings: Settings, order: PrintOrder) -> PrintOrderInput:
    assert order.id is not None
    return PrintOrderInput(
        print_order_id=order.id,
        partner_id=order.partner_id,
        ordered_by=order.ordered_by,
        wanted_by=order.wanted_by,
        accept_within_hours=settings.print_vendor_accept_hours,
        submit_timeout_seconds=settings.print_vendor_timeout + 15,
        documents_task_queue=settings.temporal_documents_task_queue,
    )


async def start(client: Client, settings: Settings, order: PrintOrder) -> None:
    """Start the order's workflow (a running one is kept: a retried create is harmless). A
    closed execution of the same id belongs to an order of an earlier database (ids come
    again after a reset): the caller starts only orders still `quoted`."""
    await client.start_workflow(
        PrintOrderWorkflow.run,
        workflow_input(settings, order),
        id=order.workflow_id,
        task_queue=settings.temporal_task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    )


async def update(client: Client, order: PrintOrder, update: Any, arg: Any) -> str:
    handle = client.get_workflow_handle(order.workflow_id)
    try:
        result: str = await handle.execute_update(update, arg, result_type=str)
    except WorkflowUpdateFailedError as err:
        raise problem_from(err, f"print order {order.id}") from err
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise  # the workflow service is down: api/problems.py answers 503
        raise Conflict(
            f"print order {order.id} is {order.state.value}: it takes no action"
        ) from err
    return result


async def signal_status(client: Client, order: PrintOrder, status: VendorStatus) -> bool:
    """False when the order's workflow has ended (a late duplicate of a final status)."""
    try:
        await client.get_workflow_handle(order.workflow_id).signal(
            PrintOrderWorkflow.vendor_status, status
        )
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True
