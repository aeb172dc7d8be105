"""Sender identity: the brand's verified sending domains (brand admins) and each partner's From
name, From address and Reply-To (the partner's GM, brand admins). Rules: services.sender."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import RequestIdDep, SessionDep, SettingsDep
from api.security import OrgReader, PartnerManager, PartnerProfileEditor
from services import sender as svc
from services.org import Actor

router = APIRouter(prefix="/api/v1", tags=["sender-identity"])


@router.get(
    "/sender", response_model=svc.BrandSenderRead, summary="Read the brand's sender identity"
)
def read_brand_sender(principal: OrgReader, session: SessionDep) -> svc.BrandSenderRead:
    """The caller's brand: its verified domains and SES settings."""
    return svc.read_brand(session, principal)


@router.put(
    "/sender", response_model=svc.BrandSenderRead, summary="Set the brand's sender identity"
)
def update_brand_sender(
    principal: PartnerManager, session: SessionDep, rid: RequestIdDep, body: svc.BrandSenderBody
) -> svc.BrandSenderRead:
    """Fields left out stay as they are. Add a domain only once the provider has verified it
    (SPF and DKIM): mail from an unverified domain fails authentication."""
    return svc.update_brand(session, Actor(principal, rid), body)


@router.get(
    "/partners/{partner_id}/sender",
    response_model=svc.PartnerSenderRead,
    summary="Read a partner's sender identity",
)
def read_partner_sender(
    principal: OrgReader, session: SessionDep, settings: SettingsDep, partner_id: int
) -> svc.PartnerSenderRead:
    """The partner's settings and the From and Reply-To its email carries now."""
    return svc.read_partner(session, settings, principal, partner_id)


@router.put(
    "/partners/{partner_id}/sender",
    response_model=svc.PartnerSenderRead,
    summary="Set a partner's sender identity",
)
def update_partner_sender(
    principal: PartnerProfileEditor,
    session: SessionDep,
    settings: SettingsDep,
    rid: RequestIdDep,
    partner_id: int,
    body: svc.PartnerSenderBody,
) -> svc.PartnerSenderRead:
    """Fields left out stay; an empty string clears one (the brand's default applies)."""
    return svc.update_partner(session, settings, Actor(principal, rid), partner_id, body)
