"""The outbox SMS viewer: what the embedded SMS transport "sent", scoped and withheld exactly as
the email outbox (services.outbox): brand roles only, their own brand's rows, and a message to
a contact shows its number and text only to those who may see that partner's contact data.

A withheld SMS is not redrawn (the email outbox redraws for a placeholder): its text is
withheld as a whole, with its encoding and segment count still shown (they are the send's
cost, not the contact's data).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from core.policy import Principal
from models.outbox import OutboxSms
from services.outbox import WITHHELD_TO, _brand_of, _withheld
from services.paging import Key, Listing, Paged, PageRequest, fetch

WITHHELD_BODY = "(text withheld)"


@dataclass(frozen=True)
class SmsEntry:
    """An SMS as the caller may see it (the API and the portal show the same)."""

    id: int
    message_id: str
    to: str
    sender_id: str
    body: str
    encoding: str
    segments: int
    sent_at: datetime
    partner_campaign_id: int | None
    delivery_id: str | None
    recipient_withheld: bool
    withheld_because: str | None = None
    test: bool = False


def _entry(row: OutboxSms, because: str | None) -> SmsEntry:
    return SmsEntry(
        id=row.id or 0,
        message_id=row.message_id,
        to=row.to if because is None else WITHHELD_TO,
        sender_id=row.sender_id,
        body=row.body if because is None else WITHHELD_BODY,
        encoding=row.encoding,
        segments=row.segments,
        sent_at=row.sent_at,
        partner_campaign_id=row.partner_campaign_id,
        delivery_id=row.delivery_id,
        recipient_withheld=because is not None,
        withheld_because=because,
        test=row.is_test,
    )


OUTBOX_SMS = Listing(
    "outbox_sms",
    col(OutboxSms.id),
    {"sent_at": Key(col(OutboxSms.sent_at), "datetime")},
    default="-sent_at",
)


def list_sms(
    session: Session,
    principal: Principal,
    paging: PageRequest,
    partner_campaign_id: int | None = None,
    sort: str = "-sent_at",
) -> Paged[SmsEntry]:
    """The brand's SMS, newest first by default; Forbidden for partner and region roles."""
    stmt: Any = select(OutboxSms).where(OutboxSms.brand_id == _brand_of(principal))
    if partner_campaign_id is not None:
        stmt = stmt.where(OutboxSms.partner_campaign_id == partner_campaign_id)
    result = fetch(session, stmt, OUTBOX_SMS, sort, paging)
    hidden = _withheld(session, principal, result.items)
    entries = [_entry(r, hidden.get(r.id or 0)) for r in result.items]
    return Paged(entries, result.next_cursor, result.total)
