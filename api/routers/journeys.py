"""Lifecycle journeys: HQ designs them (versions, publish, retire, the diagram); a partner's
editor or GM switches one on with the partner's content, the approval chain decides it, the GM
switches it off. docs/journeys.md describes the design and the approval."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import RequestIdDep, SessionDep, SettingsDep, TemporalDep
from api.routers.params import PagingDep, page_of
from api.security import Authorize
from core.errors import NotFound
from core.policy import Permission, Principal
from domain.journeys import ActivationState, JourneyState
from models.journey_schemas import (
    ActivationDecideBody,
    ActivationRead,
    DiagramRead,
    JourneyCreate,
    JourneyDetail,
    JourneyRead,
    JourneyVersionCreate,
    JourneyVersionRead,
    SwitchOffBody,
    SwitchOnBody,
)
from models.journeys import JourneyActivation
from models.schemas import Page
from services.journeys import activation, design, reads
from services.org import Actor

router = APIRouter(prefix="/api/v1/journeys", tags=["journeys"])
JourneyReader = Annotated[Principal, Depends(Authorize(Permission.journey_read))]
JourneyManager = Annotated[Principal, Depends(Authorize(Permission.journey_manage))]
# Refused before any lookup when the role never may; the partner's own grant is checked after.
JourneyRequester = Annotated[Principal, Depends(Authorize(Permission.partner_campaign_edit))]
JourneySwitcher = Annotated[Principal, Depends(Authorize(Permission.journey_activate))]


@router.get(
    "", response_model=Page[JourneyRead], operation_id="list_journeys", summary="List journeys"
)
def list_journeys(
    principal: JourneyReader,
    session: SessionDep,
    paging: PagingDep,
    state: JourneyState | None = None,
    sort: str = reads.JOURNEYS.sort_query(),
) -> Page[JourneyRead]:
    """HQ sees drafts too; everyone else the published and retired ones."""
    result = reads.page_journeys(session, principal, paging, sort, state)
    active = reads.active_partners(session, [j.id for j in result.items if j.id is not None])
    return page_of(result, paging, (reads.read(j, active.get(j.id or 0, 0)) for j in result.items))


@router.post(
    "",
    response_model=JourneyDetail,
    status_code=201,
    operation_id="create_journey",
    summary="Create a journey with its first version (HQ)",
)
def create_journey(
    principal: JourneyManager, session: SessionDep, rid: RequestIdDep, body: JourneyCreate
) -> JourneyDetail:
    journey = design.create(session, Actor(principal, rid), body)
    return reads.detail(session, journey)


@router.get(
    "/{journey_id}",
    response_model=JourneyDetail,
    operation_id="read_journey",
    summary="Read a journey with its versions",
)
def read_journey(principal: JourneyReader, session: SessionDep, journey_id: int) -> JourneyDetail:
    return reads.detail(session, design.load(session, principal, journey_id))


@router.post(
    "/{journey_id}/versions",
    response_model=JourneyVersionRead,
    status_code=201,
    operation_id="add_journey_version",
    summary="Add a version (a change is a new version; versions never change)",
)
def add_journey_version(
    principal: JourneyReader,
    session: SessionDep,
    rid: RequestIdDep,
    journey_id: int,
    body: JourneyVersionCreate,
) -> JourneyVersionRead:
    journey = design.load(session, principal, journey_id, Permission.journey_manage)
    v = design.add_version(session, Actor(principal, rid), journey, body)
    return JourneyVersionRead.model_validate(v, from_attributes=True)


@router.post(
    "/{journey_id}/publish",
    response_model=JourneyDetail,
    operation_id="publish_journey",
    summary="Publish a journey: partners may switch it on",
)
def publish_journey(
    principal: JourneyReader, session: SessionDep, rid: RequestIdDep, journey_id: int
) -> JourneyDetail:
    journey = design.load(session, principal, journey_id, Permission.journey_manage)
    return reads.detail(session, design.publish(session, Actor(principal, rid), journey))


@router.post(
    "/{journey_id}/retire",
    response_model=JourneyDetail,
    operation_id="retire_journey",
    summary="Retire a journey: nobody new enrols, nobody switches it on",
)
def retire_journey(
    principal: JourneyReader, session: SessionDep, rid: RequestIdDep, journey_id: int
) -> JourneyDetail:
    journey = design.load(session, principal, journey_id, Permission.journey_manage)
    return reads.detail(session, design.retire(session, Actor(principal, rid), journey))


@router.get(
    "/{journey_id}/diagram",
    response_model=DiagramRead,
    operation_id="read_journey_diagram",
    summary="A version's design as a mermaid flowchart (default: the current version)",
)
def read_journey_diagram(
    principal: JourneyReader,
    session: SessionDep,
    journey_id: int,
    version: Annotated[int | None, Query(ge=1, le=100_000)] = None,
) -> DiagramRead:
    return reads.diagram_of(session, design.load(session, principal, journey_id), version)


@router.get(
    "/{journey_id}/activations",
    response_model=Page[ActivationRead],
    operation_id="list_journey_activations",
    summary="The partners that switched the journey on (partners: their own), with counts",
)
def list_journey_activations(
    principal: JourneyReader,
    session: SessionDep,
    paging: PagingDep,
    journey_id: int,
    state: ActivationState | None = None,
    sort: str = reads.ACTIVATIONS.sort_query(),
) -> Page[ActivationRead]:
    journey = design.load(session, principal, journey_id)
    assert journey.id is not None
    result = reads.page_activations(session, principal, journey.id, paging, sort, state)
    return page_of(result, paging, reads.activation_reads(session, list(result.items)))


def _one(session: SessionDep, row: JourneyActivation) -> ActivationRead:
    return reads.activation_reads(session, [row])[0]


@router.post(
    "/{journey_id}/activations/{partner_id}/switch-on",
    response_model=ActivationRead,
    operation_id="switch_journey_on",
    summary="Switch a journey on for your partner, with its content (the approval chain decides)",
)
async def switch_journey_on(
    principal: JourneyRequester,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    rid: RequestIdDep,
    journey_id: int,
    partner_id: int,
    body: SwitchOnBody,
) -> ActivationRead:
    journey = design.load(session, principal, journey_id)
    partner = activation.load_partner(session, principal, journey, partner_id)
    row = await activation.switch_on(
        session, temporal.get, settings, Actor(principal, rid), journey, partner, body.values
    )
    return _one(session, row)


@router.post(
    "/{journey_id}/activations/{partner_id}/switch-off",
    response_model=ActivationRead,
    operation_id="switch_journey_off",
    summary="Switch a journey off for your partner (the GM)",
)
async def switch_journey_off(
    principal: JourneySwitcher,
    session: SessionDep,
    temporal: TemporalDep,
    rid: RequestIdDep,
    journey_id: int,
    partner_id: int,
    body: SwitchOffBody | None = None,
) -> ActivationRead:
    journey = design.load(session, principal, journey_id)
    partner = activation.load_partner(session, principal, journey, partner_id)
    reason = body.reason if body else ""
    row = await activation.switch_off(
        session, temporal.get, Actor(principal, rid), journey, partner, reason
    )
    return _one(session, row)


@router.post(
    "/{journey_id}/activations/{partner_id}/decide",
    response_model=ActivationRead,
    operation_id="decide_journey_activation",
    summary="Decide a partner's switch-on request (whoever its approval chain waits for)",
)
async def decide_journey_activation(
    principal: JourneyReader,
    session: SessionDep,
    temporal: TemporalDep,
    journey_id: int,
    partner_id: int,
    body: ActivationDecideBody,
) -> ActivationRead:
    journey = design.load(session, principal, journey_id)
    partner = activation.load_partner(session, principal, journey, partner_id)
    row = activation.find(session, journey_id, partner_id)
    if row is None:
        raise NotFound("journey activation", f"of partner {partner.id}")
    row = await activation.decide(
        session, temporal.get, principal, row, body.decision, body.comment
    )
    return _one(session, row)
