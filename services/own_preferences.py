"""A person's own language and time zone (the settings page and /api/v1/me/preferences), and
the brand's time zone that HQ's people see times in.

Empty means "derived" (services.preferences): the partner's choice for partner users, the
browser's language and the brand's zone for HQ. Unknown values are refused naming the field,
never stored: a page must always be able to speak the stored choice."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import available_timezones

from sqlmodel import Session

from core.errors import FieldError, Forbidden, NotFound
from core.policy import Permission, Principal, Target, allows
from i18n.catalogues import LANGUAGE_NAMES, LANGUAGES
from i18n.translate import N_, gettext
from models.org import Brand, User
from services.org import Actor, record, record_about, snapshot
from services.preferences import home_partner, preferences_for, valid_zone

# Offered first: where the brand's partners are.
COMMON_ZONES: tuple[str, ...] = (
    "Europe/Amsterdam",
    "Europe/Berlin",
    "Europe/Brussels",
    "Europe/Vienna",
    "Europe/Zurich",
    "Europe/Luxembourg",
    "Europe/Paris",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Copenhagen",
    "Europe/Stockholm",
    "Europe/Oslo",
    "Europe/Warsaw",
    "Europe/Madrid",
    "Europe/Rome",
    "UTC",
)


def zone_choices() -> list[str]:
    """The common European zones, then every other zone the system knows, sorted."""
    rest = sorted(available_timezones() - set(COMMON_ZONES))
    return [*COMMON_ZONES, *rest]


def check_locale(value: str) -> str:
    value = value.strip()
    if value and value not in LANGUAGES:
        raise FieldError("locale", f"choose one of {', '.join(LANGUAGES)} or empty for automatic")
    return value


def check_zone(value: str, field: str = "timezone") -> str:
    value = value.strip()
    if value and not valid_zone(value):
        raise FieldError(field, "not a known time zone (e.g. Europe/Amsterdam) or empty")
    return value


@dataclass(frozen=True)
class InUse:
    """What the person is served now, and why (for the settings page and the API)."""

    locale: str
    timezone: str
    chosen_locale: str
    chosen_timezone: str
    locale_source: str  # "own", "partner", "browser"
    timezone_source: str  # "own", "partner", "brand", "default"
    partner_name: str | None


def in_use(session: Session, user: User, accept_language: str | None = None) -> InUse:
    found = preferences_for(session, user, accept_language)
    partner = home_partner(session, user)
    if user.locale and user.locale in LANGUAGES:
        locale_source = "own"
    elif partner is not None:
        locale_source = "partner"
    else:
        locale_source = "browser"
    if valid_zone(user.timezone):
        zone_source = "own"
    elif partner is not None and valid_zone(partner.timezone):
        zone_source = "partner"
    else:
        brand = session.get(Brand, user.brand_id)
        zone_source = "brand" if brand is not None and valid_zone(brand.timezone) else "default"
    return InUse(
        locale=found.locale,
        timezone=found.zone,
        chosen_locale=user.locale,
        chosen_timezone=user.timezone,
        locale_source=locale_source,
        timezone_source=zone_source,
        partner_name=partner.display_name if partner is not None else None,
    )


_WHY = {
    "own": N_("your own choice"),
    "partner": N_("from your partner %(partner)s"),
    "browser": N_("from your browser"),
    "brand": N_("the brand's time zone"),
    "default": N_("the default"),
}


def why(source: str, partner_name: str | None) -> str:
    """'from your partner Amsterdam', in the current language."""
    return gettext(_WHY[source], partner=partner_name or "")


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


def update_own(
    session: Session,
    actor: Actor,
    *,
    locale: str | None = None,
    timezone: str | None = None,
) -> User:
    """The caller's own choice only; None leaves a value as it is, "" means automatic."""
    user = session.get(User, actor.principal.user_id)
    if user is None:
        raise NotFound("user", actor.principal.user_id)
    new_locale = check_locale(locale) if locale is not None else user.locale
    new_zone = check_zone(timezone) if timezone is not None else user.timezone
    if (new_locale, new_zone) == (user.locale, user.timezone):
        return user
    before = snapshot(user)
    user.locale, user.timezone = new_locale, new_zone
    session.add(user)
    session.flush()
    record(session, actor, "user.preferences_updated", user, before, snapshot(user))
    return user


def may_set_brand_zone(principal: Principal) -> bool:
    """Brand-wide organisation settings: who manages the brand's partners (brand admins)."""
    return allows(principal, Permission.partner_manage, Target(brand_id=principal.brand_id))


def set_brand_zone(session: Session, actor: Actor, timezone: str) -> Brand:
    if not may_set_brand_zone(actor.principal):
        raise Forbidden("Only the brand's administrators set the brand's time zone.")
    zone = check_zone(timezone, "brand_timezone") or "UTC"
    brand = session.get(Brand, actor.principal.brand_id)
    if brand is None:
        raise NotFound("brand", actor.principal.brand_id)
    if brand.timezone == zone:
        return brand
    before = snapshot(brand)
    brand.timezone = zone
    session.add(brand)
    session.flush()
    record_about(
        session,
        actor,
        "brand.updated",
        Target(brand_id=brand.id or actor.principal.brand_id),
        "brand",
        str(brand.id),
        before,
        snapshot(brand),
    )
    return brand
