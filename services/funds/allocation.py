"""Giving partners co-op money: one partner, every partner of a region, or the whole brand.

The first allocation for a partner and period creates the fund; later ones add an allocation
entry to it. The ledger key is derived from the caller's Idempotency-Key (per user), so a
retried request, or two sent at once, books one entry per fund. Without a key every request
books anew, as a POST does.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.errors import FieldError, Forbidden, NotFound
from core.policy import Permission, Principal, Target, allows, can_see
from core.said import said_of
from domain.money import CostChannel, LedgerKind
from models.funds import Fund, FundLedgerEntry
from models.org import Partner, Region
from services import audit
from services.funds import ledger
from services.funds.terms import (
    Period,
    TermError,
    parse_currency,
    parse_period,
    percent_to_bp,
    to_minor,
)

KEY_TEXT = re.compile(r"^[\x21-\x7e]{1,120}$")  # an Idempotency-Key: printable ASCII


@dataclass(frozen=True)
class Terms:
    """One allocation's parsed terms, shared by the API and the sheet import."""

    period: Period
    currency: str
    amount_minor: int
    coop_share_bp: int
    eligible_channels: tuple[str, ...]


@dataclass
class Outcome:
    funds: list[Fund] = field(default_factory=list)
    created: int = 0
    allocated: int = 0


def parse_terms(
    period: str, currency: str, amount: str, share: str, channels: list[CostChannel]
) -> Terms:
    """The terms, or FieldError naming the field at fault."""
    try:
        parsed_period = parse_period(period)
    except TermError as exc:
        raise FieldError("period", said_of(exc)) from None
    try:
        code = parse_currency(currency)
    except TermError as exc:
        raise FieldError("currency", said_of(exc)) from None
    try:
        minor = to_minor(amount, code, allow_negative=True)
    except TermError as exc:
        raise FieldError("amount", said_of(exc)) from None
    try:
        bp = percent_to_bp(share)
    except TermError as exc:
        raise FieldError("coop_share_percent", said_of(exc)) from None
    ordered = tuple(c.value for c in CostChannel if c in set(channels))
    return Terms(parsed_period, code, minor, bp, ordered)


def targets(
    session: Session,
    principal: Principal,
    *,
    partner_id: int | None = None,
    region_id: int | None = None,
) -> list[Partner]:
    """The partners an allocation goes to; each must be the caller's to manage (403), and one
    outside the caller's reach is not found (404)."""
    brand_id = principal.brand_id
    if partner_id is not None:
        partner = session.get(Partner, partner_id)
        if partner is None or not can_see(
            principal, Target(partner.brand_id, partner.region_id, partner.id), Permission.fund_read
        ):
            raise NotFound("partner", partner_id)
        found = [partner]
    elif region_id is not None:
        region = session.get(Region, region_id)
        if region is None or not can_see(
            principal, Target(region.brand_id, region.id, None), Permission.fund_read
        ):
            raise NotFound("region", region_id)
        found = list(
            session.exec(
                select(Partner).where(Partner.region_id == region_id).order_by(col(Partner.id))
            ).all()
        )
    else:
        found = list(
            session.exec(
                select(Partner).where(Partner.brand_id == brand_id).order_by(col(Partner.id))
            ).all()
        )
    for partner in found:
        if not allows(
            principal, Permission.fund_manage, Target(brand_id, partner.region_id, partner.id)
        ):
            raise Forbidden(f"Your roles do not allow {Permission.fund_manage.value} here")
    if not found:
        raise FieldError("region_id" if region_id is not None else "all_partners", "no partners")
    return found


def _matching_fund(session: Session, partner: Partner, terms: Terms, where: str) -> Fund | None:
    """The partner's fund for this period (None: none yet); refuses a period overlapping
    another fund or terms that differ from the fund's, naming the field."""
    assert partner.id is not None
    funds = session.exec(
        select(Fund).where(
            Fund.partner_id == partner.id,
            Fund.starts_on <= terms.period.ends_on,
            Fund.ends_on >= terms.period.starts_on,
        )
    ).all()
    for fund in funds:
        if fund.period != terms.period.name:
            raise FieldError(
                f"{where}period",
                f"{partner.slug} already has fund {fund.period}, which overlaps"
                f" {terms.period.name}",
            )
        if fund.currency != terms.currency:
            raise FieldError(
                f"{where}currency", f"{partner.slug}'s fund {fund.period} is in {fund.currency}"
            )
        if fund.coop_share_bp != terms.coop_share_bp:
            raise FieldError(
                f"{where}coop_share_percent",
                f"{partner.slug}'s fund {fund.period} has a share of"
                f" {fund.coop_share_bp / 100:g} %",
            )
        if tuple(fund.eligible_channels) != terms.eligible_channels:
            raise FieldError(
                f"{where}eligible_channels",
                f"{partner.slug}'s fund {fund.period} covers {', '.join(fund.eligible_channels)}",
            )
        return fund
    return None


def allocate_one(
    session: Session,
    partner: Partner,
    terms: Terms,
    *,
    user_id: int,
    key: str,
    note: str = "",
    where: str = "",
) -> tuple[Fund, bool, bool]:
    """(fund, created, allocated) in the caller's transaction: `key` is the ledger key."""
    assert partner.id is not None
    fund = _matching_fund(session, partner, terms, where)
    created = False
    if fund is None:
        if terms.amount_minor < 0:
            raise FieldError(f"{where}amount", "a new fund starts with a positive amount")
        fund = Fund(
            brand_id=partner.brand_id,
            region_id=partner.region_id,
            partner_id=partner.id,
            period=terms.period.name,
            starts_on=terms.period.starts_on,
            ends_on=terms.period.ends_on,
            currency=terms.currency,
            coop_share_bp=terms.coop_share_bp,
            eligible_channels=list(terms.eligible_channels),
            created_by=user_id,
        )
        session.add(fund)
        session.flush()
        created = True
        audit.append_in(
            session,
            audit.NewEvent(
                brand_id=fund.brand_id,
                region_id=fund.region_id,
                partner_id=fund.partner_id,
                actor=str(user_id),
                action="fund.created",
                entity_type="fund",
                entity_id=str(fund.id),
                event_key=f"fund-{fund.id}-created",
                after={
                    "period": fund.period,
                    "currency": fund.currency,
                    "coop_share_bp": fund.coop_share_bp,
                    "eligible_channels": fund.eligible_channels,
                },
            ),
        )
    seen = session.exec(
        select(FundLedgerEntry).where(
            FundLedgerEntry.fund_id == fund.id, FundLedgerEntry.key == key
        )
    ).first()
    if seen is not None:
        if seen.kind != LedgerKind.allocation or seen.amount_minor != terms.amount_minor:
            raise FieldError("Idempotency-Key", "already used with a different request body")
        return fund, created, False
    if terms.amount_minor < 0:
        after = ledger.balance(session, fund.id or 0)
        if after.available + terms.amount_minor < 0:
            raise FieldError(f"{where}amount", "takes back more than the fund has available")
    ledger.post(
        session,
        fund,
        ledger.Movement(
            kind=LedgerKind.allocation,
            amount_minor=terms.amount_minor,
            key=key,
            actor=str(user_id),
            note=note,
            by_user_id=user_id,
        ),
    )
    return fund, created, True


def allocation_key(user_id: int, idempotency_key: str | None) -> str:
    """The ledger key: the caller's Idempotency-Key, scoped to the caller (two integrations
    never collide); a fresh one when none was sent."""
    if idempotency_key is None:
        return f"alloc-{uuid.uuid4().hex}"
    return f"alloc-u{user_id}-{idempotency_key}"


def allocate(
    session: Session,
    principal: Principal,
    terms: Terms,
    *,
    partner_id: int | None = None,
    region_id: int | None = None,
    idempotency_key: str | None,
    note: str = "",
) -> Outcome:
    """Allocate to the targets in the caller's transaction. A parallel twin with the same
    Idempotency-Key may commit first (the unique ledger key or fund fails this flush): the
    transaction starts again and finds what the twin wrote, so both answer the same."""
    for attempt in range(3):
        try:
            partners = targets(session, principal, partner_id=partner_id, region_id=region_id)
            out = _allocate(session, principal, terms, partners, idempotency_key, note)
            session.flush()
            return out
        except IntegrityError:
            session.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _allocate(
    session: Session,
    principal: Principal,
    terms: Terms,
    partners: list[Partner],
    idempotency_key: str | None,
    note: str,
) -> Outcome:
    audit.begin_write(session)
    key = allocation_key(principal.user_id, idempotency_key)
    out = Outcome()
    for partner in partners:
        fund, created, allocated = allocate_one(
            session, partner, terms, user_id=principal.user_id, key=key, note=note
        )
        out.funds.append(fund)
        out.created += created
        out.allocated += allocated
    return out
