"""A campaign message redrawn without its recipient, for people who may not see the recipient.

A message to a contact carries the contact's address (To), name (wherever the template uses
`recipient`) and a personal unsubscribe token (the visible link and List-Unsubscribe). Taking
them out of the stored copy cannot be done reliably, because a template may transform the name
or the address in any way; the copy is therefore rendered again from the partner campaign's
approved content with placeholders in place of the recipient. It shows the campaign exactly as
it was approved, in the partner's locale, and holds no personal data by construction.
"""

from __future__ import annotations

from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage

from sqlmodel import Session

from content.render import RenderError
from core.settings import Settings
from services.delivery import compose_for, load_context, recipient_vars

FIRST_NAME = "[first name]"
NAME = "[name]"
ADDRESS = Address(
    display_name="Recipient withheld", username="recipient", domain="withheld.invalid"
)
HEADER = "X-Brandrelay-Withheld"
NOTE = "recipient address, name and unsubscribe link replaced by placeholders"


def unsubscribe_placeholder(settings: Settings) -> str:
    """Where the personal unsubscribe link was (it answers 404: the token is not there)."""
    return f"{settings.public_base_url.rstrip('/')}/u/withheld"


def redraw(
    session: Session,
    settings: Settings,
    partner_campaign_id: int,
    *,
    message_id: str,
    sent_at: datetime,
) -> EmailMessage | None:
    """The partner campaign's message for a placeholder recipient, with the original
    Message-ID and date; None when it cannot be drawn (the campaign is gone, or its content no
    longer renders)."""
    try:
        ctx = load_context(session, settings, partner_campaign_id)
        return compose_for(
            session,
            ctx,
            to=ADDRESS,
            recipient=recipient_vars(FIRST_NAME, NAME, ADDRESS.addr_spec, ctx.pc.locale),
            unsubscribe=unsubscribe_placeholder(settings),
            message_id=message_id,
            now=sent_at,
            headers={HEADER: NOTE},
        )
    except (LookupError, RenderError, ValueError):
        return None
