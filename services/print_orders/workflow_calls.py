"""The API's calls to an order's PrintOrderWorkflow: start it, send a decision or a
cancellation (refusals as HTTP problems), signal a vendor callback."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from approvals.facts import ApprovalFacts
from core.errors import Conflict
from core.policy import Target
from core.said import said
from core.settings import Settings
from domain.money import CostChannel
from i18n.labels import state_word
from models.base import utcnow
from models.campaigns import PartnerCampaign
from models.print_order_io import PrintOrderInput, VendorStatus
from models.print_orders import PrintOrder
from services.approvals import chain_tasks
from services.approvals.facts import role_holders_at
from services.funds.facts import money_facts
from services.workflow_updates import problem_from
from workflows.print_order import PrintOrderWorkflow


def workflow_input(session: Session, settings: Settings, order: PrintOrder) -> PrintOrderInput:
    """With the chain the partner campaign pinned, and the facts its stage conditions read:
    `expected_cost` is the vendor's quote, `fund_shortfall` HQ's share of it beyond what the
    partner's fund still has (a stage `fund_shortfall gt 0` sends it to HQ)."""
    assert order.id is not None
    pc = session.get(PartnerCampaign, order.partner_campaign_id)
    assert pc is not None
    target = Target(order.brand_id, order.region_id, order.partner_id)
    expected, shortfall = money_facts(
        session, order.partner_id, CostChannel.print.value, order.quote_minor, utcnow().date()
    )
    facts = ApprovalFacts(
        region_id=order.region_id,
        channel=CostChannel.print.value,
        audience_size=order.quantity,
        role_holders=role_holders_at(session, target),
        expected_cost=expected,
        fund_shortfall=shortfall,
    )
    return PrintOrderInput(
        print_order_id=order.id,
        brand_id=order.brand_id,
        region_id=order.region_id,
        partner_id=order.partner_id,
        ordered_by=order.ordered_by,
        policy=chain_tasks.print_order_policy(session, pc),
        facts=facts,
        wanted_by=order.wanted_by,
        accept_within_hours=settings.print_vendor_accept_hours,
        submit_timeout_seconds=settings.print_vendor_timeout + 15,
        documents_task_queue=settings.temporal_documents_task_queue,
    )


async def start(client: Client, session: Session, settings: Settings, order: PrintOrder) -> None:
    """Start the order's workflow (a running one is kept: a retried create is harmless). A
    closed execution of the same id belongs to an order of an earlier database (ids come
    again after a reset): the caller starts only orders still `quoted`."""
    await client.start_workflow(
        PrintOrderWorkflow.run,
        workflow_input(session, settings, order),
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
            said(
                "print order %(id)s is %(state)s: it takes no action",
                id=order.id,
                state=state_word(order.state),
            )
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
