"""Creating a claim for a finished partner campaign or a delivered print order, and starting
its ClaimWorkflow (idempotent: one claim per subject, one workflow id per claim).

A subject without co-op money (no fund, no eligible spend, no vendor invoice) gets no claim;
that decision is an audit event of the subject, so "why is there no claim?" has an answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from core.settings import Settings
from domain.workflow_ids import claim_workflow_id
from models.campaigns import PartnerCampaign
from models.claim_io import ClaimInput, ClaimStart, ClaimStarted
from models.claims import Claim
from models.print_orders import PrintOrder
from services.audit import NewEvent, append_in
from services.claims import drafting
from storage.base import BlobStore


@dataclass(frozen=True)
class Created:
    claim: Claim | None
    reason: str


def _subject(start: ClaimStart) -> tuple[str, int]:
    if (start.partner_campaign_id is None) == (start.print_order_id is None):
        raise ValueError("a claim is for exactly one partner campaign or print order")
    if start.partner_campaign_id is not None:
        return "partner_campaign", start.partner_campaign_id
    assert start.print_order_id is not None
    return "print_order", start.print_order_id


def create(session: Session, settings: Settings, store: BlobStore, start: ClaimStart) -> Created:
    """The subject's claim (the existing one, or a new draft row), or None and why."""
    kind, subject_id = _subject(start)
    column = Claim.partner_campaign_id if kind == "partner_campaign" else Claim.print_order_id
    existing = session.exec(select(Claim).where(column == subject_id)).first()
    if existing is not None:
        return Created(existing, "exists")
    subject: PartnerCampaign | PrintOrder | None
    if kind == "partner_campaign":
        subject = session.get(PartnerCampaign, subject_id)
        draft = (
            drafting.for_partner_campaign(session, settings, store, subject, None)
            if subject is not None
            else None
        )
    else:
        subject = session.get(PrintOrder, subject_id)
        draft = drafting.for_print_order(session, subject) if subject is not None else None
    if subject is None:
        return Created(None, f"{kind.replace('_', ' ')} {subject_id} does not exist")
    if draft is None:
        reason = "no co-op fund covers its spend, or none of it is eligible"
        append_in(
            session,
            NewEvent(
                brand_id=subject.brand_id,
                region_id=subject.region_id,
                partner_id=subject.partner_id,
                actor="system",
                action="claim.not_drafted",
                entity_type=kind,
                entity_id=str(subject_id),
                event_key=f"claim-none-{kind}-{subject_id}",
                comment=reason,
            ),
        )
        return Created(None, reason)
    fund = draft.fund
    assert fund.id is not None
    claim = Claim(
        brand_id=subject.brand_id,
        region_id=subject.region_id,
        partner_id=subject.partner_id,
        fund_id=fund.id,
        partner_campaign_id=start.partner_campaign_id,
        print_order_id=start.print_order_id,
        currency=fund.currency,
        coop_share_bp=fund.coop_share_bp,
        window_closes_at=drafting.window_closes_at(fund),
    )
    session.add(claim)
    session.flush()
    assert claim.id is not None
    claim.workflow_id = claim_workflow_id(claim.id)
    return Created(claim, "created")


def claim_input(claim: Claim) -> ClaimInput:
    assert claim.id is not None
    return ClaimInput(
        claim_id=claim.id,
        brand_id=claim.brand_id,
        region_id=claim.region_id,
        partner_id=claim.partner_id,
        window_closes_at=claim.window_closes_at,
    )


async def start_workflow(client: Client, task_queue: str, inp: ClaimInput) -> bool:
    """True when this call started it; a running workflow with the id is left alone."""
    from workflows.claim import ClaimWorkflow  # the workflow module imports models only

    try:
        await client.start_workflow(
            ClaimWorkflow.run,
            inp,
            id=claim_workflow_id(inp.claim_id),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            static_summary=f"Co-op claim {inp.claim_id}",
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


async def start_claim(
    engine: Engine,
    settings: Settings,
    store: BlobStore,
    client: Client,
    task_queue: str,
    start: ClaimStart,
) -> ClaimStarted:
    with Session(engine, expire_on_commit=False) as session:
        created = create(session, settings, store, start)
        session.commit()
    if created.claim is None:
        return ClaimStarted(reason=created.reason)
    inp = claim_input(created.claim)
    started = await start_workflow(client, task_queue, inp)
    return ClaimStarted(
        claim_id=inp.claim_id,
        workflow_id=created.claim.workflow_id,
        started=started,
        reason=created.reason,
    )
