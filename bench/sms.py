"""Sending SMS: one partner campaign to many SMS contacts through SendWorkflow and the outbox.

    python -m bench.sms [--recipients 2000] [--bare 2000]

The whole product in one process (bench.campaign_stack: dev server, in-process workers on every
registry queue, a fresh SQLite file) with SMS_TRANSPORT=outbox, so every SMS is an OutboxSms
row. The demo's "Open day" template version has an SMS variant (a greeting fragment, the
recipient's first name, the `offer` and `event_date` slots and the `cta_url` link); if a
future demo drops it, the bench gives the version one in its own database. `--recipients`
generated contacts of one partner all prefer SMS: distinct valid Dutch mobiles (+3161xxxxxxx),
SMS consent granted, channel "sms", language nl. The SendWorkflow is started directly (the
approval chain is measured by bench.approval_latency) and the clock runs until its result; the
result must count every recipient sent and the outbox must hold one SMS per recipient.

Quiet hours: the bench partners' time zone is set to the fixed-offset zone (Etc/GMT-n) where
it is 13:00-13:59 when the run starts, so SMS_QUIET_START/END keep their defaults and the product
still judges quiet hours for every SMS, yet the run is in the partner's daytime whatever the
hour. The outbox transport's own rate (1,000/s by default) is lifted with
SMS_RATE_PER_SECOND so that the loop, not the rate limit, is measured. The brand tracks clicks
(set in the bench's database), so the link becomes a short tracked link in both loops.

The baseline, in the same run: a bare loop over `--bare` recipients (another partner, so no
message id is shared) that composes the same SMS for each with the product's compose_sms
(render_sms in the recipient's language, shorten_links with the same short-link signer when
the brand tracks clicks, with_opt_out), with the same message id, sender id and tags, and hands
it to the same OutboxSmsTransport on the same database, without Temporal, the ledger or any
per-row check. Printed: SMS per second for each, the bare loop's time split into composing and
handing over, database commits per SMS on each side (counted on the shared engine), the ratio
product / bare and peak RSS of this process during each loop. No goal is set by the issue.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, event, func, insert, update
from sqlmodel import Session, col, select

from bench.campaign_stack import Stack, campaign_stack
from bench.send import PeakRss, approved_partner_campaign, product_send
from content.spec import SmsVariant, TemplateContent
from core.settings import SmsTransportKind
from mail.sms import SmsMessage
from mail.sms_transport import OutboxSmsTransport
from models.campaigns import Campaign, PartnerCampaign
from models.contacts import Channel, Contact
from models.delivery import Delivery
from models.org import Brand, Partner
from models.outbox import OutboxSms
from models.templates import TemplateVersion
from services.delivery import load_context, tags_for
from services.sms.delivery import _shortener, compose_sms, sender_id_for, sms_message_id

INSERT_CHUNK = 5_000
LOCAL_HOUR = 13  # the partners' local time when the run starts
SENDER_ID = "Northwind"
FALLBACK_SMS = (
    "Hi {{ recipient.first_name }}! {{ slots.offer }} {{ slots.event_date }}. "
    "Book: {{ slots.cta_url }}"
)


def daytime_zone(now: datetime) -> str:
    """The fixed-offset zone where it is LOCAL_HOUR now (Etc/GMT-n is UTC+n)."""
    offset = (LOCAL_HOUR - now.hour + 12) % 24 - 12  # -12 .. +11 hours
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/UTC"


def prepare_partners(stack: Stack) -> str:
    """Daytime zone and an alphanumeric sender id for every bench partner, click tracking on
    for the brand (so links become short tracked links, as a tracking brand's do); the zone."""
    zone = daytime_zone(datetime.now(UTC))
    ids = [p.partner_id for p in stack.partners]
    with Session(stack.engine) as s:
        s.execute(
            update(Partner)
            .where(col(Partner.id).in_(ids))
            .values(timezone=zone, sms_sender_id=SENDER_ID)
        )
        s.execute(update(Brand).where(col(Brand.id) == stack.brand_id).values(click_tracking=True))
        s.commit()
    return zone


def ensure_sms_variant(stack: Stack, pcid: int) -> str:
    """The SMS text of the campaign's template version, given one if it has none."""
    with Session(stack.engine) as s:
        pc = s.get(PartnerCampaign, pcid)
        assert pc is not None
        campaign = s.get(Campaign, pc.campaign_id)
        assert campaign is not None
        version = s.get(TemplateVersion, campaign.template_version_id)
        assert version is not None
        content = TemplateContent.model_validate(version.content)
        if content.sms is None:
            content.sms = SmsVariant(text=FALLBACK_SMS)
            version.content = content.model_dump(mode="json")
            s.add(version)
            s.commit()
        return content.sms.text


def add_sms_contacts(stack: Stack, partner_index: int, n: int, first: int) -> None:
    """`n` contacts who prefer SMS, numbers +31610000000 + first + i (distinct per run)."""
    partner = stack.partners[partner_index]
    run = uuid.uuid4().hex[:6]
    now = datetime.now(UTC)
    with Session(stack.engine) as s:
        for start in range(0, n, INSERT_CHUNK):
            rows = [
                {
                    "brand_id": stack.brand_id,
                    "partner_id": partner.partner_id,
                    "email": f"s{i}.{run}@customers.example",
                    "name": f"Recipient {i}",
                    "locale": "nl",
                    "consent_status": "granted",
                    "consent_source": "bench",
                    "phone": f"+3161{first + i:07d}",
                    "sms_consent_status": "granted",
                    "sms_consent_source": "bench",
                    "sms_consent_at": now,
                    "channel": Channel.sms.value,
                    "tags": [],
                    "attributes": {},
                }
                for i in range(start, min(n, start + INSERT_CHUNK))
            ]
            s.execute(insert(Contact), rows)
            s.commit()


def outbox_count(stack: Stack, pcid: int) -> int:
    with Session(stack.engine) as s:
        stmt = (
            select(func.count()).select_from(OutboxSms).where(OutboxSms.partner_campaign_id == pcid)
        )
        return int(s.exec(stmt).one())


def bare_loop(stack: Stack, pcid: int, n: int) -> tuple[float, float]:
    """(seconds in all, seconds composing) to compose `n` SMS the product's way and hand them
    to the same outbox transport, minus Temporal, the ledger and the per-row checks."""
    transport = OutboxSmsTransport(stack.engine, rate=stack.settings.sms_rate_per_second or 1.0)
    with Session(stack.engine) as s:
        ctx = load_context(s, stack.settings, pcid)
        composing = 0.0
        start = time.perf_counter()
        for i in range(n):
            phone = f"+3162{i:07d}"
            row = Delivery(
                id=i + 1,
                partner_campaign_id=pcid,
                brand_id=stack.brand_id,
                partner_id=ctx.pc.partner_id,
                contact_id=i + 1,
                email=f"bare{i}@customers.example",
                channel=Channel.sms.value,
                phone=phone,
            )
            contact = Contact(
                brand_id=stack.brand_id,
                partner_id=ctx.pc.partner_id,
                email=row.email,
                name=f"Recipient {i}",
                locale="nl",
                phone=phone,
                channel=Channel.sms.value,
            )
            t = time.perf_counter()
            body = compose_sms(s, ctx, row, contact, _shortener(ctx, row))
            composing += time.perf_counter() - t
            msg = SmsMessage(
                to=phone,
                body=body,
                message_id=sms_message_id(row, ctx.identity.domain),
                sender_id=sender_id_for(ctx.partner, phone),
            )
            transport.send_sms(msg, tags=tags_for(ctx, row))
        return time.perf_counter() - start, composing


class Commits:
    """Counts database commits on the engine (every worker of this process shares it)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.count = 0

    def _seen(self, conn: Any) -> None:
        self.count += 1

    def __enter__(self) -> Commits:
        event.listen(self.engine, "commit", self._seen)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "commit", self._seen)


def sample_sms(stack: Stack, pcid: int) -> str:
    with Session(stack.engine) as s:
        first = s.exec(
            select(OutboxSms.body)
            .where(OutboxSms.partner_campaign_id == pcid)
            .order_by(col(OutboxSms.id))
        ).first()
    return first or ""


OVERRIDES: dict[str, Any] = {
    "sms_transport": SmsTransportKind.outbox,
    "sms_rate_per_second": 1_000_000.0,  # the loop is measured, not the outbox's rate limit
}


async def run(recipients: int, bare: int) -> None:
    async with campaign_stack(2, overrides=OVERRIDES) as stack:
        print(f"{'database':<28} {stack.engine.dialect.name}", flush=True)
        zone = prepare_partners(stack)
        t = time.perf_counter()
        add_sms_contacts(stack, 1, recipients, first=0)
        print(f"{'SMS contacts inserted':<28} {recipients:,} in {time.perf_counter() - t:.1f} s")
        bare_pc = approved_partner_campaign(stack, 0, "Bench SMS bare")
        product_pc = approved_partner_campaign(stack, 1, "Bench SMS product")
        text = ensure_sms_variant(stack, product_pc)
        with Session(stack.engine) as s:
            tracking = load_context(s, stack.settings, product_pc).brand.click_tracking
        local = datetime.now(ZoneInfo(zone))
        print(f"{'partner time zone':<28} {zone} ({local:%H:%M} local at the start)")
        print(f"{'SMS variant':<28} {text!r}")
        print(f"{'short tracked links':<28} {'on' if tracking else 'off'}", flush=True)

        with PeakRss() as bare_rss, Commits(stack.engine) as bare_commits:
            bare_seconds, composing = await asyncio.to_thread(bare_loop, stack, bare_pc, bare)
        written = outbox_count(stack, bare_pc)
        if written != bare:
            raise SystemExit(f"bare loop wrote {written} OutboxSms rows of {bare}")
        bare_rate = bare / bare_seconds
        print(
            f"{'bare compose + outbox':<28} {bare_rate:,.0f} SMS/s "
            f"({bare:,} in {bare_seconds:.1f} s, {bare_commits.count / bare:.2f} commits/SMS, "
            f"peak RSS {bare_rss.peak:.0f} MB)",
            flush=True,
        )
        print(
            f"{'  of which composing':<28} {composing / bare * 1000:.2f} ms/SMS; "
            f"hand-over (one outbox row, one commit) {(bare_seconds - composing) / bare * 1000:.2f}"
            " ms/SMS",
            flush=True,
        )

        with Commits(stack.engine) as commits:
            seconds, peak, result = await product_send(stack, product_pc)
        sent = result.counts.get("sent", 0)
        if sent != recipients:
            raise SystemExit(f"sent {sent} of {recipients}: {result.counts}")
        rows = outbox_count(stack, product_pc)
        if rows != recipients:
            raise SystemExit(f"{rows} OutboxSms rows for {recipients} SMS sent")
        with Session(stack.engine) as s:
            sms_rows = s.exec(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.partner_campaign_id == product_pc, Delivery.channel == "sms")
            ).one()
        if sms_rows != recipients:
            raise SystemExit(f"{sms_rows} SMS ledger rows for {recipients} recipients")
        rate = recipients / seconds
        print(
            f"{f'product, {recipients:,} recipients':<28} {rate:,.0f} SMS/s "
            f"({seconds:.1f} s, {seconds / recipients * 1000:.2f} ms/SMS, "
            f"{commits.count / recipients:.2f} commits/SMS; "
            f"sent {sent:,}, {rows:,} OutboxSms rows)",
            flush=True,
        )
        print(f"{'sample SMS':<28} {sample_sms(stack, product_pc)!r}")
        print(f"{'ratio':<28} {rate / bare_rate:.2f} (product / bare; goal: none set)")
        print(f"{'peak RSS':<28} {peak:.0f} MB (during the product's send; goal: none set)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipients", type=int, default=2_000)
    parser.add_argument("--bare", type=int, default=2_000)
    args = parser.parse_args()
    asyncio.run(run(args.recipients, args.bare))


if __name__ == "__main__":
    main()
