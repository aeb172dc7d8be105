"""The must-show SMS sends, on the time-skipping server with the real activities:

- Amsterdam's "Open day" with an SMS variant: contacts who prefer SMS get exactly one SMS each
  through SNS (moto's server over HTTP; its published messages are read back), the others the
  email in the outbox, the contact who replied STOP gets nothing, and a batch that failed
  half-way (the activity retried) texts nobody twice;
- quiet hours: a send started at 20:59 Amsterdam time sends what it can, nothing goes between
  21:00 and 09:00 local, and the rest goes at 09:00 (08:00 UTC in winter).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from domain.workflow_ids import send_workflow_id
from mail.sms import SmsMessage
from mail.sms_transport import OutboxSmsTransport, SnsSmsTransport
from mail.tags import Tags
from mail.transport import OutboxTransport
from models.contacts import Contact
from models.delivery import Delivery
from models.org import Partner
from models.outbox import OutboxMessage, OutboxSms
from models.workflow_io import SendResult
from services.sms.suppression import suppress_phone
from tests.delivery.test_delivery import (
    add_contacts,
    approved_row,
    good_values,
    make_segment,
    send_input,
)
from tests.sms.conftest import REGION
from tests.sms.test_sms_delivery import add_texters, set_partner, with_sms_variant
from workflows.send import SendWorkflow

AMS = ZoneInfo("Europe/Amsterdam")


def _published() -> list[tuple[str, str]]:
    """(number, text) of every SMS moto's SNS accepted."""
    return list(sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages.values())


class LosesTheWorker:
    """The real transport, but the batch's worker is "lost" once, with the n-th SMS in hand
    (its row committed `sending`, not handed over yet): the activity fails and is retried,
    and the retry picks that row up again."""

    def __init__(self, inner: Any, after: int) -> None:
        self.inner = inner
        self.rate_key = inner.rate_key
        self.after = after
        self.count = 0

    def max_send_rate(self) -> float:
        return float(self.inner.max_send_rate())

    def send_sms(self, msg: SmsMessage, *, tags: Tags | None = None) -> str:
        self.count += 1
        if self.count == self.after:
            raise RuntimeError("worker lost with a message in hand")
        return str(self.inner.send_sms(msg, tags=tags))


async def test_amsterdam_open_day_texts_sms_contacts_once_and_mails_the_others(
    workflow_env: WorkflowEnvironment,
    demo: Engine,
    settings: Settings,
    delivery_worker: Callable[..., Any],
    sns_settings: Settings,
    tmp_path: Path,
) -> None:
    with_sms_variant(demo)
    set_partner(demo, "amsterdam", timezone="UTC", sms_sender_id="Northwind")
    emails = add_contacts(demo, "amsterdam", 6, tag="e2esms")
    numbers = add_texters(demo, "amsterdam", 5, tag="e2esms")
    stop = add_texters(demo, "amsterdam", 1, tag="e2esms")
    with Session(demo) as s:
        partner = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one()
        suppress_phone(s, partner.brand_id, stop[0], "stop", source="inbound STOP")
        s.commit()
        stop_email = s.exec(select(Contact.email).where(Contact.phone == stop[0])).one()
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", "e2esms"))
    before = len(_published())
    sms = LosesTheWorker(SnsSmsTransport(sns_settings), after=3)
    queue, worker = delivery_worker(OutboxTransport(tmp_path / "outbox", demo), sms)
    async with worker:
        result: SendResult = await workflow_env.client.execute_workflow(
            SendWorkflow.run,
            send_input(pcid, queue, batch_size=3),
            id=send_workflow_id(pcid),
            task_queue=queue,
        )
    assert result.outcome == "sent" and result.counts["sent"] == 11
    texted = _published()[before:]
    # One SMS per number although a batch failed half-way and was retried: the rows it had
    # sent stay sent, the row in hand goes once, on the retry.
    assert sms.count == 6 and sorted(n for n, _ in texted) == sorted(numbers)
    assert all("STOP om af te melden" in text for _, text in texted)
    assert all(text.startswith("Open day in Amsterdam") for _, text in texted)
    with Session(demo) as s:
        mailed = s.exec(
            select(OutboxMessage.to).where(OutboxMessage.partner_campaign_id == pcid)
        ).all()
        ledger = s.exec(select(Delivery).where(Delivery.partner_campaign_id == pcid)).all()
    got = sorted(mailed)
    assert got == sorted(emails)  # the texters (and the STOP contact) got no email
    assert stop_email not in got and stop[0] not in [n for n, _ in texted]
    assert sorted(r.channel for r in ledger) == ["email"] * 6 + ["sms"] * 5


async def test_a_send_that_reaches_21_00_in_amsterdam_waits_until_09_00(
    workflow_env: WorkflowEnvironment,
    demo: Engine,
    delivery_worker: Callable[..., Any],
    tmp_path: Path,
    record_history: Callable[[str, str], Awaitable[None]],
) -> None:
    with_sms_variant(demo)
    set_partner(demo, "amsterdam", timezone="Europe/Amsterdam")
    numbers = add_texters(demo, "amsterdam", 8, tag="e2equiet")
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", "e2equiet"))
    # The server's clock to 20:59:56 Amsterdam time (a winter evening if need be).
    now = await workflow_env.get_current_time()
    start = now.astimezone(AMS).replace(hour=20, minute=59, second=56, microsecond=0)
    while start <= now or start.utcoffset() != timedelta(hours=1):  # a winter evening
        start += timedelta(days=1)
    await workflow_env.sleep(start - now)
    # One SMS a second: eight cannot all go in the four seconds before 21:00.
    sms = OutboxSmsTransport(demo, rate=1.0)
    queue, worker = delivery_worker(OutboxTransport(tmp_path / "outbox", demo), sms)
    wid = send_workflow_id(pcid)
    async with worker:
        handle = await workflow_env.client.start_workflow(
            SendWorkflow.run, send_input(pcid, queue), id=wid, task_queue=queue
        )
        pause = None
        for _ in range(300):  # the evening's messages take a few real seconds
            pause = await handle.query(SendWorkflow.pause)
            if pause is not None:
                break
            await asyncio.sleep(0.1)
        assert pause is not None and pause.kind == "quiet"
        assert pause.reason == "quiet hours until 09:00 Europe/Amsterdam"
        memo = await (await handle.describe()).memo_value("pause")
        assert memo["reason"] == pause.reason
        result: SendResult = await handle.result()
    await record_history(wid, "send_sms_quiet_hours")
    assert result.outcome == "sent" and result.counts["sent"] == 8
    with Session(demo) as s:
        ledger = s.exec(select(Delivery).where(Delivery.partner_campaign_id == pcid)).all()
        outbox = s.exec(select(OutboxSms).where(OutboxSms.partner_campaign_id == pcid)).all()
    assert sorted(m.to for m in outbox) == sorted(numbers)  # each once
    local = sorted((r.sent_at or start).astimezone(AMS) for r in ledger)
    evening = [t for t in local if t.date() == start.date()]
    morning = [t for t in local if t.date() > start.date()]
    assert evening and morning  # some went at once, the rest waited for the morning
    assert all(t.time() < datetime.min.replace(hour=21).time() for t in evening)
    nine = datetime.combine(start.date() + timedelta(days=1), datetime.min.time(), AMS)
    nine = nine.replace(hour=9)
    assert all(nine <= t < nine + timedelta(minutes=5) for t in morning)
    assert nine.astimezone(UTC).hour == 8  # winter: 09:00 in Amsterdam is 08:00 UTC
    history = await handle.fetch_history()
    timers = [e for e in history.events if e.HasField("timer_started_event_attributes")]
    waited = [e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta() for e in timers]
    assert any(timedelta(hours=11, minutes=59) < w <= timedelta(hours=12) for w in waited)
