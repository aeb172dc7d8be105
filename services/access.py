"""Object-level access: load an object for a principal, or answer as if it did not exist.

An object outside the principal's reach is "not found" (404), never a different error shape,
so ids of other tenants reveal nothing. An object the principal can see but not change is
"forbidden" (403).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy import and_, false, or_
from sqlmodel import Session, SQLModel, col, select

from core.errors import Forbidden, NotFound, resource_noun
from core.policy import (
    Permission,
    Principal,
    Target,
    allows,
    can_see,
    has_permission_somewhere,
    may_see_contact_data,
    visibility,
)
from core.said import said
from models.approvals import ApprovalPolicy, ApprovalPolicyVersion, Delegation
from models.assets import Asset
from models.blocks import BrandBlock
from models.campaigns import Campaign, PartnerCampaign
from models.org import ApiToken, Membership, Partner, Region, User
from models.templates import Template, TemplateVersion

M = TypeVar("M", bound=SQLModel)


def target_of(obj: SQLModel) -> Target:
    if isinstance(obj, Partner):
        return Target(obj.brand_id, obj.region_id, obj.id)
    if isinstance(obj, Region):
        return Target(obj.brand_id, obj.id, None)
    if isinstance(obj, Asset | PartnerCampaign):
        return Target(obj.brand_id, obj.region_id, obj.partner_id)
    if isinstance(obj, Campaign):
        return Target(obj.brand_id)
    if isinstance(obj, User | Membership | ApiToken | Template | TemplateVersion | BrandBlock):
        return Target(obj.brand_id)
    if isinstance(obj, ApprovalPolicy | ApprovalPolicyVersion | Delegation):
        return Target(obj.brand_id)
    raise TypeError(f"no access target for {type(obj).__name__}")


def require(
    principal: Principal,
    obj: SQLModel,
    permission: Permission,
    *,
    read: Permission = Permission.org_read,
    label: str,
    ident: object,
) -> None:
    target = target_of(obj)
    if not can_see(principal, target, read):
        raise NotFound(label, ident)
    if not allows(principal, permission, target):
        raise Forbidden(
            said(
                "Your roles do not allow %(permission)s on %(resource)s %(ident)s",
                permission=permission.value,
                resource=resource_noun(label),
                ident=ident,
            )
        )


def load(
    session: Session,
    principal: Principal,
    model: type[M],
    ident: int,
    permission: Permission = Permission.org_read,
    *,
    read: Permission = Permission.org_read,
    label: str | None = None,
) -> M:
    label = label or model.__name__.lower()
    obj = session.get(model, ident)
    if obj is None:
        raise NotFound(label, ident)
    require(principal, obj, permission, read=read, label=label, ident=ident)
    return obj


def scope_filter(
    principal: Principal,
    brand_col: Any,
    region_col: Any | None,
    partner_col: Any | None,
    read: Permission = Permission.org_read,
) -> Any:
    """A WHERE clause limiting rows to what the principal may read."""
    vis = visibility(principal, read)
    brand_clause = brand_col == vis.brand_id
    if vis.whole_brand:
        return brand_clause
    parts = []
    if region_col is not None and vis.region_ids:
        parts.append(region_col.in_(sorted(vis.region_ids)))
    if partner_col is not None and vis.partner_ids:
        parts.append(partner_col.in_(sorted(vis.partner_ids)))
    if not parts:
        return false()
    return and_(brand_clause, or_(*parts))


def contact_data_partners(
    session: Session, principal: Principal, partner_ids: Iterable[int]
) -> frozenset[int]:
    """Of the given partners, those whose contacts' personal data the principal may see
    (core.policy.may_see_contact_data with each partner's sharing switch), in one query. Every
    place that shows a copy of contact data asks this; unknown partners are never in it."""
    wanted = sorted(set(partner_ids))
    if not wanted or not has_permission_somewhere(principal, Permission.contact_read):
        return frozenset()
    partners = session.exec(select(Partner).where(col(Partner.id).in_(wanted))).all()
    return frozenset(
        p.id
        for p in partners
        if p.id is not None
        and may_see_contact_data(principal, target_of(p), shared=p.contacts_shared_with_brand)
    )


def brand_contact_data_partners(session: Session, principal: Principal) -> frozenset[int]:
    """Every partner of the principal's brand whose contacts' personal data it may see: the
    candidates (partners that share, and the principal's own) are narrowed in SQL, the policy
    decides."""
    own = sorted({g.partner_id for g in principal.grants if g.partner_id is not None})
    ids = session.exec(
        select(Partner.id).where(
            Partner.brand_id == principal.brand_id,
            or_(col(Partner.contacts_shared_with_brand), col(Partner.id).in_(own)),
        )
    ).all()
    return contact_data_partners(session, principal, (i for i in ids if i is not None))
