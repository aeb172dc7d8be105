"""A send step: the JourneySend row first (unique per journey, step, contact and occurrence),
then the message through the project's mail transport.

Right before the hand-over the contact is checked again (erased, consent, unsubscribed,
converted, the activation still on), then quiet hours at the partner, then the brand's
suppression list. The row moves pending -> sending (committed) -> sent (committed), as a
campaign's delivery row does: a retry finds `sent` and sends nothing; a worker killed inside
the hand-over leaves `sending`, and the retry hands the message over again with the same
Message-ID, derived from the row (the embedded outbox keeps one message per Message-ID; a
relay or SES may deliver that one message twice, recognisable by its id).

The message is the step's template version rendered by the content engine
(services.delivery.compose_for) with the activation's values for that step, in the contact's
locale (the partner's otherwise). Partner text is data in the slots, never template code.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from core.settings import Settings
from domain.journey_time import zone
from domain.states import DELIVERY_FINAL, DeliveryStatus, PartnerCampaignState
from mail.errors import PermanentSendError, TransportPausedError
from mail.message import parse_address
from mail.transport import MessageSender
from models.base import utcnow
from models.campaigns import Campaign, PartnerCampaign
from models.contacts import Contact
from models.journey_io import JourneySendOutcome, JourneyStepSend
from models.journey_spec import JourneySpec, SendStep
from models.journeys import Journey, JourneyActivation, JourneyEnrolment, JourneySend
from models.org import Brand, Partner
from models.templates import TemplateVersion
from services import suppression
from services.delivery import SendContext, compose_for, recipient_vars
from services.engagement.preferences import preferences_url
from services.engagement.unsubscribe import unsubscribe_url
from services.journeys.enrolment import exit_reason
from services.journeys.plan import spec_of
from services.sender import identity_for
from services.sms.delivery import quiet_until
from services.templates import content_of


@dataclass(frozen=True)
class _Loaded:
    enrolment: JourneyEnrolment
    activation: JourneyActivation
    journey: Journey
    partner: Partner
    spec: JourneySpec


def message_id_for(row: JourneySend, domain: str) -> str:
    """Derived from the ledger row: a hand-over repeated after a kill carries the same id."""
    return f"<j{row.id}.e{row.enrolment_id}@{domain}>"


def _load(session: Session, enrolment_id: int) -> _Loaded:
    enrolment = session.get(JourneyEnrolment, enrolment_id)
    if enrolment is None:
        raise LookupError(f"journey enrolment {enrolment_id} does not exist")
    activation = session.get(JourneyActivation, enrolment.activation_id)
    journey = session.get(Journey, enrolment.journey_id)
    partner = session.get(Partner, enrolment.partner_id)
    assert activation is not None and journey is not None and partner is not None
    return _Loaded(enrolment, activation, journey, partner, spec_of(session, activation))


def _ledger_row(session: Session, loaded: _Loaded, step: SendStep, contact: Contact) -> JourneySend:
    e = loaded.enrolment
    key = (
        select(JourneySend)
        .where(JourneySend.journey_id == e.journey_id)
        .where(JourneySend.step_id == step.id)
        .where(JourneySend.contact_id == e.contact_id)
        .where(JourneySend.occurrence == e.occurrence)
    )
    row = session.exec(key).one_or_none()
    if row is not None:
        return row
    assert e.id is not None
    try:
        with session.begin_nested():
            row = JourneySend(
                brand_id=e.brand_id,
                partner_id=e.partner_id,
                journey_id=e.journey_id,
                activation_id=e.activation_id,
                enrolment_id=e.id,
                step_id=step.id,
                contact_id=e.contact_id,
                occurrence=e.occurrence,
                template_version_id=step.template_version_id,
                email=contact.email,
            )
            session.add(row)
        session.commit()
        return row
    except IntegrityError:  # written by a concurrent attempt
        session.rollback()
        return session.exec(key).one()


def _mark(session: Session, row: JourneySend, status: DeliveryStatus, **changes: object) -> None:
    row.status = status
    for name, value in changes.items():
        setattr(row, name, value)
    row.updated_at = utcnow()
    session.add(row)
    session.commit()


def context_for(
    session: Session, settings: Settings, loaded: _Loaded, step: SendStep
) -> SendContext:
    """The delivery code's context for one journey step: an unsaved partner campaign stands
    for the activation (its values for this step, the partner's language, approved content),
    an unsaved campaign for the journey's name (what `campaign.name` shows in a template)."""
    version = session.get(TemplateVersion, step.template_version_id)
    brand = session.get(Brand, loaded.activation.brand_id)
    assert version is not None and brand is not None
    act = loaded.activation
    pc = PartnerCampaign(
        campaign_id=0,
        workflow_id="",
        brand_id=act.brand_id,
        region_id=act.region_id,
        partner_id=act.partner_id,
        state=PartnerCampaignState.sending,
        values=dict((act.values or {}).get(step.id, {})),
        locale=loaded.partner.locale or "en",
    )
    campaign = Campaign(
        brand_id=act.brand_id,
        name=loaded.journey.name,
        template_version_id=step.template_version_id,
        personalise_until=loaded.activation.created_at,
        send_by=loaded.activation.created_at,
        created_by=loaded.journey.created_by,
    )
    return SendContext(
        pc=pc,
        campaign=campaign,
        version=version,
        content=content_of(version),
        partner=loaded.partner,
        brand=brand,
        settings=settings,
        identity=identity_for(session, settings, loaded.partner),
    )


def send_step(
    engine: Engine, settings: Settings, transport: MessageSender, req: JourneyStepSend
) -> JourneySendOutcome:
    with Session(engine, expire_on_commit=False) as session:
        loaded = _load(session, req.enrolment_id)
        step = loaded.spec.step(req.step_id)
        assert isinstance(step, SendStep)
        reason, contact = exit_reason(session, loaded.enrolment, loaded.spec)
        if reason is not None:
            return JourneySendOutcome(status="exit", exit_reason=reason.value)
        assert contact is not None
        quiet = quiet_until(
            req.at,
            zone(loaded.partner.timezone),
            settings.journey_quiet_start,
            settings.journey_quiet_end,
        )
        if quiet is not None:
            return JourneySendOutcome(status="quiet", quiet_until=quiet)
        row = _ledger_row(session, loaded, step, contact)
        if row.status in DELIVERY_FINAL:
            return JourneySendOutcome(status=row.status.value)
        if suppression.is_suppressed(session, contact.brand_id, contact.email):
            _mark(session, row, DeliveryStatus.suppressed)
            return JourneySendOutcome(status=DeliveryStatus.suppressed.value)
        ctx = context_for(session, settings, loaded, step)
        try:
            to = parse_address(contact.email, "to")
        except ValueError as err:
            _mark(session, row, DeliveryStatus.failed, error=str(err)[:1000])
            return JourneySendOutcome(status=DeliveryStatus.failed.value)
        assert contact.id is not None
        locale = contact.locale or ctx.pc.locale
        name = contact.name or ""
        msg = compose_for(
            session,
            ctx,
            to=to,
            recipient=recipient_vars(name.split(" ")[0], name, contact.email, locale),
            unsubscribe=unsubscribe_url(settings, contact.brand_id, contact.partner_id, contact.id),
            message_id=message_id_for(row, ctx.identity.domain),
            now=req.at,
            preferences=preferences_url(settings, contact.brand_id, contact.partner_id, contact.id),
        )
        _mark(session, row, DeliveryStatus.sending, attempts=row.attempts + 1)
        try:
            provider_id = transport.send(msg)
        except TransportPausedError:
            raise  # the transport refuses everything for now: the activity retries
        except PermanentSendError as err:
            _mark(session, row, DeliveryStatus.failed, error=str(err)[:1000])
            return JourneySendOutcome(status=DeliveryStatus.failed.value)
        _mark(
            session,
            row,
            DeliveryStatus.sent,
            message_id=str(msg["Message-ID"]),
            provider_message_id=provider_id,
            sent_at=req.at,
        )
        return JourneySendOutcome(status=DeliveryStatus.sent.value)
