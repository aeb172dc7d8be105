"""Dates, times and numbers as the current person reads them: in their language (Babel) and
their time zone, with the zone named where a time is shown. Storage stays UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, format_time, get_timezone_name
from babel.numbers import format_decimal

from i18n.catalogues import language_of
from i18n.context import current_locale, current_zone


def _babel_locale(lang: str) -> str:
    """English dates the European way ("15 Jan 2027", 24-hour clock): our partners are."""
    return "en_GB" if lang == "en" else lang


def _here() -> str:
    return _babel_locale(language_of(current_locale()))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def local(moment: datetime, zone: str | None = None) -> datetime:
    """The moment on the wall clock of `zone` (default: the current person's)."""
    return _aware(moment).astimezone(ZoneInfo(zone or current_zone()))


def when(moment: datetime | None, fmt: str = "medium") -> str:
    """'4 Dec 2026, 09:00' / '04.12.2026, 09:00' / '4 dec 2026, 09:00' in the current zone."""
    if moment is None:
        return ""
    lang = language_of(current_locale())
    return format_datetime(local(moment), _datetime_pattern(lang, fmt), locale=_babel_locale(lang))


def _datetime_pattern(lang: str, fmt: str) -> str:
    # Babel's "medium" adds seconds; people schedule to the minute.
    if fmt == "seconds":
        return "medium"
    return {"en": "d MMM y, HH:mm", "de": "dd.MM.y, HH:mm", "nl": "d MMM y, HH:mm"}[lang]


def day(value: date | datetime | None, fmt: str = "medium") -> str:
    """A date; a datetime is first moved to the current zone (its local day)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = local(value).date()
    return format_date(value, fmt, locale=_here())


def clock(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return format_time(local(moment), "HH:mm", locale=_here())


def number(value: float | int) -> str:
    return format_decimal(value, locale=_here())


def zone_name(zone: str | None = None) -> str:
    """What the page says its times are in: 'Europe/Amsterdam' with the people's name for it."""
    name = zone or current_zone()
    if name == "UTC":
        return "UTC"
    readable = get_timezone_name(ZoneInfo(name), locale=_here())
    return f"{readable} ({name})"


def input_value(moment: datetime | None) -> str:
    """A datetime-local field's value: the local wall clock, to the minute."""
    return local(moment).strftime("%Y-%m-%dT%H:%M") if moment else ""


def from_input(raw: str, zone: str | None = None) -> datetime:
    """A datetime-local field's value, read on the wall clock of `zone`, as UTC.

    Raises ValueError for text that is not a date and time. A wall-clock time that happens
    twice (autumn) is the first; one that does not exist (spring) moves forward an hour."""
    naive = datetime.fromisoformat(raw.strip())
    if naive.tzinfo is not None:
        return naive.astimezone(UTC)
    # fold=0: in an autumn overlap the first (summer) time; in a spring gap the offset from
    # before the jump, which lands an hour later on the new clock.
    return naive.replace(tzinfo=ZoneInfo(zone or current_zone())).astimezone(UTC)


def language_name(code: str | None) -> str:
    """A language (or "nl-BE") named in the current language: "Niederländisch", "Duits",
    "Nederlands (België)"; a code Babel does not know stays the code."""
    if not code:
        return ""
    try:
        named = Locale.parse(code.replace("-", "_")).get_display_name(_here())
    except (ValueError, UnknownLocaleError):
        return code
    return named[:1].upper() + named[1:] if named else code
