"""Who sees which claims: partners their own, region managers their region, brand roles the
brand. Another partner's or brand's claim is a 404, as everywhere in the API."""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_
from sqlmodel import Session, col, select

from core.errors import Forbidden, NotFound
from core.policy import ROLE_PERMISSIONS, Permission, Principal, Target, allows
from domain.money import ClaimState
from domain.roles import ScopeType
from models.claims import Claim
from services.paging import Key, Listing, Paged, PageRequest, fetch


def target_of(claim: Claim) -> Target:
    return Target(claim.brand_id, claim.region_id, claim.partner_id)


def load(
    session: Session,
    principal: Principal,
    claim_id: int,
    permission: Permission = Permission.claim_read,
) -> Claim:
    """404 outside the principal's reach, 403 when it may look but not act."""
    claim = session.get(Claim, claim_id)
    if claim is None or not allows(principal, Permission.claim_read, target_of(claim)):
        raise NotFound("claim", claim_id)
    if not allows(principal, permission, target_of(claim)):
        raise Forbidden(f"Your roles do not allow {permission.value} on claim {claim_id}")
    return claim


def scoped(
    principal: Principal, permission: Permission = Permission.claim_read
) -> ColumnElement[bool]:
    """The WHERE clause of the claims `principal` may see with `permission`."""
    clauses: list[ColumnElement[bool]] = []
    for g in principal.grants:
        if permission not in ROLE_PERMISSIONS[g.role]:
            continue
        if g.scope == ScopeType.brand:
            clauses.append(col(Claim.brand_id) == g.brand_id)
        elif g.scope == ScopeType.region:
            clauses.append(
                (col(Claim.brand_id) == g.brand_id) & (col(Claim.region_id) == g.region_id)
            )
        else:
            clauses.append(
                (col(Claim.brand_id) == g.brand_id) & (col(Claim.partner_id) == g.partner_id)
            )
    return or_(*clauses) if clauses else false()


CLAIMS = Listing(
    "claims",
    col(Claim.id),
    {
        "id": Key(col(Claim.id), "int"),
        "created_at": Key(col(Claim.created_at), "datetime"),
        "window_closes_at": Key(col(Claim.window_closes_at), "datetime"),
    },
    default="-id",
)


def page_claims(
    session: Session,
    principal: Principal,
    paging: PageRequest,
    sort: str,
    state: ClaimState | None = None,
) -> Paged[Claim]:
    query = select(Claim).where(scoped(principal))
    if state is not None:
        query = query.where(Claim.state == state)
    return fetch(session, query, CLAIMS, sort, paging)


def list_claims(
    session: Session,
    principal: Principal,
    state: ClaimState | None = None,
    limit: int = 100,
    permission: Permission = Permission.claim_read,
) -> list[Claim]:
    query = select(Claim).where(scoped(principal, permission))
    if state is not None:
        query = query.where(Claim.state == state)
    return list(session.exec(query.order_by(col(Claim.id).desc()).limit(limit)).all())
