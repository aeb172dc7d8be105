"""The SendWorkflow's side effects: snapshot the audience, send ledger batches, tell people when
the send pauses. Sync activities on the delivery task queue's thread pool (SMTP and SES block)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.notifications import send_partner_notice
from core.settings import Settings
from domain.states import PauseKind
from mail.errors import SendError
from mail.rate_limit import AdaptiveRate, hold, reserve
from mail.redact import without_addresses
from mail.sms import SmsTransport
from mail.sms_transport import make_sms_transport
from mail.transport import MailTransport
from models.base import utcnow
from models.campaigns import Campaign, PartnerCampaign
from models.contacts import Segment
from models.org import Partner, as_profile
from models.workflow_io import (
    AudienceSnapshot,
    BatchOutcome,
    PartnerNotice,
    PartnerRef,
    SendBatchInput,
    SendPaused,
)
from services import audit, delivery, segments
from services.notifications import SEND_LATE, SEND_PAUSED
from services.sms import delivery as sms_delivery

log = logging.getLogger(__name__)


def snapshot_audience(
    engine: Engine,
    partner_campaign_id: int,
    progress: Callable[[int], None] = lambda inserted: None,
) -> AudienceSnapshot:
    """The partner campaign's segment (everyone when none was named), minus suppressed and
    unconsented contacts, written to the ledger once."""
    with Session(engine) as session:
        pc = session.get(PartnerCampaign, partner_campaign_id)
        if pc is None:
            raise ApplicationError(
                f"partner campaign {partner_campaign_id} does not exist", non_retryable=True
            )
        segment = session.get(Segment, pc.segment_id) if pc.segment_id else None
        rules = dict(segment.filter) if segment is not None else {}
        sms = segments.has_sms_variant(session, pc.campaign_id)
        breakdown = segments.audience_breakdown(session, pc.brand_id, pc.partner_id, rules, sms=sms)
        ids = segments.eligible_contact_ids(session, pc.brand_id, pc.partner_id, rules, sms=sms)
        inserted = delivery.snapshot(session, pc, ids, progress, sms=sms)
        pc.audience = breakdown.model_dump()
        session.add(pc)
        session.commit()
        return AudienceSnapshot(**breakdown.model_dump(), inserted=inserted)


def paused_notice(engine: Engine, paused: SendPaused) -> PartnerNotice:
    with Session(engine) as session:
        pc = session.get(PartnerCampaign, paused.partner_campaign_id)
        campaign = session.get(Campaign, pc.campaign_id) if pc else None
        partner = session.get(Partner, pc.partner_id) if pc else None
        if pc is None or campaign is None or partner is None:
            raise ApplicationError("partner campaign not found", non_retryable=True)
        return PartnerNotice(
            kind=SEND_PAUSED,
            key=paused.key,
            campaign_id=campaign.id or 0,
            campaign_name=campaign.name,
            brand_id=pc.brand_id,
            partner=PartnerRef(
                partner_campaign_id=pc.id or 0,
                partner_id=pc.partner_id,
                region_id=pc.region_id,
                locale=pc.locale,
                profile=as_profile(partner),
            ),
            stage=pc.state,
            comment=without_addresses(paused.reason),
        )


def outcome_of(result: delivery.BatchResult) -> BatchOutcome:
    """What the SendWorkflow learns of a batch, email or SMS: counts, the cursor, and why it
    stopped early (a pause, a fault, throttles, the deadline)."""
    return BatchOutcome(
        sent=result.sent,
        failed=result.failed,
        suppressed=result.suppressed,
        paused=result.paused,
        fault=result.fault,
        retry_later=result.retry_later,
        last_id=result.last_id,
        seen=result.seen,
        throttled=result.throttled,
        cut_short=result.cut_short,
        late=result.late,
    )


class DeliveryActivities:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        transport: MailTransport,
        sms_transport: SmsTransport | None = None,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._transport = transport
        self._sms_transport = sms_transport
        self._rates: dict[str, AdaptiveRate] = {}  # per transport key, shared by batches

    @activity.defn(name="snapshot_audience")
    def snapshot_audience(self, partner_campaign_id: int) -> AudienceSnapshot:
        return snapshot_audience(self._engine, partner_campaign_id, activity.heartbeat)

    @activity.defn(name="send_delivery_batch")
    def send_delivery_batch(self, batch: SendBatchInput) -> BatchOutcome:
        result = delivery.send_batch(
            self._engine,
            self._settings,
            self._transport,
            batch.partner_campaign_id,
            batch.limit,
            after_id=batch.after_id,
            pace=self._pace(),
            progress=activity.heartbeat,
        )
        return outcome_of(result)

    @activity.defn(name="send_sms_batch")
    def send_sms_batch(self, batch: SendBatchInput) -> BatchOutcome:
        """The SMS rows after the cursor (services.sms.delivery), judged against quiet hours
        by the later of the wall clock and the workflow's (`batch.now`, moving on with the
        time this batch takes): the same in production, and the skipped-to time of a
        time-skipping test."""
        transport = self._sms()
        started, base = time.monotonic(), batch.now

        def now() -> datetime:
            real = utcnow()
            if base is None:
                return real
            return max(real, base + timedelta(seconds=time.monotonic() - started))

        result = sms_delivery.send_sms_batch(
            self._engine,
            self._settings,
            transport,
            batch.partner_campaign_id,
            batch.limit,
            after_id=batch.after_id,
            now=now,
            pace=self._pace(transport.rate_key, transport.max_send_rate()),
            progress=activity.heartbeat,
        )
        quiet = None
        if result.quiet_until is not None:
            with Session(self._engine) as session:
                pc = session.get(PartnerCampaign, batch.partner_campaign_id)
                partner = session.get(Partner, pc.partner_id) if pc else None
            zone = sms_delivery.zone_of(partner) if partner else ZoneInfo("UTC")
            quiet = sms_delivery.describe_quiet(result.quiet_until, zone)
        return outcome_of(result).model_copy(
            update={"quiet_until": result.quiet_until, "quiet": quiet}
        )

    def _sms(self) -> SmsTransport:
        if self._sms_transport is None:
            self._sms_transport = make_sms_transport(self._settings, self._engine)
        return self._sms_transport

    def _pace(self, key: str | None = None, rate: float | None = None) -> delivery.Pace:
        """The shared clock at this worker's current rate (lowered on throttles, recovering):
        every worker of the account reserves its slots from the same clock. Email by default;
        SMS under its transport's own key and rate."""
        if key is None:
            key = self._transport.rate_key
        adaptive = self._rates.get(key)
        if adaptive is None:
            if rate is None:
                rate = self._settings.send_rate_per_second or self._transport.max_send_rate()
            adaptive = self._rates.setdefault(key, AdaptiveRate(rate))

        def throttled(seconds: float) -> None:
            adaptive.throttled()
            hold(self._engine, key, seconds)

        return delivery.Pace(
            reserve=lambda n: reserve(self._engine, key, n, adaptive.current()),
            throttled=throttled,
            succeeded=adaptive.succeeded,
            chunk=lambda: min(delivery.CHECK_CHUNK, max(1, int(adaptive.current()))),
        )

    @activity.defn(name="delivery_counts")
    def delivery_counts(self, partner_campaign_id: int) -> dict[str, int]:
        with Session(self._engine) as session:
            return delivery.counts(session, partner_campaign_id)

    @activity.defn(name="notify_send_paused")
    def notify_send_paused(self, paused: SendPaused) -> int:
        """An audit event first (the trail and the portal show the pause even when no email
        can go out); then, when the account was refused, the emails to the GM and HQ: through
        the same transport that just refused, so they may well fail too, which is logged, not
        retried forever. A fault clears on its own and is only audited. Both carry the
        refusal without addresses (services.delivery strips them already; a pause recorded
        before it did is stripped here)."""
        notice = paused_notice(self._engine, paused)
        self._audit(notice, paused, "partner_campaign.send_paused")
        if paused.kind == PauseKind.fault:
            return 0
        try:
            return send_partner_notice(self._engine, self._settings, self._transport, notice)
        except SendError as err:
            log.warning("pause notice for %s not sent: %s", paused.partner_campaign_id, err)
            return 0

    @activity.defn(name="notify_send_late")
    def notify_send_late(self, late: SendPaused) -> int:
        """The send stopped because its deadline has passed: an audit event, then the emails
        to the partner's manager and HQ (they may want to tell members another way)."""
        notice = paused_notice(self._engine, late).model_copy(update={"kind": SEND_LATE})
        self._audit(notice, late, "partner_campaign.send_late")
        try:
            return send_partner_notice(self._engine, self._settings, self._transport, notice)
        except SendError as err:
            log.warning("late notice for %s not sent: %s", late.partner_campaign_id, err)
            return 0

    @activity.defn(name="record_send_resumed")
    def record_send_resumed(self, resumed: SendPaused) -> None:
        """The fault that paused the send has cleared: the trail says so, with what it was."""
        notice = paused_notice(self._engine, resumed)
        self._audit(notice, resumed, "partner_campaign.send_resumed")

    def _audit(self, notice: PartnerNotice, paused: SendPaused, action: str) -> None:
        audit.append(
            lambda: Session(self._engine, expire_on_commit=False),
            audit.NewEvent(
                brand_id=notice.brand_id,
                region_id=notice.partner.region_id,
                partner_id=notice.partner.partner_id,
                actor=audit.SYSTEM_ACTOR,
                action=action,
                entity_type="partner_campaign",
                entity_id=str(paused.partner_campaign_id),
                event_key=paused.key,
                comment=notice.comment,
            ),
        )
