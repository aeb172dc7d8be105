"""The outbox viewer: what the embedded transport "sent", for HQ (brand-scope roles only).

Outbox rows name partners' customers, so partner and region users never list them, and HQ sees
its own brand's rows only; rows sent without a brand tag (system mail) are listed to nobody.
The .eml is read from the outbox directory by the row's file name, never by a caller's path.

A message to a contact (a row with a delivery tag) shows its recipient only to those who may
see that partner's contact data (core.policy.may_see_contact_data through
services.access.contact_data_partners) and only while the contact exists: everyone else gets
"1 recipient" and the message redrawn with placeholders (services.withheld), never the stored
file. Notifications to platform users carry no delivery tag and are shown as sent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from core.errors import Forbidden, NotFound
from core.policy import Permission, Principal, has_permission_somewhere, visibility
from core.settings import Settings
from mail.transport import outbox_dir
from models.delivery import Delivery
from models.org import Partner
from models.outbox import OutboxMessage, OutboxSms
from services import withheld
from services.access import contact_data_partners
from services.paging import Key, Listing, Paged, PageRequest, fetch

WITHHELD_TO = "1 recipient"  # a ledger row is one recipient
WITHHELD_SUBJECT = "(subject withheld)"


@dataclass(frozen=True)
class OutboxEntry:
    """A row as the caller may see it (the API and the portal show the same)."""

    id: int
    message_id: str
    to: str
    subject: str
    sent_at: datetime
    partner_campaign_id: int | None
    delivery_id: str | None
    recipient_withheld: bool
    withheld_because: str | None = None
    test: bool = False  # a test send (services.send_tests), never a delivery


def _brand_of(principal: Principal) -> int:
    if not visibility(principal, Permission.outbox_read).whole_brand:
        raise Forbidden("The outbox is for brand roles (HQ) only")
    return principal.brand_id


def _delivery_id(row: OutboxMessage | OutboxSms) -> int | None:
    value = row.delivery_id
    return int(value) if value is not None and value.isdigit() else None


def _withheld(
    session: Session, principal: Principal, rows: Sequence[OutboxMessage | OutboxSms]
) -> dict[int, str]:
    """Outbox row id -> why its recipient is withheld, for the rows whose recipient the
    principal may not see (email or SMS rows). A contact message whose ledger row cannot be
    found is withheld."""
    to_contacts = [r for r in rows if r.delivery_id is not None]
    if not to_contacts:
        return {}
    ids = sorted({i for r in to_contacts if (i := _delivery_id(r)) is not None})
    deliveries = {
        d.id: d for d in session.exec(select(Delivery).where(col(Delivery.id).in_(ids))).all()
    }
    partner_ids = {d.partner_id for d in deliveries.values()}
    visible = contact_data_partners(session, principal, partner_ids)
    names = dict(
        session.exec(
            select(Partner.id, Partner.display_name).where(col(Partner.id).in_(partner_ids))
        ).all()
    )
    reads_contacts = has_permission_somewhere(principal, Permission.contact_read)
    out: dict[int, str] = {}
    for row in to_contacts:
        found = deliveries.get(_delivery_id(row) or 0)
        if found is None or found.brand_id != row.brand_id:
            reason = "its delivery record is gone"
        elif found.contact_id is None:
            reason = "the recipient was erased"
        elif found.partner_id in visible:
            continue
        elif not reads_contacts:
            reason = "your roles do not include reading contacts"
        else:
            name = names.get(found.partner_id, f"partner {found.partner_id}")
            reason = f"{name} does not share its contacts with the brand"
        out[row.id or 0] = reason
    return out


def _entry(row: OutboxMessage, because: str | None, subject: str | None = None) -> OutboxEntry:
    """The row as shown: as sent, or (withheld `because`) with a count and `subject`."""
    return OutboxEntry(
        id=row.id or 0,
        message_id=row.message_id,
        to=row.to if because is None else WITHHELD_TO,
        subject=row.subject if because is None else subject or WITHHELD_SUBJECT,
        sent_at=row.sent_at,
        partner_campaign_id=row.partner_campaign_id,
        delivery_id=row.delivery_id,
        recipient_withheld=because is not None,
        withheld_because=because,
        test=row.is_test,
    )


def _redraw(session: Session, settings: Settings, row: OutboxMessage) -> EmailMessage | None:
    if row.partner_campaign_id is None:
        return None
    return withheld.redraw(
        session, settings, row.partner_campaign_id, message_id=row.message_id, sent_at=row.sent_at
    )


def _entries(
    session: Session, principal: Principal, settings: Settings, rows: list[OutboxMessage]
) -> list[OutboxEntry]:
    """Withheld rows get the subject redrawn for a placeholder, once per partner campaign."""
    hidden = _withheld(session, principal, rows)
    subjects: dict[int | None, str | None] = {}
    out = []
    for row in rows:
        because = hidden.get(row.id or 0)
        if because is not None and row.partner_campaign_id not in subjects:
            drawn = _redraw(session, settings, row)
            subjects[row.partner_campaign_id] = str(drawn["Subject"]) if drawn else None
        out.append(_entry(row, because, subjects.get(row.partner_campaign_id)))
    return out


OUTBOX = Listing(
    "outbox",
    col(OutboxMessage.id),
    {"sent_at": Key(col(OutboxMessage.sent_at), "datetime")},
    default="-sent_at",
)


def list_messages(
    session: Session,
    principal: Principal,
    settings: Settings,
    paging: PageRequest,
    partner_campaign_id: int | None = None,
    sort: str = "-sent_at",
) -> Paged[OutboxEntry]:
    """Newest first by default."""
    stmt: Any = select(OutboxMessage).where(OutboxMessage.brand_id == _brand_of(principal))
    if partner_campaign_id is not None:
        stmt = stmt.where(OutboxMessage.partner_campaign_id == partner_campaign_id)
    result = fetch(session, stmt, OUTBOX, sort, paging)
    return Paged(
        _entries(session, principal, settings, result.items), result.next_cursor, result.total
    )


def _load_row(session: Session, principal: Principal, ident: int) -> OutboxMessage:
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


def body_of(msg: EmailMessage) -> tuple[str, str]:
    """The message's HTML part (or its text part) as ("html" | "text", body)."""
    part = msg.get_body(preferencelist=("html", "plain"))
    if part is None:
        return "text", ""
    assert isinstance(part, EmailMessage)
    return ("html" if part.get_content_subtype() == "html" else "text"), str(part.get_content())


def message(
    session: Session, principal: Principal, settings: Settings, ident: int
) -> tuple[OutboxEntry, EmailMessage]:
    """The entry and its message: the stored file, or for a withheld recipient the redrawn
    copy (403 naming the reason when it cannot be drawn; the stored file is never the
    fallback)."""
    row = _load_row(session, principal, ident)
    because = _withheld(session, principal, [row]).get(row.id or 0)
    if because is None:
        return _entry(row, None), without_action_links(_parse(_stored(settings, row)))
    redrawn = _redraw(session, settings, row)
    if redrawn is None:
        raise Forbidden(
            f"The recipient of outbox message {ident} is withheld ({because}) and the "
            "campaign's message can no longer be drawn without it"
        )
    return _entry(row, because, str(redrawn["Subject"])), redrawn


def raw_message(session: Session, principal: Principal, settings: Settings, ident: int) -> bytes:
    """The .eml as stored, or the redrawn copy when the recipient is withheld."""
    row = _load_row(session, principal, ident)
    stored = _stored(settings, row)
    if not _withheld(session, principal, [row]) and not ACTION_LINK.search(_decoded(stored)):
        return stored
    return message(session, principal, settings, ident)[1].as_bytes(policy=policy.SMTP)


# A one-click decision link is its recipient's credential (the POST acts as them without
# sign-in): HQ reading the outbox must never hold one of a GM's links.
ACTION_LINK = re.compile(r"/a/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
ACTION_LINK_WITHHELD = "/a/withheld"


def _decoded(raw: bytes) -> str:
    """Every text part's decoded content (links may be folded by quoted-printable)."""
    msg = _parse(raw)
    parts = [p for p in msg.walk() if p.get_content_maintype() == "text"]
    return "\n".join(str(p.get_content()) for p in parts if isinstance(p, EmailMessage))


def without_action_links(msg: EmailMessage) -> EmailMessage:
    """The message with every one-click decision link's token replaced (the link answers
    "not valid"); everything else as sent."""
    for part in msg.walk():
        if not isinstance(part, EmailMessage) or part.get_content_maintype() != "text":
            continue
        content = str(part.get_content())
        cleaned = ACTION_LINK.sub(ACTION_LINK_WITHHELD, content)
        if cleaned != content:
            part.set_content(cleaned, subtype=part.get_content_subtype())
    return msg


def _stored(settings: Settings, row: OutboxMessage) -> bytes:
    path = outbox_dir(settings) / Path(row.path).name
    try:
        return path.read_bytes()
    except FileNotFoundError as err:
        raise NotFound("outbox message file", row.id) from err


def _parse(raw: bytes) -> EmailMessage:
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    return msg
