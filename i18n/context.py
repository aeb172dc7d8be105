"""The language and time zone of the person being served right now.

Context variables, so a request (or an activity composing one recipient's email) sets them once
and every gettext call and date format below it speaks that person's language and zone, without
passing them through every function. Unset, they are English and UTC: the API's language."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

DEFAULT_LOCALE = "en"
DEFAULT_ZONE = "UTC"

_locale: ContextVar[str] = ContextVar("locale", default=DEFAULT_LOCALE)
_zone: ContextVar[str] = ContextVar("zone", default=DEFAULT_ZONE)


def current_locale() -> str:
    return _locale.get()


def current_zone() -> str:
    return _zone.get()


def set_current(locale: str | None = None, zone: str | None = None) -> None:
    """For a request's whole life (its context ends with it)."""
    if locale:
        _locale.set(locale)
    if zone:
        _zone.set(zone)


@contextmanager
def speaking(locale: str | None = None, zone: str | None = None) -> Iterator[None]:
    """Within the block only: one recipient's email among many."""
    tokens = []
    if locale:
        tokens.append((_locale, _locale.set(locale)))
    if zone:
        tokens.append((_zone, _zone.set(zone)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)
