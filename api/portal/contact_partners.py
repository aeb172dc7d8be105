"""Whose contacts a portal page shows: the partners whose contact rows the signed-in person may
see (their own partners; for brand roles the partners that share their contacts), and the one
the page is about.

The choice is only a convenience: every page still asks services.contacts.contact_partner,
the API's check, for the partner it acts on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from sqlmodel import Session, col, select

from api.portal.web import PortalAuthorize
from core.policy import Permission, Principal
from models.org import Partner
from services.access import brand_contact_data_partners
from services.contacts import contact_partner

# The pages open for anyone who may read contact rows somewhere; which partner is decided per
# request by contact_partner.
PortalContactReader = Annotated[Principal, Depends(PortalAuthorize(Permission.contact_read))]


@dataclass(frozen=True)
class Choice:
    partners: list[Partner]  # whose contacts the person may open, by name
    partner: Partner | None  # the one shown; None when there is none


def partners_of(session: Session, principal: Principal) -> list[Partner]:
    ids = brand_contact_data_partners(session, principal)
    if not ids:
        return []
    return list(
        session.exec(
            select(Partner)
            .where(col(Partner.id).in_(sorted(ids)))
            .order_by(col(Partner.display_name), col(Partner.id))
        ).all()
    )


def choose(
    session: Session,
    principal: Principal,
    partner_id: int | None,
    permission: Permission = Permission.contact_read,
) -> Choice:
    """The partner asked for (checked as the API checks it: another tenant's is "not found"),
    else the first the person may open."""
    partners = partners_of(session, principal)
    if partner_id is not None:
        return Choice(partners, contact_partner(session, principal, partner_id, permission))
    if not partners or partners[0].id is None:
        return Choice(partners, None)
    return Choice(partners, contact_partner(session, principal, partners[0].id, permission))
