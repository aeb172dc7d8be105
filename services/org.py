"""Administering the organisation: regions, partners, users, memberships, API tokens.

Each change and its audit event commit in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlmodel import Session, SQLModel, col, select

from core.errors import Conflict, FieldError, Forbidden
from core.policy import Permission, Principal, Target, allows
from core.security import hash_password, new_api_token
from domain.roles import ROLE_SCOPES, Role, ScopeType
from models.base import utcnow
from models.org import ApiToken, Membership, Partner, Region, User
from models.schemas import (
    ApiTokenCreate,
    MembershipCreate,
    PartnerCreate,
    PartnerProfile,
    PartnerUpdate,
    RegionCreate,
    RegionUpdate,
    UserCreate,
    UserUpdate,
)
from services import audit
from services.access import load, scope_filter, target_of
from services.paging import Key, Listing, Paged, PageRequest, fetch
from services.password_rules import password_problem
from services.sessions import end_sessions

M = TypeVar("M", bound=SQLModel)
_SECRET_FIELDS = {"password_hash", "token_hash"}


@dataclass(frozen=True)
class Actor:
    """Who acts and under which request: what every audit event records."""

    principal: Principal
    request_id: str


def snapshot(obj: SQLModel | None) -> dict[str, Any] | None:
    if obj is None:
        return None
    return {k: v for k, v in obj.model_dump().items() if k not in _SECRET_FIELDS}


def record(
    session: Session,
    actor: Actor,
    action: str,
    obj: SQLModel,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    record_about(
        session,
        actor,
        action,
        target_of(obj),
        type(obj).__name__.lower(),
        str(getattr(obj, "id", "")),
        before,
        after,
    )


def record_about(
    session: Session,
    actor: Actor,
    action: str,
    target: Target,
    entity_type: str,
    entity_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    """An API change audited under the entity people know it by (a brand's sender settings
    are about the brand, not their own table), once per request."""
    audit.append_in(
        session,
        audit.NewEvent(
            brand_id=target.brand_id,
            region_id=target.region_id,
            partner_id=target.partner_id,
            actor=str(actor.principal.user_id),
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            event_key=f"api:{actor.request_id}:{action}:{entity_type}:{entity_id}",
            before=before,
            after=after,
            request_id=actor.request_id,
        ),
    )


REGIONS = Listing(
    "regions",
    col(Region.id),
    {
        "id": Key(col(Region.id), "int"),
        "name": Key(col(Region.name), "str"),
        "created_at": Key(col(Region.created_at), "datetime"),
    },
    default="id",
)
PARTNERS = Listing(
    "partners",
    col(Partner.id),
    {
        "id": Key(col(Partner.id), "int"),
        "name": Key(col(Partner.display_name), "str"),
        "created_at": Key(col(Partner.created_at), "datetime"),
    },
    default="id",
)
USERS = Listing(
    "users",
    col(User.id),
    {
        "id": Key(col(User.id), "int"),
        "email": Key(col(User.email), "str"),
        "full_name": Key(col(User.full_name), "str"),
        "created_at": Key(col(User.created_at), "datetime"),
    },
    default="id",
)
MEMBERSHIPS = Listing(
    "memberships",
    col(Membership.id),
    {
        "id": Key(col(Membership.id), "int"),
        "created_at": Key(col(Membership.created_at), "datetime"),
    },
    default="id",
)
API_TOKENS = Listing(
    "api-tokens",
    col(ApiToken.id),
    {
        "id": Key(col(ApiToken.id), "int"),
        "name": Key(col(ApiToken.name), "str"),
        "created_at": Key(col(ApiToken.created_at), "datetime"),
    },
    default="id",
)


# Regions ------------------------------------------------------------------------------------


def list_regions(
    session: Session,
    principal: Principal,
    paging: PageRequest,
    q: str | None = None,
    sort: str = REGIONS.default,
) -> Paged[Region]:
    stmt = select(Region).where(scope_filter(principal, Region.brand_id, Region.id, None))
    if q:
        stmt = stmt.where(col(Region.name).ilike(f"%{q}%"))
    return fetch(session, stmt, REGIONS, sort, paging)


def _unique_region_name(session: Session, brand_id: int, name: str, skip: int | None) -> None:
    clash = session.exec(
        select(Region).where(Region.brand_id == brand_id, Region.name == name)
    ).first()
    if clash is not None and clash.id != skip:
        raise FieldError("name", f"a region named {name!r} already exists")


def create_region(session: Session, actor: Actor, data: RegionCreate) -> Region:
    brand_id = actor.principal.brand_id
    _unique_region_name(session, brand_id, data.name, None)
    region = Region(brand_id=brand_id, name=data.name)
    _require_write(actor.principal, region, Permission.region_manage)
    session.add(region)
    session.flush()
    record(session, actor, "region.created", region, None, snapshot(region))
    return region


def update_region(session: Session, actor: Actor, region_id: int, data: RegionUpdate) -> Region:
    region = load(session, actor.principal, Region, region_id, Permission.region_manage)
    before = snapshot(region)
    _unique_region_name(session, region.brand_id, data.name, region.id)
    region.name = data.name
    session.add(region)
    session.flush()
    record(session, actor, "region.updated", region, before, snapshot(region))
    return region


def delete_region(session: Session, actor: Actor, region_id: int) -> None:
    region = load(session, actor.principal, Region, region_id, Permission.region_manage)
    if session.exec(select(Partner.id).where(Partner.region_id == region_id)).first():
        raise Conflict(f"region {region_id} still has partners; move or delete them first")
    if session.exec(select(Membership.id).where(Membership.region_id == region_id)).first():
        raise Conflict(f"region {region_id} still has memberships; delete them first")
    record(session, actor, "region.deleted", region, snapshot(region), None)
    session.delete(region)


# Partners -----------------------------------------------------------------------------------


def list_partners(
    session: Session,
    principal: Principal,
    paging: PageRequest,
    region_id: int | None = None,
    q: str | None = None,
    sort: str = PARTNERS.default,
) -> Paged[Partner]:
    stmt = select(Partner).where(
        scope_filter(principal, Partner.brand_id, Partner.region_id, Partner.id)
    )
    if region_id is not None:
        stmt = stmt.where(Partner.region_id == region_id)
    if q:
        stmt = stmt.where(col(Partner.display_name).ilike(f"%{q}%"))
    return fetch(session, stmt, PARTNERS, sort, paging)


def _own_region(session: Session, principal: Principal, region_id: int) -> Region:
    region = session.get(Region, region_id)
    if region is None or region.brand_id != principal.brand_id:
        raise FieldError("region_id", f"region {region_id} does not exist in your brand")
    return region


def create_partner(session: Session, actor: Actor, data: PartnerCreate) -> Partner:
    principal = actor.principal
    _own_region(session, principal, data.region_id)
    if session.exec(
        select(Partner).where(Partner.brand_id == principal.brand_id, Partner.slug == data.slug)
    ).first():
        raise FieldError("slug", f"a partner with slug {data.slug!r} already exists")
    partner = Partner(brand_id=principal.brand_id, **data.model_dump(exclude_none=True))
    _require_write(principal, partner, Permission.partner_manage)
    session.add(partner)
    session.flush()
    record(session, actor, "partner.created", partner, None, snapshot(partner))
    return partner


def update_partner(session: Session, actor: Actor, partner_id: int, data: PartnerUpdate) -> Partner:
    """Brand admins change anything; a partner's GM only its own profile fields."""
    principal = actor.principal
    partner = load(session, principal, Partner, partner_id, Permission.partner_profile_edit)
    changes = data.model_dump(exclude_unset=True)
    admin_only = set(changes) - set(PartnerProfile.model_fields)
    if admin_only and not allows(principal, Permission.partner_manage, target_of(partner)):
        raise Forbidden(f"Only brand admins may change: {', '.join(sorted(admin_only))}")
    if "region_id" in changes:
        if changes["region_id"] is None:
            raise FieldError("region_id", "a partner must belong to a region")
        _own_region(session, principal, changes["region_id"])
    for name, value in changes.items():
        if value is None and name != "region_id":
            raise FieldError(name, "may not be null")
    before = snapshot(partner)
    for name, value in changes.items():
        setattr(partner, name, value)
    partner.updated_at = utcnow()
    session.add(partner)
    session.flush()
    record(session, actor, "partner.updated", partner, before, snapshot(partner))
    return partner


def delete_partner(session: Session, actor: Actor, partner_id: int) -> None:
    partner = load(session, actor.principal, Partner, partner_id, Permission.partner_manage)
    if session.exec(select(Membership.id).where(Membership.partner_id == partner_id)).first():
        raise Conflict(f"partner {partner_id} still has memberships; delete them first")
    record(session, actor, "partner.deleted", partner, snapshot(partner), None)
    session.delete(partner)


# Users --------------------------------------------------------------------------------------


def list_users(
    session: Session,
    principal: Principal,
    paging: PageRequest,
    q: str | None = None,
    sort: str = USERS.default,
) -> Paged[User]:
    stmt = select(User).where(
        scope_filter(principal, User.brand_id, None, None, Permission.user_read)
    )
    if q:
        stmt = stmt.where(col(User.email).ilike(f"%{q.lower()}%"))
    return fetch(session, stmt, USERS, sort, paging)


def create_user(session: Session, actor: Actor, data: UserCreate) -> User:
    if session.exec(select(User).where(User.email == data.email)).first():
        raise FieldError("email", "this email address is already in use")
    problem = password_problem(data.password, data.email) if data.password else None
    if problem is not None:
        raise FieldError("password", problem)
    user = User(
        brand_id=actor.principal.brand_id,
        email=data.email,
        full_name=data.full_name,
        password_hash=hash_password(data.password) if data.password else None,
    )
    _require_write(actor.principal, user, Permission.user_manage, read=Permission.user_read)
    session.add(user)
    session.flush()
    record(session, actor, "user.created", user, None, snapshot(user))
    return user


def update_user(session: Session, actor: Actor, user_id: int, data: UserUpdate) -> User:
    user = load(
        session, actor.principal, User, user_id, Permission.user_manage, read=Permission.user_read
    )
    before = snapshot(user)
    if data.full_name is not None:
        user.full_name = data.full_name
    if data.is_active is not None:
        if user.id == actor.principal.user_id and not data.is_active:
            raise FieldError("is_active", "you cannot deactivate your own account")
        user.is_active = data.is_active
    if data.password is not None:
        problem = password_problem(data.password, user.email)
        if problem is not None:
            raise FieldError("password", problem)
        user.password_hash = hash_password(data.password)
        user.failed_logins = 0
        user.locked_until = None
    session.add(user)
    session.flush()
    if data.password is not None and user.id is not None:
        end_sessions(session, user.id)  # a password set by an admin ends the user's sign-ins
    after = snapshot(user)
    if after is not None and data.password is not None:
        after["password_changed"] = True
    record(session, actor, "user.updated", user, before, after)
    return user


def deactivate_user(session: Session, actor: Actor, user_id: int) -> User:
    """Users are deactivated, not deleted: the audit trail keeps pointing at them."""
    return update_user(session, actor, user_id, UserUpdate(is_active=False))


# Memberships --------------------------------------------------------------------------------


def list_memberships(
    session: Session,
    principal: Principal,
    paging: PageRequest,
    user_id: int | None = None,
    sort: str = MEMBERSHIPS.default,
) -> Paged[Membership]:
    stmt = select(Membership).where(
        scope_filter(principal, Membership.brand_id, None, None, Permission.user_read)
    )
    if user_id is not None:
        stmt = stmt.where(Membership.user_id == user_id)
    return fetch(session, stmt, MEMBERSHIPS, sort, paging)


def create_membership(session: Session, actor: Actor, data: MembershipCreate) -> Membership:
    principal = actor.principal
    user = session.get(User, data.user_id)
    if user is None or user.brand_id != principal.brand_id:
        raise FieldError("user_id", f"user {data.user_id} does not exist in your brand")
    if data.scope_type not in ROLE_SCOPES[data.role]:
        allowed = ", ".join(sorted(s.value for s in ROLE_SCOPES[data.role]))
        raise FieldError("scope_type", f"role {data.role.value} is granted at: {allowed}")
    region_id = partner_id = None
    if data.scope_type == ScopeType.region:
        if data.region_id is None:
            raise FieldError("region_id", "required for a region-scoped membership")
        region_id = _own_region(session, principal, data.region_id).id
    if data.scope_type == ScopeType.partner:
        if data.partner_id is None:
            raise FieldError("partner_id", "required for a partner-scoped membership")
        partner = session.get(Partner, data.partner_id)
        if partner is None or partner.brand_id != principal.brand_id:
            raise FieldError("partner_id", f"partner {data.partner_id} does not exist")
        partner_id = partner.id
    exists = session.exec(
        select(Membership).where(
            Membership.user_id == user.id,
            Membership.role == data.role.value,
            Membership.scope_type == data.scope_type.value,
            Membership.region_id == region_id,
            Membership.partner_id == partner_id,
        )
    ).first()
    if exists is not None:
        raise Conflict("the user already holds this membership")
    membership = Membership(
        user_id=data.user_id,
        brand_id=principal.brand_id,
        role=data.role.value,
        scope_type=data.scope_type.value,
        region_id=region_id,
        partner_id=partner_id,
    )
    _require_write(principal, membership, Permission.membership_manage, read=Permission.user_read)
    session.add(membership)
    session.flush()
    record(session, actor, "membership.created", membership, None, snapshot(membership))
    return membership


def delete_membership(session: Session, actor: Actor, membership_id: int) -> None:
    membership = load(
        session,
        actor.principal,
        Membership,
        membership_id,
        Permission.membership_manage,
        read=Permission.user_read,
    )
    if membership.user_id == actor.principal.user_id and membership.role == Role.brand_admin:
        raise Conflict("you cannot remove your own brand_admin membership")
    record(session, actor, "membership.deleted", membership, snapshot(membership), None)
    session.delete(membership)


# API tokens ---------------------------------------------------------------------------------


def list_api_tokens(
    session: Session,
    principal: Principal,
    paging: PageRequest,
    user_id: int | None = None,
    sort: str = API_TOKENS.default,
) -> Paged[ApiToken]:
    stmt = select(ApiToken).where(
        scope_filter(principal, ApiToken.brand_id, None, None, Permission.api_token_manage)
    )
    if user_id is not None:
        stmt = stmt.where(ApiToken.user_id == user_id)
    return fetch(session, stmt, API_TOKENS, sort, paging)


def create_api_token(
    session: Session, actor: Actor, data: ApiTokenCreate, now: datetime | None = None
) -> tuple[ApiToken, str]:
    """The new row and its secret, which is not stored and cannot be shown again."""
    principal = actor.principal
    user = session.get(User, data.user_id)
    if user is None or user.brand_id != principal.brand_id:
        raise FieldError("user_id", f"user {data.user_id} does not exist in your brand")
    expires_at = data.expires_at
    if expires_at is not None and expires_at <= (now or utcnow()):
        raise FieldError("expires_at", "must be in the future")
    fresh = new_api_token()
    token = ApiToken(
        user_id=user.id or 0,
        brand_id=principal.brand_id,
        name=data.name,
        prefix=fresh.prefix,
        token_hash=fresh.digest,
        created_by=principal.user_id,
        expires_at=expires_at,
    )
    _require_write(principal, token, Permission.api_token_manage, read=Permission.api_token_manage)
    session.add(token)
    session.flush()
    record(session, actor, "api_token.created", token, None, snapshot(token))
    return token, fresh.secret


def revoke_api_token(session: Session, actor: Actor, token_id: int) -> ApiToken:
    token = load(
        session,
        actor.principal,
        ApiToken,
        token_id,
        Permission.api_token_manage,
        read=Permission.api_token_manage,
        label="api token",
    )
    if token.revoked_at is None:
        before = snapshot(token)
        token.revoked_at = utcnow()
        session.add(token)
        session.flush()
        record(session, actor, "api_token.revoked", token, before, snapshot(token))
    return token


def _require_write(
    principal: Principal,
    obj: SQLModel,
    permission: Permission,
    read: Permission = Permission.org_read,
) -> None:
    if not allows(principal, permission, target_of(obj)):
        raise Forbidden(f"Your roles do not allow {permission.value} here")
