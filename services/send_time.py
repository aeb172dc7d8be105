"""The partner's send time: the earliest moment a send may be scheduled, the slot the form
offers first, and reading the form's local wall-clock value back as UTC.

The partner campaign workflow refuses a send time before its own clock or after the campaign's
`send_by`; these rules stay inside that window with a small lead, so a time the form accepts is
never refused by the workflow a moment later. Quiet hours are not a scheduling rule: an SMS
batch that reaches them waits by itself (services.sms.delivery) and goes on when they end.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.errors import FieldError
from i18n.formats import from_input, when
from i18n.translate import gettext as _

# "Send now" and the earliest time the form accepts: a few seconds ahead of the clock, so the
# workflow (whose clock has moved on by the time the request reaches it) still accepts it.
LEAD = timedelta(seconds=10)
# The slots a partner's mail usually goes out at, in the partner's local day.
SLOTS = (time(9, 0), time(10, 0))
FIELD = "send_at"


def earliest(now: datetime) -> datetime:
    """The earliest send time the form accepts ("Send now" schedules this)."""
    return _utc(now) + LEAD


def prefill(now: datetime, send_by: datetime, zone: str) -> datetime:
    """The first 09:00 or 10:00 on the wall clock of `zone`, today or later, that is after the
    earliest allowed time and not after `send_by`; when no such slot is left, the earliest
    allowed time (send_by is then close). UTC."""
    start, last = earliest(now), _utc(send_by)
    tz = ZoneInfo(zone)
    local_day = start.astimezone(tz).date()
    while True:
        for slot in SLOTS:
            candidate = datetime.combine(local_day, slot, tzinfo=tz).astimezone(UTC)
            if candidate > last:
                return min(start, last)
            if candidate >= start:
                return candidate
        local_day += timedelta(days=1)


def read_send_time(raw: str, zone: str, now: datetime, send_by: datetime) -> datetime:
    """The form's datetime-local value, read on the wall clock of `zone`, as UTC. Refuses
    text that is not a date and time, a time before the earliest allowed and one after
    send_by, each with a message for the field (in the current language)."""
    try:
        moment = from_input(raw, zone)
    except ValueError:
        raise FieldError(
            FIELD, _("Enter a date and time, like %(example)s.", example="2027-03-01 09:00")
        ) from None
    if moment < earliest(now):
        raise FieldError(
            FIELD, _("Pick a time after %(earliest)s, or use Send now.", earliest=when(now))
        )
    if moment > _utc(send_by):
        raise FieldError(
            FIELD, _("Pick a time no later than %(send_by)s.", send_by=when(_utc(send_by)))
        )
    return moment


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def send_now(now: datetime, send_by: datetime) -> datetime:
    """ "Send now": the earliest allowed time, unless the deadline has passed."""
    moment = earliest(now)
    if moment > _utc(send_by):
        raise FieldError(
            FIELD, _("The deadline %(send_by)s has passed.", send_by=when(_utc(send_by)))
        )
    return moment
