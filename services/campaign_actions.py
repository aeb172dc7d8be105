"""Campaign actions that involve the workflows: launch, cancel, extend, add partners, and the
partner campaign's human actions. Rows are committed before a workflow is told, so an activity
never looks for a row that is not there yet; every start is idempotent by workflow id."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from approvals.policy import PinnedPolicy
from content.spec import FieldError as SlotError
from content.validate import validate_values
from core.db import release_connection
from core.errors import Conflict, FieldError, NotFound, Problem
from core.policy import Permission, Principal, actor_of
from domain.search_attributes import email_channel
from domain.states import CampaignState, PartnerCampaignState, TemplateState
from domain.workflow_ids import campaign_workflow_id
from models.base import utcnow
from models.campaigns import Campaign, PartnerCampaign
from models.org import Brand, Partner
from models.series import SeriesOccurrence
from models.templates import TemplateVersion
from models.workflow_io import (
    CampaignShared,
    CampaignWorkflowInput,
    PartnerAction,
    PartnerCampaignStatus,
)
from services import campaigns as crud
from services import inbox
from services.approvals import facts as approval_facts
from services.approvals import policies as approval_policies
from services.approvals.delegations import Identity
from services.audience import check_segment
from services.campaigns import aware
from services.org import Actor, record, snapshot
from services.reporting import facts as reporting_facts
from services.templates import brand_rules, content_of, validation_context
from services.workflow_updates import problem_from
from workflows.campaign import CampaignWorkflow
from workflows.partner_campaign import PartnerCampaignWorkflow


def shared_for(
    session: Session, campaign: Campaign, delivery_task_queue: str | None = None
) -> CampaignShared:
    assert campaign.id is not None
    version = session.get(TemplateVersion, campaign.template_version_id)
    brand = session.get(Brand, campaign.brand_id)
    if version is None or brand is None:
        raise NotFound("template version", campaign.template_version_id)
    content = content_of(version)
    return CampaignShared(
        campaign_id=campaign.id,
        brand_id=campaign.brand_id,
        name=campaign.name,
        mode=campaign.mode,
        approval_policy=campaign.approval_policy,
        personalise_until=aware(campaign.personalise_until),
        send_by=aware(campaign.send_by),
        remind_after=campaign.remind_after,
        escalate_after=campaign.escalate_after,
        defaults=dict(campaign.defaults),
        content=content.model_dump(mode="json"),
        brand_rules=brand_rules(brand).model_dump(mode="json"),
        template_version_id=version.id,
        delivery_task_queue=delivery_task_queue,
        approval=approval_policies.pin(session, campaign, content),
        series_id=_series_id(session, campaign.id),
    )


def _series_id(session: Session, campaign_id: int) -> int | None:
    """The series a campaign is an occurrence of (its partners may hold standing approvals)."""
    occurrence = session.exec(
        select(SeriesOccurrence).where(SeriesOccurrence.campaign_id == campaign_id)
    ).first()
    return occurrence.series_id if occurrence is not None else None


async def _start_campaign(client: Client, task_queue: str, shared: CampaignShared) -> None:
    await client.start_workflow(
        CampaignWorkflow.run,
        CampaignWorkflowInput(shared=shared),
        id=campaign_workflow_id(shared.campaign_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=email_channel(),
        static_summary=f"Campaign {shared.name} (mode {shared.mode}, "
        f"approval {shared.approval_policy})",
    )


def check_launch_window(session: Session, campaign: Campaign) -> TemplateVersion:
    """A launch needs an open window and a published version (FieldError otherwise)."""
    if aware(campaign.personalise_until) <= utcnow():
        raise FieldError("personalise_until", "is in the past: extend the window first")
    version = session.get(TemplateVersion, campaign.template_version_id)
    if version is None or version.state != TemplateState.published:
        raise FieldError("template_version_id", "must be a published template version")
    return version


def launch_plan(
    session: Session, campaign: Campaign, version: TemplateVersion
) -> tuple[PinnedPolicy, list[Partner]]:
    """The policy version a draft's launch pins and the partners it invites; refused
    (FieldError) when the policy does not fit the template or the target names no partner.
    Campaign sheets run this on each row (with an unsaved Campaign) before creating any."""
    pinned = approval_policies.pin(session, campaign, content_of(version))
    partners = crud.resolve_target_partners(session, campaign)
    if not partners:
        raise FieldError("target", "names no partner")
    return pinned, partners


def mark_launched(
    session: Session, actor: Actor, campaign: Campaign, version: TemplateVersion
) -> None:
    """A draft's launch in the database (not committed): the pinned policy version, one
    partner campaign row per target partner, state running. The workflow starts after the
    commit; catalogue orders write this in the transaction that creates the campaign."""
    pinned, partners = launch_plan(session, campaign, version)
    campaign.approval_policy_version_id = pinned.version_id
    before = snapshot(campaign)
    crud.create_partner_campaigns(session, campaign, partners)
    campaign.state = CampaignState.running
    campaign.workflow_id = campaign_workflow_id(campaign.id or 0)
    campaign.launched_at = utcnow()
    campaign.updated_at = utcnow()
    session.add(campaign)
    record(session, actor, "campaign.launched", campaign, before, snapshot(campaign))


async def launch(
    session: Session,
    client: Client,
    task_queue: str,
    actor: Actor,
    campaign: Campaign,
    *,
    delivery_task_queue: str,
) -> Campaign:
    """draft -> running: one partner campaign row per target partner, then the workflow.
    Launching a running campaign again only makes sure its workflow exists."""
    if campaign.state not in (CampaignState.draft, CampaignState.running):
        raise Conflict(f"campaign {campaign.id} is {campaign.state}: it cannot be launched")
    version = check_launch_window(session, campaign)
    if campaign.state == CampaignState.draft:
        mark_launched(session, actor, campaign, version)
        session.commit()
    shared = shared_for(session, campaign, delivery_task_queue)
    await _start_campaign(client, task_queue, shared)
    return campaign


def _running(campaign: Campaign) -> None:
    if campaign.state != CampaignState.running:
        raise Conflict(f"campaign {campaign.id} is {campaign.state}, not running")


async def cancel(session: Session, client: Client, actor: Actor, campaign: Campaign) -> Campaign:
    _running(campaign)
    before = snapshot(campaign)
    campaign.state = CampaignState.cancelled
    campaign.updated_at = utcnow()
    session.add(campaign)
    record(session, actor, "campaign.cancelled", campaign, before, snapshot(campaign))
    session.commit()
    await _signal(client, campaign, CampaignWorkflow.cancel)
    return campaign


async def extend(
    session: Session, client: Client, actor: Actor, campaign: Campaign, until: datetime
) -> Campaign:
    _running(campaign)
    until = aware(until)
    if until <= aware(campaign.personalise_until):
        raise FieldError("personalise_until", "must be later than the current window end")
    if until > aware(campaign.send_by):
        raise FieldError("personalise_until", "must not be after send_by")
    before = snapshot(campaign)
    campaign.personalise_until = until
    campaign.updated_at = utcnow()
    session.add(campaign)
    record(session, actor, "campaign.extended", campaign, before, snapshot(campaign))
    session.commit()
    await _signal(client, campaign, CampaignWorkflow.extend, until)
    return campaign


async def add_partners(
    session: Session, client: Client, actor: Actor, campaign: Campaign, partner_ids: list[int]
) -> list[PartnerCampaign]:
    _running(campaign)
    partners = session.exec(
        select(Partner).where(
            col(Partner.id).in_(partner_ids), Partner.brand_id == campaign.brand_id
        )
    ).all()
    missing = sorted(set(partner_ids) - {p.id for p in partners})
    if missing:
        raise FieldError("partners", f"unknown partner ids: {', '.join(map(str, missing))}")
    rows = crud.create_partner_campaigns(session, campaign, list(partners))
    record(session, actor, "campaign.partners_added", campaign, None, {"partners": partner_ids})
    session.commit()
    ids = [r.id for r in rows if r.id is not None]
    if ids:
        await _signal(client, campaign, CampaignWorkflow.add_partners, ids)
    return rows


async def _signal(client: Client, campaign: Campaign, signal: Any, *args: Any) -> None:
    handle = client.get_workflow_handle(campaign_workflow_id(campaign.id or 0))
    await handle.signal(signal, *args)


# Partner campaigns -----------------------------------------------------------------------------


def full_validation(
    session: Session, row: PartnerCampaign, values: dict[str, Any]
) -> list[SlotError]:
    """Every content rule including the asset library's (the workflow re-checks the rest)."""
    campaign = session.get(Campaign, row.campaign_id)
    partner = session.get(Partner, row.partner_id)
    version = session.get(TemplateVersion, campaign.template_version_id) if campaign else None
    if campaign is None or partner is None or version is None:
        raise NotFound("partner campaign", row.id)
    content = content_of(version)
    ctx = validation_context(
        session,
        row.brand_id,
        partner,
        row.locale,
        utcnow().date(),
        aware(campaign.send_by).date(),
        content=content,
        values=values,
        today=utcnow().date(),
    )
    return validate_values(content, values, ctx)


def refuse_invalid(errors: list[SlotError]) -> None:
    if errors:
        raise Problem(
            "; ".join(e.message for e in errors),
            status=422,
            title="Invalid values",
            errors=[e.model_dump() for e in errors],
        )


def check_values(
    session: Session,
    principal: Principal,
    row: PartnerCampaign,
    action: str,
    values: dict[str, Any],
) -> None:
    """Refuse invalid values, and keep each rule that refused them for the quality report
    (committed before the refusal: the request's transaction ends with the error)."""
    errors = full_validation(session, row, values)
    if errors:
        reporting_facts.record_refusals(
            session, row, actor_of(principal).user_id, action, [(e.field, e.code) for e in errors]
        )
        session.commit()
    refuse_invalid(errors)


# Right after a launch the rows exist a moment before their workflows: an action then waits
# this long for the workflow to start before answering "being started, try again".
STARTING_WAIT = (0.2, 0.4, 0.8, 1.6)


async def act(
    client: Client, row: PartnerCampaign, update: Any, action: PartnerAction
) -> PartnerCampaignStatus:
    """One Update on the partner's workflow; refusals come back as the right HTTP problem."""
    handle = client.get_workflow_handle(row.workflow_id)
    waits = list(STARTING_WAIT)
    while True:
        try:
            status: PartnerCampaignStatus = await handle.execute_update(
                update, action, result_type=PartnerCampaignStatus
            )
            return status
        except WorkflowUpdateFailedError as err:
            raise problem_from(err, f"partner campaign {row.id}") from err
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise  # the workflow service is down or failing: api/problems.py says 503
            if row.state != PartnerCampaignState.invited:
                raise Conflict(
                    f"partner campaign {row.id} is {row.state}: it takes no more actions"
                ) from err
            if not waits:  # still no workflow: the campaign's fan-out is under way
                raise Problem(
                    f"partner campaign {row.id} is being started; try again in a moment",
                    status=503,
                    title="Being started",
                    headers={"Retry-After": "2"},
                ) from err
            await asyncio.sleep(waits.pop(0))


async def _update_and_reread(
    session: Session,
    connect: Callable[[], Awaitable[Client]],
    row: PartnerCampaign,
    update: Any,
    action: PartnerAction,
) -> PartnerCampaign:
    """The Update, with the session's connection given back while it waits (core.db says
    why), then the row as the workflow's projection left it."""
    release_connection(session)
    await act(await connect(), row, update, action)
    session.refresh(row)
    return row


async def perform(
    session: Session,
    connect: Callable[[], Awaitable[Client]],
    principal: Principal,
    partner_campaign_id: int,
    permission: Permission,
    update: Any,
    *,
    validate: Callable[[PartnerCampaign], dict[str, Any]] | None = None,
    **fields: Any,
) -> PartnerCampaign:
    """One human action as the API and the portal both take it: load within the caller's
    reach, optionally validate values (given, or the saved ones) with every content rule, send
    one Update as the caller, answer with the refreshed projection row. Temporal is connected
    (`connect`) only once access is checked, so a refusal never waits on the server."""
    row = crud.load_partner_campaign(session, principal, partner_campaign_id, permission)
    if validate is not None:
        check_values(session, principal, row, "save", validate(row))
    action = PartnerAction(actor=actor_of(principal), **fields)
    return await _update_and_reread(session, connect, row, update, action)


async def submit(
    session: Session,
    connect: Callable[[], Awaitable[Client]],
    principal: Principal,
    partner_campaign_id: int,
    segment_id: int | None,
) -> PartnerCampaign:
    """Submit the saved content for approval to the partner's own segment (None: everyone);
    another partner's segment is refused before the workflow hears of it."""

    row = crud.load_partner_campaign(
        session, principal, partner_campaign_id, Permission.partner_campaign_edit
    )
    if segment_id is not None:
        check_segment(session, row, segment_id)
    check_values(session, principal, row, "submit", row.values)
    facts = approval_facts.gather(session, row, segment_id=segment_id)
    action = PartnerAction(actor=actor_of(principal), segment_id=segment_id, facts=facts)
    return await _update_and_reread(session, connect, row, PartnerCampaignWorkflow.submit, action)


async def decide(
    session: Session,
    connect: Callable[[], Awaitable[Client]],
    principal: Principal,
    partner_campaign_id: int,
    *,
    decision: str,
    comment: str | None,
    revision: int | None = None,
) -> PartnerCampaign:
    """A decision on the waiting stage, by the caller or, for an approver who delegated to
    the caller, on that approver's behalf (counted for them, audited as such). The workflow
    re-checks everything with the approval engine."""
    row, identity = load_for_decision(session, principal, partner_campaign_id)
    action = PartnerAction(
        actor=actor_of(principal),
        on_behalf_of=actor_of(identity.principal) if identity.for_user else None,
        decision=decision,
        comment=comment,
        revision=revision,
    )
    return await _update_and_reread(session, connect, row, PartnerCampaignWorkflow.decide, action)


def load_for_decision(
    session: Session, principal: Principal, partner_campaign_id: int
) -> tuple[PartnerCampaign, Identity]:
    """The row and who the caller decides as: themselves (their read and decide permissions
    checked as for any action), else an approver who delegated to them and may decide the
    waiting stage (the approver's reach counts, not the delegate's)."""
    task = inbox.open_approval(session, partner_campaign_id)
    if task is not None:
        identity = inbox.acting_as(session, principal, task)
        if identity is not None and identity.for_user is not None:
            row = crud.load_partner_campaign(
                session, identity.principal, partner_campaign_id, Permission.partner_campaign_read
            )
            return row, identity
    row = crud.load_partner_campaign(
        session, principal, partner_campaign_id, Permission.partner_campaign_decide
    )
    return row, Identity(principal)


async def status_of(client: Client, row: PartnerCampaign) -> PartnerCampaignStatus | None:
    try:
        result: PartnerCampaignStatus = await client.get_workflow_handle(row.workflow_id).query(
            PartnerCampaignWorkflow.status
        )
    except RPCError:
        return None
    return result
