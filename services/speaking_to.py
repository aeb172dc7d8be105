"""An email to a portal user in their language and time zone.

Notifications are composed in activities, far from any request: the person's preferences
(services.preferences: their own choice, else their partner's, else the brand's zone) are read
for each recipient and spoken for the length of their message, so gettext and i18n.formats in
the composing code speak to that one person, and the next recipient gets their own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlmodel import Session

from i18n.context import speaking
from i18n.formats import when, zone_name
from models.org import User
from services.preferences import Preferences, preferences_for


@contextmanager
def speaking_to(session: Session, user: User | None) -> Iterator[Preferences]:
    """Within the block: `user`'s language and zone (English and UTC for nobody)."""
    preferences = preferences_for(session, user, None)
    with speaking(preferences.locale, preferences.zone):
        yield preferences


def local_time(moment: datetime) -> str:
    """A moment as the current person reads it, with their zone named (an email has no page
    that names it): "16 jan 2027, 09:00 Midden-Europese tijd (Europe/Amsterdam)"."""
    return f"{when(moment)} {zone_name()}"
