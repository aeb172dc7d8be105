"""Who is due to enter a journey, page by page: the triggers of an `active` activation.

Only contacts with email consent are ever due (a journey is marketing mail). What each
trigger considers, and so what switching a journey on does for the contacts a partner already
has:

- contact_created: contacts created at or after the activation went active (its watermark:
  `approved_at`, else `switched_on_at`); existing contacts are not welcomed again.
  Occurrence "signup": once per contact and activation.
- consent_granted: contacts whose consent was given at or after the watermark. Occurrence
  "consent".
- date_attribute: every contact whose attribute (YYYY-MM-DD) recurs today in the partner's
  zone (29 February on 28 February in other years), existing contacts included. Occurrence:
  the local date, so next year's birthday is a new enrolment; the first step waits for the
  trigger's local time.
- inactivity: every contact, existing ones included, whose last activity is `days` or more
  ago. Activity is the latest of: the contact's creation, any DeliveryEvent (delivered,
  opened, clicked, ...) of a campaign message to the contact, any journey message sent to
  the contact. Occurrence "idle-<date of that last activity>": a contact who becomes active
  and idle again enters again; the journey's own message counts as activity, so a win-back
  journey comes round at most every `days` days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from domain.journey_time import at_local, local_date, recurs_on, zone
from domain.journeys import ActivationState, JourneyState, TriggerKind
from models.contacts import ConsentStatus, Contact
from models.delivery import Delivery, DeliveryEvent
from models.journey_spec import JourneySpec, JourneyTrigger
from models.journeys import Journey, JourneyActivation, JourneySend, JourneyVersion
from models.org import Partner

PAGE = 1000  # contacts read per page


@dataclass(frozen=True)
class Due:
    contact_id: int
    occurrence: str
    not_before: datetime | None = None


@dataclass
class DuePage:
    due: list[Due]
    scanned: int
    next_contact_id: int | None  # None: no contacts after this page


@dataclass(frozen=True)
class Running:
    """An activation the sweep enrols for, with what its triggers need."""

    activation: JourneyActivation
    spec: JourneySpec
    partner: Partner


def active_activation_ids(session: Session) -> list[int]:
    """Activations that enrol: switched on (`active`) for a journey that is not retired."""
    rows = session.exec(
        select(JourneyActivation.id)
        .join(Journey, col(Journey.id) == col(JourneyActivation.journey_id))
        .where(JourneyActivation.state == ActivationState.active)
        .where(Journey.state != JourneyState.retired)
        .order_by(col(JourneyActivation.id))
    ).all()
    return [i for i in rows if i is not None]


def load_running(session: Session, activation_id: int) -> Running | None:
    """None when the activation no longer enrols (switched off, journey retired meanwhile)."""
    activation = session.get(JourneyActivation, activation_id)
    if activation is None or activation.state != ActivationState.active:
        return None
    journey = session.get(Journey, activation.journey_id)
    if journey is None or journey.state == JourneyState.retired:
        return None
    version = session.exec(
        select(JourneyVersion)
        .where(JourneyVersion.journey_id == activation.journey_id)
        .where(JourneyVersion.version == activation.version)
    ).one_or_none()
    partner = session.get(Partner, activation.partner_id)
    if version is None or partner is None:
        return None
    return Running(activation, JourneySpec.model_validate(version.spec), partner)


def watermark(activation: JourneyActivation) -> datetime:
    return _aware(activation.approved_at or activation.switched_on_at or activation.created_at)


def _aware(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def due_page(
    session: Session, running: Running, now: datetime, after_id: int = 0, limit: int = PAGE
) -> DuePage:
    """The due contacts among the next `limit` consenting contacts after `after_id`."""
    trigger = running.spec.trigger
    query = (
        select(Contact.id, Contact.attributes, Contact.created_at)
        .where(Contact.partner_id == running.activation.partner_id)
        .where(Contact.consent_status == ConsentStatus.granted.value)
        .where(col(Contact.id) > after_id)
        .order_by(col(Contact.id))
        .limit(limit)
    )
    if trigger.kind is TriggerKind.contact_created:
        query = query.where(col(Contact.created_at) >= watermark(running.activation))
    elif trigger.kind is TriggerKind.consent_granted:
        query = query.where(col(Contact.consent_at) >= watermark(running.activation))
    rows = session.exec(query).all()
    nxt = rows[-1][0] if len(rows) == limit else None
    return DuePage(_due(session, running, trigger, rows, now), len(rows), nxt)


def _due(
    session: Session,
    running: Running,
    trigger: JourneyTrigger,
    rows: Any,
    now: datetime,
) -> list[Due]:
    if trigger.kind is TriggerKind.contact_created:
        return [Due(r[0], "signup") for r in rows]
    if trigger.kind is TriggerKind.consent_granted:
        return [Due(r[0], "consent") for r in rows]
    if trigger.kind is TriggerKind.date_attribute:
        tz = zone(running.partner.timezone)
        today = local_date(now, tz)
        starts = at_local(today, trigger.local_time, tz)
        attr = trigger.attribute or ""
        return [
            Due(r[0], today.isoformat(), starts)
            for r in rows
            if recurs_on((r[1] or {}).get(attr), today)
        ]
    assert trigger.days is not None
    last = last_activity(session, {r[0]: _aware(r[2]) for r in rows})
    cutoff = now - timedelta(days=trigger.days)
    return [Due(cid, f"idle-{at.date().isoformat()}") for cid, at in last.items() if at <= cutoff]


def last_activity(session: Session, created: dict[int, datetime]) -> dict[int, datetime]:
    """Each contact's latest activity (see the module's docstring), two grouped queries."""
    last = dict(created)
    ids = list(created)
    if not ids:
        return last
    events = session.exec(
        select(Delivery.contact_id, func.max(DeliveryEvent.at))
        .join(Delivery, col(Delivery.id) == col(DeliveryEvent.delivery_id))
        .where(col(Delivery.contact_id).in_(ids))
        .group_by(col(Delivery.contact_id))
    ).all()
    sends = session.exec(
        select(JourneySend.contact_id, func.max(JourneySend.sent_at))
        .where(col(JourneySend.contact_id).in_(ids))
        .group_by(col(JourneySend.contact_id))
    ).all()
    for cid, at in [*events, *sends]:
        if cid is not None and at is not None:
            last[cid] = max(last[cid], _aware(at))
    return last
