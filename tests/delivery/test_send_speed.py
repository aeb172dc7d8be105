"""Sending fast: hand-overs overlap up to SEND_CONCURRENCY while the ledger keeps its promise
(at most that many rows `sending`, each row sent once), throttles slow a send without stalling
it, and a send against a throttling SES endpoint completes at close to the allowed rate."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import boto3  # type: ignore[import-untyped]
import httpx
from botocore.config import Config  # type: ignore[import-untyped]
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select
from temporalio.testing import WorkflowEnvironment

from activities.delivery import DeliveryActivities
from bench.ses_endpoint import EndpointConfig, running
from core.settings import Settings
from mail.errors import ThrottledError, TransportPausedError
from mail.rate_limit import AdaptiveRate, hold, reserve
from mail.tags import Tags
from mail.transport import SesTransport, SmtpTransport
from models.audit import AuditEvent
from models.campaigns import Campaign, PartnerCampaign
from models.delivery import Delivery
from models.workflow_io import SendResult
from services import delivery
from tests.delivery.test_delivery import (
    EDITOR_AMS,
    GM_AMS,
    GM_BERLIN,
    Login,
    ScriptedTransport,
    add_contacts,
    approved_row,
    good_values,
    make_segment,
    send_input,
    snapshot,
)
from workflows.partner_campaign_lifecycle import next_state
from workflows.send import SendWorkflow


class SlowTransport(ScriptedTransport):
    """Answers after `delay`, records how many hand-overs overlapped and how many rows of the
    send were `sending` at each hand-over (read from the database as a peer would)."""

    def __init__(self, engine: Engine, pcid: int, delay: float, **kw: Any) -> None:
        super().__init__(**kw)
        self.engine, self.pcid, self.delay = engine, pcid, delay
        self.lock = threading.Lock()
        self.now = self.peak = self.most_sending = 0

    def send(self, msg: EmailMessage, *, tags: Tags | None = None) -> str:
        with Session(self.engine) as s:
            sending = s.exec(
                select(func.count()).where(
                    Delivery.partner_campaign_id == self.pcid, Delivery.status == "sending"
                )
            ).one()
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
            self.most_sending = max(self.most_sending, int(sending))
        try:
            time.sleep(self.delay)
            with self.lock:
                return super().send(msg, tags=tags)
        finally:
            with self.lock:
                self.now -= 1


def _setup(engine: Engine, n: int, tag: str) -> tuple[list[str], int]:
    emails = add_contacts(engine, "amsterdam", n, tag=tag)
    pcid = approved_row(engine, good_values(), make_segment(engine, "amsterdam", tag))
    snapshot(engine, pcid)
    return emails, pcid


def _statuses(engine: Engine, pcid: int) -> dict[str, str]:
    with Session(engine) as s:
        rows = s.exec(select(Delivery).where(Delivery.partner_campaign_id == pcid)).all()
    return {r.email: r.status for r in rows}


def test_hand_overs_overlap_up_to_the_concurrency_and_no_further(
    demo: Engine, settings: Settings
) -> None:
    emails, pcid = _setup(demo, 24, "overlap")
    transport = SlowTransport(demo, pcid, 0.05)
    four = settings.model_copy(update={"send_concurrency": 4})
    result = delivery.send_batch(demo, four, transport, pcid, 500)
    assert result.sent == 24 and sorted(transport.to()) == sorted(emails)
    assert transport.peak == 4  # overlapped, and never more than allowed
    assert 1 <= transport.most_sending <= 4  # a kill could duplicate at most four messages
    assert set(_statuses(demo, pcid).values()) == {"sent"}

    emails, pcid = _setup(demo, 6, "serial")
    one = SlowTransport(demo, pcid, 0.02)
    delivery.send_batch(demo, settings.model_copy(update={"send_concurrency": 1}), one, pcid, 50)
    assert one.peak == 1 and one.most_sending == 1


def test_a_refused_account_stops_the_send_within_the_messages_in_flight(
    demo: Engine, settings: Settings
) -> None:
    _, pcid = _setup(demo, 40, "stopflight")
    # The sixth row in the order the send takes them (row ids): nothing promises that the ids
    # follow the order the contacts were added in.
    emails = _emails_in_send_order(demo, pcid)
    refused = TransportPausedError("ses.AccountSuspendedException", "AccountSuspended")
    transport = SlowTransport(demo, pcid, 0.01, script={emails[5]: refused})
    four = settings.model_copy(update={"send_concurrency": 4})
    result = delivery.send_batch(demo, four, transport, pcid, 500)
    assert result.paused is not None and "AccountSuspended" in result.paused
    statuses = _statuses(demo, pcid)
    assert statuses[emails[5]] == "pending"
    # Rows already in flight when the refusal came back went; nothing after them.
    assert 5 <= result.sent <= 5 + 4 and result.sent == len(transport.sent), (result, statuses)
    assert sum(1 for s in statuses.values() if s == "sent") == result.sent
    assert "sending" not in statuses.values()
    assert result.last_id < max(_ids(demo, pcid))  # the send goes on from the refused row


def _emails_in_send_order(engine: Engine, pcid: int) -> list[str]:
    with Session(engine) as s:
        rows = s.exec(
            select(Delivery.email)
            .where(Delivery.partner_campaign_id == pcid)
            .order_by(col(Delivery.id))
        ).all()
    return [e for e in rows if e]


def _ids(engine: Engine, pcid: int) -> list[int]:
    with Session(engine) as s:
        return [
            i
            for i in s.exec(select(Delivery.id).where(Delivery.partner_campaign_id == pcid)).all()
            if i is not None
        ]


def test_scattered_throttles_are_retried_in_the_batch_without_an_error(
    demo: Engine, settings: Settings
) -> None:
    emails, pcid = _setup(demo, 30, "scatter")

    class EveryThird(ScriptedTransport):
        calls = 0

        def send(self, msg: EmailMessage, *, tags: Tags | None = None) -> str:
            self.calls += 1
            if self.calls % 3 == 0:
                raise ThrottledError("ses.Throttling", "Maximum sending rate exceeded")
            return super().send(msg, tags=tags)

    transport = EveryThird()
    result = delivery.send_batch(demo, settings, transport, pcid, 500)
    assert result.sent == 30 and not result.cut_short and result.throttled >= 10
    assert sorted(transport.to()) == sorted(emails)  # each once
    with Session(demo) as s:
        attempts = s.exec(select(Delivery.attempts).where(Delivery.partner_campaign_id == pcid))
        assert set(attempts.all()) == {1}  # a throttle does not use up an attempt


def test_adaptive_rate_halves_on_dense_throttles_only_and_recovers() -> None:
    now = [0.0]
    rate = AdaptiveRate(100.0, clock=lambda: now[0])
    for i in range(200):  # a quarter of the answers throttled, whatever the rate
        if i % 4 == 0:
            rate.throttled()
        else:
            rate.succeeded()
    assert rate.current() == 100.0
    for _ in range(20):  # nearly everything refused: over the account's rate
        rate.throttled()
    assert rate.current() == 50.0
    for _ in range(20):
        rate.throttled()
    assert rate.current() == 25.0
    now[0] += 2.0  # two quiet seconds: +10% of the allowed rate each
    assert rate.current() == 45.0
    now[0] += 60.0
    assert rate.current() == 100.0


def test_hold_makes_every_worker_wait(demo: Engine) -> None:
    clock = [1000.0]
    assert reserve(demo, "test-hold", 1, 10.0, clock=lambda: clock[0]) == 0.0
    hold(demo, "test-hold", 2.0, clock=lambda: clock[0])
    assert reserve(demo, "test-hold", 1, 10.0, clock=lambda: clock[0]) == 2.0


def test_a_send_against_a_throttling_ses_endpoint_sends_each_once_within_the_rate(
    demo: Engine, settings: Settings
) -> None:
    """SES at 40 messages/s (its quota read with GetAccount), refusing a quarter of the calls
    as throttled and some with 503 whatever the rate: 160 recipients, each sent once, never
    above the allowed rate, in batches that never fail. How close to the rate it gets is a
    figure of bench.send_throttled, not an assertion here (a loaded machine lowers it)."""
    emails, pcid = _setup(demo, 160, "sesthrottle")
    config = EndpointConfig(delay=0.02, max_rate=40.0, throttle_share=0.25, unavailable_share=0.03)
    with running(config) as endpoint:
        client = boto3.session.Session().client(
            "sesv2",
            region_name="eu-west-1",
            endpoint_url=endpoint.url,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            # Our retries only: the client's own would hide what this test is about.
            config=Config(retries={"total_max_attempts": 1}, max_pool_connections=8),
        )
        transport = SesTransport(client, None)
        assert transport.max_send_rate() == 40.0  # read from the account
        acts = DeliveryActivities(demo, settings, transport)
        started = time.perf_counter()
        cursor, outcomes = 0, []
        while True:
            outcome = delivery.send_batch(
                demo, settings, transport, pcid, 50, after_id=cursor, pace=acts._pace()
            )
            assert outcome.fault is None and outcome.paused is None
            outcomes.append(outcome)
            cursor = outcome.last_id
            if outcome.seen < 50 and not outcome.cut_short:
                break
        seconds = time.perf_counter() - started
    tally = endpoint.tally
    assert sum(o.sent for o in outcomes) == 160 and tally.accepted == 160
    assert len(set(tally.message_ids)) == 160  # none twice
    assert set(_statuses(demo, pcid).values()) == {"sent"}
    assert tally.throttled > 20 and tally.unavailable > 0  # the provider did refuse
    assert sum(o.throttled for o in outcomes) >= tally.throttled
    assert 160 / seconds <= 40.0 * 1.3  # the rate held (a second's burst is allowed)
    assert emails


def test_the_ses_transport_falls_back_to_a_production_rate_without_get_account() -> None:
    with running(EndpointConfig(quota=False)) as endpoint:
        client = boto3.session.Session().client(
            "sesv2",
            region_name="eu-west-1",
            endpoint_url=endpoint.url,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        assert SesTransport(client, None).max_send_rate() == 14.0
        assert SesTransport(client, None, fallback_rate=3.0).max_send_rate() == 3.0


def test_a_batch_in_flight_leaves_sending_rows_a_retry_sends_once_more(
    demo: Engine, settings: Settings
) -> None:
    """The documented bound, as a kill would leave it: rows caught `sending` are picked again
    by the next batch, each with its own Message-ID."""
    emails, pcid = _setup(demo, 6, "killed")
    with Session(demo) as s:
        rows = s.exec(
            select(Delivery)
            .where(Delivery.partner_campaign_id == pcid)
            .order_by(col(Delivery.id))
            .limit(4)
        ).all()
        for row in rows:  # four slots in flight when the worker died
            row.status, row.attempts = "sending", 1
            s.add(row)
        s.commit()
    transport = ScriptedTransport()
    acts = DeliveryActivities(demo, settings, transport)  # type: ignore[arg-type]
    outcome = delivery.send_batch(demo, settings, transport, pcid, 100, pace=acts._pace())
    assert outcome.sent == 6 and sorted(transport.to()) == sorted(emails)
    assert len({m["Message-ID"] for m in transport.sent}) == 6


# A late send ------------------------------------------------------------------------------------


def test_late_reason_allows_the_grace_and_no_more() -> None:
    send_by = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
    grace = 6 * 3600
    assert delivery.late_reason(send_by, send_by + timedelta(hours=6), grace) is None
    late = delivery.late_reason(send_by, send_by + timedelta(hours=6, seconds=1), grace)
    assert late is not None and "2026-05-01 09:00 UTC" in late and "6 h" in late
    naive = send_by.replace(tzinfo=None)  # SQLite hands datetimes back naive (UTC)
    assert delivery.late_reason(naive, send_by + timedelta(days=1), grace) == late


def _make_late(engine: Engine, pcid: int, days: int) -> None:
    with Session(engine) as s:
        pc = s.get(PartnerCampaign, pcid)
        assert pc is not None
        campaign = s.get(Campaign, pc.campaign_id)
        assert campaign is not None
        campaign.send_by = datetime.now(UTC) - timedelta(days=days)
        s.add(campaign)
        s.commit()


async def test_a_send_that_starts_after_its_deadline_stops_and_tells_people(
    workflow_env: WorkflowEnvironment,
    demo: Engine,
    delivery_worker: Callable[[ScriptedTransport], Any],
    record_history: Callable[[str, str], Awaitable[None]],
) -> None:
    """A restored backup or a long outage: the open day has passed. Nobody of the audience
    is mailed; the partner's manager and HQ are told why, and the trail says so."""
    emails, pcid = _setup(demo, 5, "toolate")
    _make_late(demo, pcid, days=2)
    transport = ScriptedTransport()
    queue, worker = delivery_worker(transport)
    wid = f"send-test-{uuid.uuid4().hex[:6]}"
    async with worker:
        result: SendResult = await workflow_env.client.execute_workflow(
            SendWorkflow.run,
            send_input(pcid, queue, snapshotted=True),
            id=wid,
            task_queue=queue,
        )
    await record_history(wid, "send_late_stopped")
    assert result.outcome == "late" and result.reason and "too late" in result.reason
    assert result.counts["sent"] == 0 and result.counts["pending"] == 5
    to = transport.to()
    assert not [a for a in to if a in emails]  # no member was mailed
    assert to  # the people who must know were
    # Each in their language: Amsterdam's people Dutch, HQ English.
    assert all(
        "Not sent, too late" in str(m["Subject"]) or "Niet verzonden, te laat" in str(m["Subject"])
        for m in transport.sent
    )
    with Session(demo) as s:
        events = s.exec(
            select(AuditEvent).where(
                AuditEvent.entity_id == str(pcid), AuditEvent.action == "partner_campaign.send_late"
            )
        ).all()
    assert len(events) == 1 and "too late" in (events[0].comment or "")


def test_the_partner_campaign_may_expire_while_sending() -> None:
    """A late send that sent nothing ends `expired` (something sent: `partially_sent`)."""
    assert next_state("sending", "expire") == "expired"
    assert next_state("sending", "finish_partially") == "partially_sent"


def test_a_long_hold_heartbeats_while_it_waits(demo: Engine, settings: Settings) -> None:
    """Another worker heard "wait" and held the shared clock: this batch waits its turn in
    pieces, heartbeating, so the wait is not taken for a dead worker."""
    emails, pcid = _setup(demo, 2, "heldback")
    waits = iter([1.2])
    slept: list[float] = []
    beats: list[int] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    pace = delivery.Pace(reserve=lambda n: next(waits, 0.0))
    transport = ScriptedTransport()
    result = delivery.send_batch(
        demo, settings, transport, pcid, 10, pace=pace, progress=beats.append, sleep=sleep
    )
    assert result.sent == 2 and sorted(transport.to()) == sorted(emails)
    assert len(slept) == 2 and max(slept) <= 1.0  # in pieces of at most a second
    assert len(beats) >= 3  # one per piece, then as messages finished


async def test_a_partner_campaign_whose_send_comes_too_late_expires_with_the_reason(
    app_with_worker: httpx.AsyncClient,
    login: Login,
    demo: Engine,
    workflow_env: WorkflowEnvironment,
) -> None:
    """Through the API and the real worker: approved and scheduled, then the deadline is long
    gone when the send would start (a restored backup). The partner campaign expires; its
    GM sees why in the timeline; members get nothing; another partner's GM sees nothing."""
    from tests.campaigns.test_campaign_workflows import CLOCK, ENV, act, launched, values

    api = app_with_worker
    ENV[:] = [workflow_env]
    CLOCK[:] = [max(await workflow_env.get_current_time(), datetime.now(UTC))]
    emails = add_contacts(demo, "amsterdam", 3, tag="expired")
    segment_id = make_segment(demo, "amsterdam", "expired")
    cid, pcid = await launched(api, login, demo)
    assert (await act(api, login, EDITOR_AMS, pcid, "content", values=values())).is_success
    submitted = await act(api, login, EDITOR_AMS, pcid, "submit", segment_id=segment_id)
    assert submitted.is_success, submitted.text
    approved = await act(api, login, GM_AMS, pcid, "decision", decision="approve")
    assert approved.is_success, approved.text
    now = await workflow_env.get_current_time()
    send_at = (now + timedelta(days=1)).isoformat()
    scheduled = await act(api, login, EDITOR_AMS, pcid, "schedule", send_at=send_at)
    assert scheduled.json()["state"] == "scheduled", scheduled.text
    _make_late(demo, pcid, days=3)  # the batch reads the deadline from the database

    await workflow_env.sleep(timedelta(days=1, minutes=1))
    for _ in range(200):
        row = (await api.get(f"/api/v1/partner-campaigns/{pcid}", headers=login(GM_AMS))).json()
        if row["state"] in ("sent", "partially_sent", "expired"):
            break
        await asyncio.sleep(0.05)
    assert row["state"] == "expired", row
    timeline = (
        await api.get(f"/api/v1/partner-campaigns/{pcid}/timeline", headers=login(GM_AMS))
    ).json()["timeline"]
    assert timeline[-1]["event"] == "expire" and "too late" in (timeline[-1]["comment"] or "")
    hidden = await api.get(f"/api/v1/partner-campaigns/{pcid}/timeline", headers=login(GM_BERLIN))
    assert hidden.status_code == 404
    with Session(demo) as s:
        statuses = s.exec(select(Delivery.status).where(Delivery.partner_campaign_id == pcid))
        assert set(statuses.all()) == {"pending"}
        actions = s.exec(select(AuditEvent.action).where(AuditEvent.entity_id == str(pcid)))
        assert "partner_campaign.send_late" in actions.all()
    assert emails and cid


def test_smtp_sends_through_one_connection_per_slot(demo: Engine, settings: Settings) -> None:
    """smtplib is not thread-safe: each slot in flight has its own relay connection, kept
    for the batch (not one per message)."""
    from aiosmtpd.controller import Controller

    peers: list[Any] = []

    class Slow:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            await asyncio.sleep(0.03)  # a relay across a network
            peers.append(session.peer)
            return "250 Message accepted"

    emails, pcid = _setup(demo, 24, "smtpslots")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(Slow(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        transport = SmtpTransport("127.0.0.1", port, rate=10_000.0)
        four = settings.model_copy(update={"send_concurrency": 4})
        result = delivery.send_batch(demo, four, transport, pcid, 100)
    finally:
        controller.stop()
    assert result.sent == 24 and len(peers) == 24
    assert 2 <= len(set(peers)) <= 4  # overlapping, never more connections than slots
    assert set(_statuses(demo, pcid).values()) == {"sent"} and emails
