"""Ordering a catalogue item: a Campaign that targets the ordering partner alone, made and
launched through the same checks and path as HQ's campaigns (services.campaigns,
services.campaign_actions), so it reaches the partner's editors and then its approvers.

An Idempotency-Key belongs to the partner: a retried or parallel order with the same key
answers the order the first one made; the same key with another body is refused (422)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.errors import Conflict, FieldError, NotFound, Problem
from core.policy import Permission, Principal, Target, allows, can_see, visibility
from domain.catalogue import CatalogueState
from domain.states import PERSONALISING, CampaignMode, PartnerCampaignState
from models.base import utcnow
from models.campaign_schemas import CampaignCreate
from models.campaigns import Campaign, PartnerCampaign
from models.catalogue import CatalogueItem, CatalogueOrder
from models.catalogue_schemas import CatalogueOrderCreate, CatalogueOrderRead
from models.org import Partner
from services import campaign_actions
from services import campaigns as crud
from services.access import scope_filter
from services.campaigns import aware
from services.catalogue.items import load_item, offered_to
from services.org import Actor, record, record_about, snapshot
from services.paging import Key, Listing, Paged, PageRequest, fetch

ORDERS = Listing(
    "catalogue-orders",
    col(CatalogueOrder.id),
    {
        "id": Key(col(CatalogueOrder.id), "int"),
        "created_at": Key(col(CatalogueOrder.created_at), "datetime"),
    },
    default="-id",
)
# An earlier order of the item still personalised or waiting for approval holds a new one back;
# approved, sending, sent, rejected, declined, expired or cancelled, it is done with.
OPEN = frozenset({*PERSONALISING, PartnerCampaignState.pending_approval})


@dataclass(frozen=True)
class Placed:
    order: CatalogueOrder
    campaign: Campaign
    created: bool  # False: the Idempotency-Key found the order an earlier request made


def fingerprint(item_id: int, body: CatalogueOrderCreate) -> str:
    """The digest of what was asked (not of the defaults filled in, which move with time)."""
    asked = {"item_id": item_id, **body.model_dump(mode="json")}
    canonical = json.dumps(asked, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def key_reused() -> Problem:
    return Problem(
        "Idempotency-Key: this key was already used with a different request body",
        status=422,
        title="Idempotency-Key reused",
        errors=[
            {"field": "Idempotency-Key", "message": "already used with a different request body"}
        ],
    )


def ordering_partner(session: Session, principal: Principal, partner_id: int | None) -> Partner:
    """The partner named (404 outside the caller's reach, 403 where it may look but not
    order), else the caller's own, when it acts for exactly one."""
    if partner_id is not None:
        partner = session.get(Partner, partner_id)
        if partner is None or not can_see(principal, _target(partner)):
            raise NotFound("partner", partner_id)
        if not allows(principal, Permission.catalogue_order, _target(partner)):
            raise Problem(
                f"Your roles do not allow {Permission.catalogue_order.value} for partner "
                f"{partner_id}",
                status=403,
                title="Forbidden",
            )
        return partner
    own = sorted(visibility(principal, Permission.catalogue_order).partner_ids)
    if len(own) != 1:
        raise FieldError(
            "partner_id",
            "name the partner to order for"
            if not own
            else "you act for several partners: name one",
        )
    found = session.get(Partner, own[0])
    assert found is not None
    return found


def _target(partner: Partner) -> Target:
    return Target(partner.brand_id, partner.region_id, partner.id)


def _by_key(session: Session, partner_id: int, key: str) -> CatalogueOrder | None:
    return session.exec(
        select(CatalogueOrder).where(
            CatalogueOrder.partner_id == partner_id, CatalogueOrder.request_key == key
        )
    ).first()


def _replay(session: Session, earlier: CatalogueOrder, asked: str) -> Placed:
    if earlier.fingerprint != asked:
        raise key_reused()
    campaign = session.get(Campaign, earlier.campaign_id)
    assert campaign is not None
    return Placed(earlier, campaign, created=False)


def _open_order(session: Session, item_id: int, partner_id: int) -> CatalogueOrder | None:
    """The partner's earlier order of this item whose campaign is still being personalised or
    approved (or not yet launched)."""
    for order in session.exec(
        select(CatalogueOrder).where(
            CatalogueOrder.item_id == item_id, CatalogueOrder.partner_id == partner_id
        )
    ).all():
        row = _partner_campaign(session, order)
        if row is None or row.state in OPEN:
            return order
    return None


def _partner_campaign(session: Session, order: CatalogueOrder) -> PartnerCampaign | None:
    return session.exec(
        select(PartnerCampaign).where(
            PartnerCampaign.campaign_id == order.campaign_id,
            PartnerCampaign.partner_id == order.partner_id,
        )
    ).first()


def campaign_body(
    item: CatalogueItem, partner: Partner, body: CatalogueOrderCreate
) -> CampaignCreate:
    """The campaign the order asks for: the item's template, policy and defaults, the
    partner alone as target, the window given or suggested (counted from now)."""
    now = utcnow()
    until = body.personalise_until or now + timedelta(days=item.personalise_days)
    if until <= now:
        raise FieldError("personalise_until", "is in the past: choose a later time")
    gap = timedelta(days=item.send_within_days - item.personalise_days)
    send_by = body.send_by or until + gap
    if send_by <= until:
        raise FieldError("send_by", "must be after personalise_until")
    if send_by > now + timedelta(days=366):
        raise FieldError("send_by", "must be within a year")
    try:
        return CampaignCreate(
            name=item.title,
            template_version_id=item.template_version_id,
            target={"partners": [partner.id]},
            personalise_until=until,
            send_by=send_by,
            mode=CampaignMode.opt_in,
            approval_policy=item.approval_policy_id or item.approval_policy,
            defaults=dict(item.defaults),
        )
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise FieldError(field, str(first.get("msg", "invalid"))) from err


def place(
    session: Session, actor: Actor, item_id: int, body: CatalogueOrderCreate, key: str | None
) -> Placed:
    """Checks the item (visible, published, offered to the partner's region), the partner's
    open orders of it and the window; writes the draft campaign and the order with their audit
    events. The caller commits and launches."""
    principal = actor.principal
    item = load_item(session, principal, item_id)
    partner = ordering_partner(session, principal, body.partner_id)
    assert partner.id is not None
    asked = fingerprint(item_id, body)
    if key is not None:
        earlier = _by_key(session, partner.id, key)
        if earlier is not None:
            return _replay(session, earlier, asked)
    if item.state != CatalogueState.published:
        raise Conflict(f"catalogue item {item_id} is {item.state.value}: it cannot be ordered")
    if not offered_to(item, partner.region_id):
        raise FieldError(
            "partner_id",
            f"catalogue item {item_id} is not offered to {partner.display_name}'s region",
        )
    already = _open_order(session, item_id, partner.id)
    if already is not None and key is not None and already.request_key == key:
        return _replay(session, already, asked)  # made by a parallel request with this key
    if already is not None:
        raise Conflict(
            f"{partner.display_name} already ordered catalogue item {item_id} (order "
            f"{already.id}) and it is not approved yet: finish that campaign first"
        )
    wanted = campaign_body(item, partner, body)
    try:
        policy = crud.check_new_campaign(session, item.brand_id, wanted)
    except FieldError as err:
        raise Conflict(f"catalogue item {item_id} cannot be ordered now: {err.detail}") from err
    campaign = crud.campaign_of(item.brand_id, wanted, policy, created_by=principal.user_id)
    order: CatalogueOrder | None = None
    try:
        with session.begin_nested():
            session.add(campaign)
            session.flush()
            assert campaign.id is not None
            order = CatalogueOrder(
                brand_id=item.brand_id,
                region_id=partner.region_id,
                partner_id=partner.id,
                item_id=item_id,
                campaign_id=campaign.id,
                request_key=key,
                fingerprint=asked,
                ordered_by=principal.user_id,
            )
            session.add(order)
            session.flush()
            _launched(session, actor, campaign, order)
    except IntegrityError:  # a parallel request with the same key won
        for pending in (campaign, order):
            if pending is not None and pending in session:
                session.expunge(pending)
        earlier = _by_key(session, partner.id, key or "")
        if earlier is None:
            raise Conflict("a parallel order is in progress; retry to get its campaign") from None
        return _replay(session, earlier, asked)
    assert order is not None
    return Placed(order, campaign, created=True)


def _launched(session: Session, actor: Actor, campaign: Campaign, order: CatalogueOrder) -> None:
    """The audit events and the launch, in the order's own transaction (one unit even where
    the savepoint's release commits, as with SQLite's driver): a parallel retry finds the
    partner campaign ready and only makes sure the workflow runs (started by id, so once)."""
    record(session, actor, "campaign.created", campaign, None, snapshot(campaign))
    where = Target(order.brand_id, order.region_id, order.partner_id)
    after = snapshot(order)
    record_about(
        session, actor, "catalogue.ordered", where, "catalogue_order", str(order.id), None, after
    )
    version = campaign_actions.check_launch_window(session, campaign)
    campaign_actions.mark_launched(session, actor, campaign, version)


def load_order(session: Session, principal: Principal, order_id: int) -> CatalogueOrder:
    order = session.exec(
        select(CatalogueOrder).where(CatalogueOrder.id == order_id, _visible(principal))
    ).first()
    if order is None:
        raise NotFound("catalogue order", order_id)
    return order


def _visible(principal: Principal) -> Any:
    return scope_filter(
        principal,
        CatalogueOrder.brand_id,
        CatalogueOrder.region_id,
        CatalogueOrder.partner_id,
        Permission.catalogue_read,
    )


def list_orders(
    session: Session,
    principal: Principal,
    paging: PageRequest,
    *,
    item_id: int | None = None,
    sort: str = ORDERS.default,
) -> Paged[CatalogueOrder]:
    """A partner's own orders, a region's, or the brand's: as far as the caller reads."""
    stmt = select(CatalogueOrder).where(_visible(principal))
    if item_id is not None:
        stmt = stmt.where(CatalogueOrder.item_id == item_id)
    return fetch(session, stmt, ORDERS, sort, paging)


def order_reads(session: Session, orders: list[CatalogueOrder]) -> list[CatalogueOrderRead]:
    """One query per related table for a page of orders."""
    if not orders:
        return []
    items = {
        i.id: i
        for i in session.exec(
            select(CatalogueItem).where(col(CatalogueItem.id).in_({o.item_id for o in orders}))
        ).all()
    }
    campaigns = {
        c.id: c
        for c in session.exec(
            select(Campaign).where(col(Campaign.id).in_({o.campaign_id for o in orders}))
        ).all()
    }
    rows = {
        (r.campaign_id, r.partner_id): r
        for r in session.exec(
            select(PartnerCampaign).where(
                col(PartnerCampaign.campaign_id).in_({o.campaign_id for o in orders})
            )
        ).all()
    }
    partners = dict(
        session.exec(
            select(Partner.id, Partner.display_name).where(
                col(Partner.id).in_({o.partner_id for o in orders})
            )
        ).all()
    )
    out = []
    for o in orders:
        assert o.id is not None
        campaign = campaigns[o.campaign_id]
        row = rows.get((o.campaign_id, o.partner_id))
        out.append(
            CatalogueOrderRead(
                id=o.id,
                item_id=o.item_id,
                item_title=items[o.item_id].title if o.item_id in items else "",
                partner_id=o.partner_id,
                partner_name=partners.get(o.partner_id, ""),
                region_id=o.region_id,
                campaign_id=o.campaign_id,
                partner_campaign_id=row.id if row else None,
                state=row.state.value if row else campaign.state.value,
                personalise_until=aware(campaign.personalise_until),
                send_by=aware(campaign.send_by),
                ordered_by=o.ordered_by,
                created_at=o.created_at,
                form_url=f"/partner-campaigns/{row.id}" if row else None,
            )
        )
    return out


def may_order(session: Session, principal: Principal, item: CatalogueItem) -> bool:
    """Whether the caller may order the item for some partner it acts for."""
    if item.state != CatalogueState.published:
        return False
    vis = visibility(principal, Permission.catalogue_order)
    if vis.whole_brand:
        return True
    if vis.region_ids and (not item.region_ids or vis.region_ids & set(item.region_ids)):
        return True
    if not vis.partner_ids:
        return False
    regions = session.exec(
        select(Partner.region_id).where(col(Partner.id).in_(sorted(vis.partner_ids)))
    ).all()
    return any(offered_to(item, r) for r in regions)
