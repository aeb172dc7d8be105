"""Which language and time zone a person is served in.

A user's own choice wins (settings page). Otherwise partner users get their partner's locale
and zone (the first partner they belong to, by id, so the choice is stable), and HQ and region
people the browser's language and the brand's zone. Whatever a person chose that the portal
cannot serve falls back to English and UTC rather than failing a page."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, col, select

from i18n.catalogues import LANGUAGES, SOURCE_LANGUAGE, language_of
from models.org import Brand, Membership, Partner, User


@dataclass(frozen=True)
class Preferences:
    locale: str
    zone: str


def valid_zone(name: str) -> bool:
    if not name or name.startswith(("/", ".")):
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def from_accept_language(header: str | None) -> str | None:
    """The first language of the header the portal speaks, by the header's weights."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        lang = tag.strip().replace("_", "-").split("-")[0].lower()
        if lang in LANGUAGES and weight > 0:
            ranked.append((-weight, index, lang))
    return min(ranked)[2] if ranked else None


def home_partner(session: Session, user: User) -> Partner | None:
    partner_id = session.exec(
        select(Membership.partner_id)
        .where(Membership.user_id == user.id, col(Membership.partner_id).is_not(None))
        .order_by(col(Membership.partner_id))
    ).first()
    return session.get(Partner, partner_id) if partner_id is not None else None


def preferences_for_visitor(accept_language: str | None) -> Preferences:
    """Someone not signed in (the sign-in page): the browser's language, times in UTC."""
    return Preferences(from_accept_language(accept_language) or SOURCE_LANGUAGE, "UTC")


def preferences_for(
    session: Session, user: User | None, accept_language: str | None = None
) -> Preferences:
    browser = from_accept_language(accept_language)
    if user is None:
        return preferences_for_visitor(accept_language)
    partner = home_partner(session, user)
    if user.locale and language_of(user.locale) == user.locale:
        locale = user.locale
    elif partner is not None:
        locale = language_of(partner.locale)
    else:
        locale = browser or SOURCE_LANGUAGE
    if valid_zone(user.timezone):
        zone = user.timezone
    elif partner is not None and valid_zone(partner.timezone):
        zone = partner.timezone
    else:
        brand = session.get(Brand, user.brand_id)
        zone = brand.timezone if brand is not None and valid_zone(brand.timezone) else "UTC"
    return Preferences(locale, zone)
