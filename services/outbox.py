"""The outbox viewer: what the embedded transport "sent", for HQ (brand-scope roles only).

Outbox rows name partners' customers, so partner and region users never list them, and HQ sees
its own brand's rows only; rows sent without a brand tag (system mail) are listed to nobody.
The .eml is read from the outbox directory by the row's file name, never by a caller's path.
"""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from core.errors import Forbidden, NotFound
from core.policy import Permission, Principal, visibility
from models.outbox import OutboxMessage
from services.org import page


def _brand_of(principal: Principal) -> int:
    if not visibility(principal, Permission.outbox_read).whole_brand:
        raise Forbidden("The outbox is for brand roles (HQ) only")
    return principal.brand_id


def list_messages(
    session: Session,
    principal: Principal,
    limit: int,
    offset: int,
    partner_campaign_id: int | None = None,
) -> tuple[list[OutboxMessage], int]:
    """Newest first."""
    stmt: Any = select(OutboxMessage).where(OutboxMessage.brand_id == _brand_of(principal))
    if partner_campaign_id is not None:
        stmt = stmt.where(OutboxMessage.partner_campaign_id == partner_campaign_id)
    stmt = stmt.order_by(col(OutboxMessage.sent_at).desc(), col(OutboxMessage.id).desc())
    return page(session, stmt, limit, offset)


def load_message(session: Session, principal: Principal, ident: int) -> OutboxMessage:
    brand_id = _brand_of(principal)
    row = session.get(OutboxMessage, ident)
    if row is None or row.brand_id != brand_id:
        raise NotFound("outbox message", ident)
    return row


def partner_campaign_ids(session: Session, principal: Principal) -> list[int]:
    """The partner campaigns the brand's outbox holds messages of (the viewer's filter)."""
    stmt = (
        select(OutboxMessage.partner_campaign_id)
        .where(
            OutboxMessage.brand_id == _brand_of(principal),
            col(OutboxMessage.partner_campaign_id).is_not(None),
        )
        .distinct()
    )
    return sorted(i for i in session.exec(stmt).all() if i is not None)


def body_of(raw: bytes) -> tuple[str, str]:
    """The message's HTML part (or its text part) as ("html" | "text", body)."""
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    part = msg.get_body(preferencelist=("html", "plain"))
    if part is None:
        return "text", ""
    assert isinstance(part, EmailMessage)
    return ("html" if part.get_content_subtype() == "html" else "text"), str(part.get_content())


def raw_message(session: Session, principal: Principal, outbox_dir: Path, ident: int) -> bytes:
    row = load_message(session, principal, ident)
    path = outbox_dir / Path(row.path).name
    try:
        return path.read_bytes()
    except FileNotFoundError as err:
        raise NotFound("outbox message file", ident) from err
