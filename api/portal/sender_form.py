"""What the settings page shows of the sender identity (api.portal.sender_pages saves it)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from core.policy import Permission, Principal, allows
from core.settings import Settings
from models.org import Partner
from services import sender as svc
from services.access import target_of


def own_partners(session: Session, principal: Principal) -> list[Partner]:
    """The partners whose sender the user sets here: those they are GM of (brand admins set a
    partner's through the API, or the partner's GM does)."""
    ids = sorted({g.partner_id for g in principal.grants if g.partner_id is not None})
    found = [p for i in ids if (p := session.get(Partner, i)) is not None]
    return [p for p in found if allows(principal, Permission.partner_profile_edit, target_of(p))]


def context(
    session: Session,
    settings: Settings,
    principal: Principal,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    which: str = "",
) -> dict[str, Any]:
    """What the settings template needs for its sender sections."""
    partners = [
        (p, svc.read_partner(session, settings, principal, p.id or 0))
        for p in own_partners(session, principal)
    ]
    brand = svc.read_brand(session, principal) if svc.may_manage_brand(principal) else None
    return {
        "sender_partners": partners,
        "brand_sender": brand,
        "sender_errors": errors or {},
        "sender_form": form or {},
        "sender_which": which,
        "sender_flash": "",
    }
