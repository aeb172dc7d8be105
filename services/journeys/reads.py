"""What the API and the portal show of journeys: the design with its versions, its diagram,
the partners that switched it on, and per activation its enrolments per state
(JourneyEnrolment) and sends per status (JourneySend), both written by the run side."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import ColumnElement, or_
from sqlmodel import Session, col, func, select

from core.policy import ROLE_PERMISSIONS, Permission, Principal
from domain.journeys import ActivationState, EnrolmentState, JourneyState
from domain.roles import ScopeType
from domain.states import DeliveryStatus
from models.journey_schemas import (
    ActivationRead,
    Counts,
    DiagramRead,
    JourneyDetail,
    JourneyRead,
    JourneyVersionRead,
)
from models.journey_spec import JourneySpec
from models.journeys import Journey, JourneyActivation, JourneyEnrolment, JourneySend
from models.org import Partner
from models.templates import Template, TemplateVersion
from services.journeys import definition, design, diagram
from services.paging import Key, Listing, Paged, PageRequest, fetch

JOURNEYS = Listing(
    "journeys",
    col(Journey.id),
    {
        "id": Key(col(Journey.id), "int"),
        "name": Key(col(Journey.name), "str"),
        "created_at": Key(col(Journey.created_at), "datetime"),
        "updated_at": Key(col(Journey.updated_at), "datetime"),
    },
    default="-id",
)
ACTIVATIONS = Listing(
    "journey_activations",
    col(JourneyActivation.id),
    {
        "id": Key(col(JourneyActivation.id), "int"),
        "updated_at": Key(col(JourneyActivation.updated_at), "datetime"),
    },
    default="id",
)


def _journeys_query(principal: Principal, state: JourneyState | None = None) -> Any:
    """Drafts only for those who design them."""
    stmt = select(Journey).where(Journey.brand_id == principal.brand_id)
    if not any(
        Permission.journey_manage in ROLE_PERMISSIONS[g.role] and g.scope == ScopeType.brand
        for g in principal.grants
    ):
        stmt = stmt.where(Journey.state != JourneyState.draft)
    if state is not None:
        stmt = stmt.where(Journey.state == state)
    return stmt


def list_journeys(session: Session, principal: Principal) -> list[Journey]:
    """Newest first (the portal's list: a brand has a handful)."""
    stmt = _journeys_query(principal)
    return list(session.exec(stmt.order_by(col(Journey.id).desc())).all())


def page_journeys(
    session: Session,
    principal: Principal,
    paging: PageRequest,
    sort: str,
    state: JourneyState | None = None,
) -> Paged[Journey]:
    return fetch(session, _journeys_query(principal, state), JOURNEYS, sort, paging)


def activations_scope(principal: Principal) -> ColumnElement[bool]:
    """The activations the caller may see: brand grants all, region grants their region's,
    partner grants their own partner's."""
    clauses: list[ColumnElement[bool]] = []
    for g in principal.grants:
        if Permission.journey_read not in ROLE_PERMISSIONS[g.role]:
            continue
        if g.scope == ScopeType.brand:
            clauses.append(col(JourneyActivation.brand_id) == g.brand_id)
        elif g.scope == ScopeType.region:
            clauses.append(col(JourneyActivation.region_id) == g.region_id)
        else:
            clauses.append(col(JourneyActivation.partner_id) == g.partner_id)
    return or_(*clauses) if clauses else col(JourneyActivation.id) == -1


def _activations_query(
    principal: Principal, journey_id: int, state: ActivationState | None = None
) -> Any:
    stmt = select(JourneyActivation).where(
        JourneyActivation.journey_id == journey_id,
        JourneyActivation.brand_id == principal.brand_id,
        activations_scope(principal),
    )
    return stmt.where(JourneyActivation.state == state) if state is not None else stmt


def page_activations(
    session: Session,
    principal: Principal,
    journey_id: int,
    paging: PageRequest,
    sort: str,
    state: ActivationState | None = None,
) -> Paged[JourneyActivation]:
    query = _activations_query(principal, journey_id, state)
    return fetch(session, query, ACTIVATIONS, sort, paging)


def activations(session: Session, principal: Principal, journey_id: int) -> list[JourneyActivation]:
    return list(
        session.exec(
            select(JourneyActivation)
            .where(
                JourneyActivation.journey_id == journey_id,
                JourneyActivation.brand_id == principal.brand_id,
                activations_scope(principal),
            )
            .order_by(col(JourneyActivation.id))
        ).all()
    )


def counts(session: Session, activation_ids: list[int]) -> dict[int, Counts]:
    """Enrolments per state and sends per status of each activation, two grouped queries."""
    out: dict[int, Counts] = {i: Counts() for i in activation_ids}
    if not activation_ids:
        return out
    enrolled = session.exec(
        select(JourneyEnrolment.activation_id, JourneyEnrolment.state, func.count())
        .where(col(JourneyEnrolment.activation_id).in_(activation_ids))
        .group_by(col(JourneyEnrolment.activation_id), col(JourneyEnrolment.state))
    ).all()
    for aid, state, n in enrolled:
        c = out[aid]
        if state == EnrolmentState.running:
            c.running = n
        elif state == EnrolmentState.completed:
            c.completed = n
        elif state == EnrolmentState.exited:
            c.exited = n
    sent: dict[int, dict[str, int]] = defaultdict(dict)
    rows = session.exec(
        select(JourneySend.activation_id, JourneySend.status, func.count())
        .where(col(JourneySend.activation_id).in_(activation_ids))
        .group_by(col(JourneySend.activation_id), col(JourneySend.status))
    ).all()
    for aid, status, n in rows:
        sent[aid][DeliveryStatus(status).value] = n
    for aid, by_status in sent.items():
        out[aid].sends = dict(sorted(by_status.items()))
        out[aid].sent = by_status.get("sent", 0)
    return out


def active_partners(session: Session, journey_ids: list[int]) -> dict[int, int]:
    if not journey_ids:
        return {}
    rows = session.exec(
        select(JourneyActivation.journey_id, func.count())
        .where(
            col(JourneyActivation.journey_id).in_(journey_ids),
            JourneyActivation.state == ActivationState.active,
        )
        .group_by(col(JourneyActivation.journey_id))
    ).all()
    return dict(rows)


def read(journey: Journey, active: int = 0) -> JourneyRead:
    assert journey.id is not None
    return JourneyRead(
        id=journey.id,
        key=journey.key,
        name=journey.name,
        description=journey.description,
        state=journey.state,
        current_version=journey.current_version,
        created_at=journey.created_at,
        updated_at=journey.updated_at,
        active_partners=active,
    )


def template_names(session: Session, spec_ids: set[int]) -> dict[int, str]:
    """Template version id -> how people name it ("Open day" version 2), for words and
    diagrams."""
    if not spec_ids:
        return {}
    rows = session.exec(
        select(TemplateVersion.id, Template.name, TemplateVersion.number)
        .join(Template, col(Template.id) == col(TemplateVersion.template_id))
        .where(col(TemplateVersion.id).in_(spec_ids))
    ).all()
    return {vid: f"“{name}” version {number}" for vid, name, number in rows if vid is not None}


def names_for(session: Session, spec: JourneySpec) -> dict[int, str]:
    return template_names(session, {s.template_version_id for _, s in definition.send_steps(spec)})


def detail(session: Session, journey: Journey) -> JourneyDetail:
    assert journey.id is not None
    found = design.versions(session, journey.id)
    current = next((v for v in found if v.version == journey.current_version), None)
    words: list[str] = []
    if current is not None:
        spec = JourneySpec.model_validate(current.spec)
        words = diagram.summary(spec, names_for(session, spec))
    base = read(journey, active_partners(session, [journey.id]).get(journey.id, 0))
    return JourneyDetail(
        **base.model_dump(),
        versions=[
            JourneyVersionRead(
                version=v.version,
                spec=v.spec,
                note=v.note,
                created_by=v.created_by,
                created_at=v.created_at,
            )
            for v in found
        ],
        summary=words,
    )


def diagram_of(session: Session, journey: Journey, version: int | None) -> DiagramRead:
    assert journey.id is not None
    number = version or journey.current_version
    spec = JourneySpec.model_validate(design.version_of(session, journey.id, number).spec)
    return DiagramRead(
        journey_id=journey.id,
        version=number,
        mermaid=diagram.mermaid(spec, names_for(session, spec)),
    )


def activation_reads(session: Session, rows: list[JourneyActivation]) -> list[ActivationRead]:
    ids = [r.id for r in rows if r.id is not None]
    by_id = counts(session, ids)
    names = dict(
        session.exec(
            select(Partner.id, Partner.display_name).where(
                col(Partner.id).in_({r.partner_id for r in rows})
            )
        ).all()
    )
    return [
        ActivationRead(
            id=r.id or 0,
            journey_id=r.journey_id,
            partner_id=r.partner_id,
            partner_name=names.get(r.partner_id, f"partner {r.partner_id}"),
            version=r.version,
            state=r.state,
            values=r.values,
            reason=r.reason,
            switched_on_by=r.switched_on_by,
            switched_on_at=r.switched_on_at,
            approved_at=r.approved_at,
            switched_off_by=r.switched_off_by,
            switched_off_at=r.switched_off_at,
            counts=by_id.get(r.id or 0, Counts()),
        )
        for r in rows
    ]


def state_counts(reads: list[ActivationRead]) -> dict[str, int]:
    """Partners per activation state, for HQ's journey page."""
    out = {s.value: 0 for s in ActivationState}
    for r in reads:
        out[r.state.value] += 1
    return out
