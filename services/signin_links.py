"""Links in partner emails that sign the partner in and open the campaign's form.

The same token rules as the one-click approval links (services.action_links): claims bound to
the user and the partner campaign, one canonical text (core.signing), an expiry, compared in
constant time; their own signing purpose, so neither kind passes for the other. On top:
single use, recorded by the SHA-256 of the token's text in UsedSignInLink (a replay, even
within the expiry, fails), and the user must still be active and still reach the partner
campaign when the link is used, not only when the email went out.

`check` answers without using the link (the GET of the landing page, which mail scanners also
fetch); `redeem` uses it up (the POST that signs in). A link that cannot sign in still names
the page it was for, so the visitor signs in with a password and lands there.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete

from core import signing
from core.errors import Problem
from core.settings import Settings
from models.campaigns import PartnerCampaign
from models.links import UsedSignInLink
from models.org import User
from services import audit
from services.accounts import principal_for
from services.action_links import SIGN_IN, ActionToken, decode, encode, expiry
from services.campaigns import load_partner_campaign

ACTION = "sign_in_link"


def form_path(partner_campaign_id: int) -> str:
    """The partner campaign's form in the portal: where a sign-in link leads."""
    return f"/partner-campaigns/{partner_campaign_id}"


def make_token(settings: Settings, pc_id: int, user_id: int, *, now: datetime | None = None) -> str:
    token = ActionToken(
        partner_campaign_id=pc_id,
        user_id=user_id,
        action=SIGN_IN,
        expires=expiry(timedelta(seconds=settings.signin_link_ttl), now),
        nonce=secrets.token_urlsafe(9),
    )
    return encode(settings, signing.SIGNIN_LINK, token)


def make_link(settings: Settings, pc_id: int, user_id: int, *, now: datetime | None = None) -> str:
    """The absolute URL for one recipient's email (called per recipient by notifications)."""
    token = make_token(settings, pc_id, user_id, now=now)
    return f"{settings.public_base_url.rstrip('/')}/portal-link/{token}"


@dataclass(frozen=True)
class Verdict:
    """What a link may do: sign `user` in (when set) and open `next_path`; `reason` says why
    not (for the audit trail and the sign-in page)."""

    next_path: str
    user: User | None = None
    reason: str = ""
    token: ActionToken | None = None


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def check(
    session: Session, settings: Settings, raw: str, *, now: datetime | None = None
) -> Verdict:
    """Whether the link may sign in now, without using it."""
    now = now or datetime.now(UTC)
    token = decode(settings, signing.SIGNIN_LINK, raw)
    if token is None or token.action != SIGN_IN:
        return Verdict("/inbox", reason="invalid")
    path = form_path(token.partner_campaign_id)
    if token.expires <= now:
        return Verdict(path, reason="expired", token=token)
    if session.get(UsedSignInLink, _digest(raw)) is not None:
        return Verdict(path, reason="used", token=token)
    user = session.get(User, token.user_id)
    if user is None or not user.is_active:
        return Verdict(path, reason="inactive", token=token)
    try:
        load_partner_campaign(session, principal_for(session, user), token.partner_campaign_id)
    except Problem:
        return Verdict(path, reason="no_access", token=token)
    return Verdict(path, user=user, token=token)


def redeem(
    session: Session,
    settings: Settings,
    raw: str,
    *,
    now: datetime | None = None,
    request_id: str | None = None,
) -> Verdict:
    """Use the link: on success it is recorded as used (in the caller's transaction, which
    also holds the audit event), so the same text never signs in again."""
    found = check(session, settings, raw, now=now)
    if found.user is None or found.token is None:
        _audit(session, found, request_id)
        return found
    _forget_expired(session, now or datetime.now(UTC))
    try:
        with session.begin_nested():
            session.add(
                UsedSignInLink(
                    digest=_digest(raw),
                    user_id=found.token.user_id,
                    partner_campaign_id=found.token.partner_campaign_id,
                    expires_at=found.token.expires,
                )
            )
    except IntegrityError:  # used at the same moment in another request
        found = Verdict(found.next_path, reason="used", token=found.token)
    _audit(session, found, request_id)
    return found


def _forget_expired(session: Session, now: datetime) -> None:
    """A used link past its expiry is refused by the expiry alone: its row can go. Done at each
    sign-in by link, so the table holds only links that could still be replayed."""
    session.exec(delete(UsedSignInLink).where(col(UsedSignInLink.expires_at) < now))


def _audit(session: Session, found: Verdict, request_id: str | None) -> None:
    """Sign-ins by link, and refused links whose signature holds (a tampered or garbled one
    names no brand and is not recorded)."""
    token = found.token
    if token is None:
        return
    row = session.get(PartnerCampaign, token.partner_campaign_id)
    if row is None:
        return
    outcome = "signed in" if found.user is not None else f"refused ({found.reason})"
    audit.append_in(
        session,
        audit.NewEvent(
            brand_id=row.brand_id,
            region_id=row.region_id,
            partner_id=row.partner_id,
            actor=str(token.user_id),
            action=ACTION,
            entity_type="partner_campaign",
            entity_id=str(row.id),
            event_key=f"{ACTION}:{token.nonce}:{outcome}:{secrets.token_hex(4)}",
            after={"user_id": token.user_id, "outcome": found.reason or "signed_in"},
            comment=f"sign-in by link: {outcome}",
            request_id=request_id,
        ),
    )
