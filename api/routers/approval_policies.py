"""Approval policies as HQ designs them: list (the built-ins and the brand's own), create,
read, new version, archive; a policy's diagram; a dry run for one partner campaign.

A policy is addressed by its id, or a built-in by its name (`gm`, `gm_then_hq`, `none`): every
brand has the built-ins, and they can be read, drawn and explained but not changed (409).
Another brand's policy (and partner campaign) is a 404. Reading takes approval_policy.read;
creating, versioning and archiving approval_policy.manage (brand admins).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import PlainTextResponse, Response

from api.deps import RequestIdDep, SessionDep
from api.routers.params import PagingDep, page_of
from api.security import ApprovalPolicyManager, ApprovalPolicyReader
from models.approval_schemas import (
    INT64_MAX,
    DiagramRead,
    ExplainRead,
    PolicyCreate,
    PolicyDetail,
    PolicyRead,
    PolicyVersionCreate,
)
from models.schemas import Page
from services.approvals import explain as dry_run
from services.approvals import policies as svc
from services.approvals import policy_reads as reads
from services.org import Actor

router = APIRouter(prefix="/api/v1", tags=["approval-policies"])

PolicyKey = Annotated[
    str,
    Path(
        min_length=1,
        max_length=40,
        description="the policy's id, or a built-in policy's name: gm, gm_then_hq, none",
    ),
]


class DiagramFormat(StrEnum):
    json = "json"
    mermaid = "mermaid"


@router.get(
    "/approval-policies",
    response_model=Page[PolicyRead],
    summary="List approval policies (built-ins first)",
)
def list_approval_policies(
    principal: ApprovalPolicyReader,
    session: SessionDep,
    paging: PagingDep,
    archived: Annotated[
        bool | None,
        Query(description="true: archived only; false: active only; omitted: both"),
    ] = None,
    sort: str = reads.POLICIES.sort_query("(the built-ins always first)"),
) -> Page[PolicyRead]:
    """The built-in policies first (`builtin: true`, never archived), then the brand's own by
    name."""
    result = reads.list_page(session, principal, archived=archived, paging=paging, sort=sort)
    return page_of(result, paging, (reads.policy_read(r) for r in result.items))


@router.post(
    "/approval-policies",
    response_model=PolicyDetail,
    status_code=201,
    summary="Create an approval policy",
)
def create_approval_policy(
    principal: ApprovalPolicyManager, session: SessionDep, rid: RequestIdDep, body: PolicyCreate
) -> PolicyDetail:
    """Version 1 of a new policy of the caller's brand; every refusal names its field
    (`spec.stages.0.quorum`)."""
    view = svc.create(session, Actor(principal, rid), body.name, body.description, body.spec)
    return reads.policy_detail(reads.resolve(session, principal, str(view.policy.id)))


@router.get(
    "/approval-policies/{policy}",
    response_model=PolicyDetail,
    summary="Read an approval policy and its versions",
)
def read_approval_policy(
    principal: ApprovalPolicyReader, session: SessionDep, policy: PolicyKey
) -> PolicyDetail:
    """The current version's chain and the list of versions."""
    return reads.policy_detail(reads.resolve(session, principal, policy))


@router.post(
    "/approval-policies/{policy}/versions",
    response_model=PolicyDetail,
    status_code=201,
    summary="Add a new current version to an approval policy",
)
def create_approval_policy_version(
    principal: ApprovalPolicyManager,
    session: SessionDep,
    rid: RequestIdDep,
    policy: PolicyKey,
    body: PolicyVersionCreate,
) -> PolicyDetail:
    """A new current version: campaigns launched from now on pin it; campaigns already
    running keep the version they pinned. Built-in and archived policies answer 409."""
    view = reads.resolve_own(session, principal, policy)
    view = svc.new_version(session, Actor(principal, rid), view, body.spec)
    return reads.policy_detail(reads.resolve(session, principal, policy))


@router.post(
    "/approval-policies/{policy}/archive",
    response_model=PolicyDetail,
    summary="Archive an approval policy",
)
def archive_approval_policy(
    principal: ApprovalPolicyManager, session: SessionDep, rid: RequestIdDep, policy: PolicyKey
) -> PolicyDetail:
    """No new campaign may choose it; campaigns that pinned a version keep running it.
    Archiving twice changes nothing."""
    view = reads.resolve_own(session, principal, policy)
    svc.archive(session, Actor(principal, rid), view)
    return reads.policy_detail(reads.resolve(session, principal, policy))


@router.get(
    "/approval-policies/{policy}/diagram",
    response_model=DiagramRead,
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "JSON (the default), or the mermaid text with format=mermaid",
        }
    },
    summary="Draw an approval policy (JSON and mermaid)",
)
def approval_policy_diagram(
    principal: ApprovalPolicyReader,
    session: SessionDep,
    policy: PolicyKey,
    format: DiagramFormat = DiagramFormat.json,
) -> DiagramRead | Response:
    """The current version as a mermaid flowchart and as JSON (stages, approvers with the
    named users' names, conditions and timeouts in words)."""
    drawn = reads.diagram(session, reads.resolve(session, principal, policy))
    if format == DiagramFormat.mermaid:
        return PlainTextResponse(drawn.mermaid)
    return drawn


@router.get(
    "/approval-policies/{policy}/explain",
    response_model=ExplainRead,
    summary="Dry-run an approval policy for a partner campaign",
)
def explain_approval_policy(
    principal: ApprovalPolicyReader,
    session: SessionDep,
    policy: PolicyKey,
    partner_campaign_id: Annotated[
        int, Query(ge=1, le=INT64_MAX, description="a partner campaign the caller can read")
    ],
    segment_id: Annotated[
        int | None,
        Query(
            ge=1,
            le=INT64_MAX,
            description="the partner's segment to send to (default: the one it was submitted "
            "to, else everyone)",
        ),
    ] = None,
) -> ExplainRead:
    """A dry run of the current version with the facts a submission would carry now: which
    stages apply, which are skipped and by what condition, who would decide (ids and names),
    and stages nobody could pass (`staffing_gap`). Nothing is changed."""
    ref = reads.resolve(session, principal, policy)
    return dry_run.explain(session, principal, ref, partner_campaign_id, segment_id)
