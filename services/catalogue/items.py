"""Catalogue items: HQ creates, edits, publishes and withdraws them; partners see the published
items offered to their region. An item the caller may not see is "not found" (404)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from core.errors import Conflict, FieldError, Forbidden, NotFound
from core.policy import Permission, Principal, Target, allows, visibility
from core.said import said, said_of
from domain.catalogue import CatalogueState
from domain.states import TemplateState
from models.base import utcnow
from models.catalogue import CatalogueItem
from models.catalogue_schemas import (
    CatalogueItemCreate,
    CatalogueItemRead,
    CatalogueItemUpdate,
    check_days,
)
from models.org import Partner, Region
from models.templates import TemplateVersion
from services.approvals import policies as approval_policies
from services.funds.terms import TermError, from_minor, parse_currency, to_minor
from services.org import Actor, record_about, snapshot
from services.paging import Key, Listing, Paged, PageRequest, fetch

ITEMS = Listing(
    "catalogue",
    col(CatalogueItem.id),
    {
        "id": Key(col(CatalogueItem.id), "int"),
        "title": Key(col(CatalogueItem.title), "str"),
        "created_at": Key(col(CatalogueItem.created_at), "datetime"),
    },
    default="-id",
)


def manages(principal: Principal, brand_id: int) -> bool:
    return allows(principal, Permission.catalogue_manage, Target(brand_id))


def _require_manage(principal: Principal) -> None:
    if not manages(principal, principal.brand_id):
        raise Forbidden(f"Your roles do not allow {Permission.catalogue_manage.value} brand-wide")


def reached_regions(session: Session, principal: Principal) -> frozenset[int] | None:
    """The regions whose items the caller sees: None for the whole brand, else the regions
    of its region grants and of its partners."""
    vis = visibility(principal, Permission.catalogue_read)
    if vis.whole_brand:
        return None
    regions = set(vis.region_ids)
    if vis.partner_ids:
        regions.update(
            session.exec(
                select(Partner.region_id).where(
                    col(Partner.id).in_(sorted(vis.partner_ids)),
                    Partner.brand_id == principal.brand_id,
                )
            ).all()
        )
    return frozenset(regions)


def offered_to(item: CatalogueItem, region_id: int) -> bool:
    return not item.region_ids or region_id in item.region_ids


def _visible(item: CatalogueItem, principal: Principal, regions: frozenset[int] | None) -> bool:
    if item.brand_id != principal.brand_id:
        return False
    if manages(principal, item.brand_id):
        return True
    if item.state != CatalogueState.published:
        return False
    return regions is None or not item.region_ids or bool(regions & set(item.region_ids))


def load_item(session: Session, principal: Principal, item_id: int) -> CatalogueItem:
    item = session.get(CatalogueItem, item_id)
    if item is None or not _visible(item, principal, reached_regions(session, principal)):
        raise NotFound("catalogue item", item_id)
    return item


def list_items(
    session: Session,
    principal: Principal,
    paging: PageRequest,
    *,
    state: CatalogueState | None = None,
    sort: str = ITEMS.default,
) -> Paged[CatalogueItem]:
    """HQ's managers see every item; everyone else the published items of their regions
    (the region filter runs in Python: JSON lists are not portably indexable, and a brand
    publishes dozens of items, not thousands)."""
    stmt = select(CatalogueItem).where(CatalogueItem.brand_id == principal.brand_id)
    if not manages(principal, principal.brand_id):
        stmt = stmt.where(CatalogueItem.state == CatalogueState.published)
        regions = reached_regions(session, principal)
        if regions is not None:
            ids = [
                i.id
                for i in session.exec(stmt).all()
                if not i.region_ids or regions & set(i.region_ids)
            ]
            stmt = stmt.where(col(CatalogueItem.id).in_(ids))
    if state is not None:
        stmt = stmt.where(CatalogueItem.state == state)
    return fetch(session, stmt, ITEMS, sort, paging)


def _check_version(session: Session, brand_id: int, version_id: int) -> None:
    version = session.get(TemplateVersion, version_id)
    if version is None or version.brand_id != brand_id or version.state != TemplateState.published:
        raise FieldError(
            "template_version_id",
            f"{version_id} must be a published template version of your brand",
        )


def _check_regions(session: Session, brand_id: int, region_ids: Sequence[int]) -> list[int]:
    wanted = sorted(set(region_ids))
    if not wanted:
        return []
    found = set(
        session.exec(
            select(Region.id).where(Region.brand_id == brand_id, col(Region.id).in_(wanted))
        ).all()
    )
    missing = [r for r in wanted if r not in found]
    if missing:
        raise FieldError("regions", f"region {missing[0]} does not exist in your brand")
    return wanted


def _budget(amount: str | None, currency: str | None) -> tuple[int | None, str]:
    """(minor units, currency) of a budget hint: both given or neither; never negative."""
    if amount is None and currency is None:
        return None, ""
    if currency is None:
        raise FieldError("budget_currency", said("give the budget's currency, e.g. EUR"))
    if amount is None:
        raise FieldError("budget_hint", said("give an amount for the currency, e.g. 250.00"))
    try:
        code = parse_currency(currency)
    except TermError as err:
        raise FieldError("budget_currency", said_of(err)) from err
    try:
        return to_minor(amount, code), code
    except TermError as err:
        raise FieldError("budget_hint", said_of(err)) from err


def _policy(session: Session, brand_id: int, value: Any) -> tuple[str, int | None]:
    chosen = approval_policies.choose(session, brand_id, value)
    return chosen.name, chosen.policy_id


def _audit(
    session: Session,
    actor: Actor,
    action: str,
    item: CatalogueItem,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    target = Target(item.brand_id)
    record_about(session, actor, action, target, "catalogue_item", str(item.id), before, after)


def create_item(session: Session, actor: Actor, body: CatalogueItemCreate) -> CatalogueItem:
    """A draft item: partners see it once it is published."""
    principal = actor.principal
    _require_manage(principal)
    brand_id = principal.brand_id
    _check_version(session, brand_id, body.template_version_id)
    regions = _check_regions(session, brand_id, body.regions)
    budget_minor, currency = _budget(body.budget_hint, body.budget_currency)
    policy, policy_id = _policy(session, brand_id, body.approval_policy)
    item = CatalogueItem(
        brand_id=brand_id,
        title=body.title,
        description=body.description,
        template_version_id=body.template_version_id,
        personalise_days=body.personalise_days,
        send_within_days=body.send_within_days,
        approval_policy=policy,
        approval_policy_id=policy_id,
        budget_hint_minor=budget_minor,
        budget_currency=currency,
        region_ids=regions,
        defaults=body.defaults,
        created_by=principal.user_id,
    )
    session.add(item)
    session.flush()
    _audit(session, actor, "catalogue.created", item, None, snapshot(item))
    return item


def update_item(
    session: Session, actor: Actor, item: CatalogueItem, body: CatalogueItemUpdate
) -> CatalogueItem:
    """Changes apply to orders made from now on; campaigns already ordered keep theirs."""
    _require_manage(actor.principal)
    changes = body.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None and name not in ("budget_hint", "budget_currency"):
            raise FieldError(name, "may not be null")
    if "template_version_id" in changes:
        _check_version(session, item.brand_id, changes["template_version_id"])
    if "regions" in changes:
        changes["region_ids"] = _check_regions(session, item.brand_id, changes.pop("regions"))
    days = changes.get("personalise_days", item.personalise_days)
    try:
        check_days(days, changes.get("send_within_days", item.send_within_days))
    except ValueError as err:
        raise FieldError("send_within_days", said_of(err)) from err
    if "budget_hint" in changes or "budget_currency" in changes:
        shown = (
            from_minor(item.budget_hint_minor, item.budget_currency)
            if item.budget_hint_minor
            else None
        )
        amount = changes.pop("budget_hint", shown)
        currency = changes.pop("budget_currency", item.budget_currency or None)
        changes["budget_hint_minor"], changes["budget_currency"] = _budget(amount, currency)
    if "approval_policy" in changes:
        changes["approval_policy"], changes["approval_policy_id"] = _policy(
            session, item.brand_id, changes["approval_policy"]
        )
    before = snapshot(item)
    for name, value in changes.items():
        setattr(item, name, value)
    item.updated_at = utcnow()
    session.add(item)
    session.flush()
    _audit(session, actor, "catalogue.updated", item, before, snapshot(item))
    return item


def set_state(
    session: Session, actor: Actor, item: CatalogueItem, state: CatalogueState
) -> CatalogueItem:
    """Publish (its template version must still be published) or withdraw; the same again
    changes nothing (idempotent)."""
    _require_manage(actor.principal)
    if item.state == state:
        return item
    if state == CatalogueState.withdrawn and item.state != CatalogueState.published:
        raise Conflict(
            f"catalogue item {item.id} is {item.state.value}: "
            "only a published item can be withdrawn"
        )
    if state == CatalogueState.published:
        try:
            _check_version(session, item.brand_id, item.template_version_id)
        except FieldError as err:
            raise Conflict(
                f"catalogue item {item.id}: its template version is no longer published; "
                "choose another version first"
            ) from err
        item.published_at = utcnow()
    before = snapshot(item)
    item.state = state
    item.updated_at = utcnow()
    session.add(item)
    session.flush()
    _audit(session, actor, f"catalogue.{state.value}", item, before, snapshot(item))
    return item


def item_read(item: CatalogueItem, may_order: bool) -> CatalogueItemRead:
    assert item.id is not None
    minor = item.budget_hint_minor
    return CatalogueItemRead(
        id=item.id,
        brand_id=item.brand_id,
        title=item.title,
        description=item.description,
        template_version_id=item.template_version_id,
        personalise_days=item.personalise_days,
        send_within_days=item.send_within_days,
        approval_policy=item.approval_policy,
        approval_policy_id=item.approval_policy_id,
        budget_hint_minor=minor,
        budget_hint=from_minor(minor, item.budget_currency) if minor is not None else None,
        budget_currency=item.budget_currency or None,
        regions=list(item.region_ids),
        defaults=dict(item.defaults),
        state=item.state,
        may_order=may_order,
        published_at=item.published_at,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )
