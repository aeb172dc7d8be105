"""Sending by channel: the snapshot picks SMS or email per contact, SMS rows go through the SMS
transport exactly once (suppression and consent checked again right before), never during
quiet hours in the partner's time zone, with short tracked links; the SendWorkflow runs the
SMS rows after the email passes and waits out the night on a durable timer."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from mail.errors import PermanentSendError, ThrottledError
from mail.sms import INVALID_NUMBER, OPTED_OUT, SmsMessage
from mail.tags import Tags
from models.campaigns import Campaign, PartnerCampaign
from models.contacts import Contact, PhoneSuppression
from models.delivery import Delivery, DeliveryEvent
from models.org import Brand, Partner
from models.templates import TemplateVersion
from models.workflow_io import SendResult
from services.engagement import short_links
from services.sms import delivery as sms_delivery
from services.sms.suppression import suppress_phone
from tests.delivery.test_delivery import (
    ScriptedTransport,
    add_contacts,
    approved_row,
    good_values,
    make_segment,
    send_input,
    snapshot,
)
from workflows.send import SendWorkflow

AMS = ZoneInfo("Europe/Amsterdam")
SMS_TEXT = "{{ slots.headline }} on {{ slots.event_date }}: https://club.example/open-day"


class FakeSms:
    """Records every SMS handed over; raises what `script` says for a number."""

    rate_key = "fake-sms"

    def __init__(self, script: dict[str, Exception] | None = None) -> None:
        self.script = dict(script or {})
        self.sent: list[SmsMessage] = []
        self.lock = threading.Lock()
        self.fail_after: int | None = None  # a "crash" (a bug) once this many went

    def send_sms(self, msg: SmsMessage, *, tags: Tags | None = None) -> str:
        with self.lock:
            if msg.to in self.script:
                raise self.script[msg.to]
            if self.fail_after is not None and len(self.sent) >= self.fail_after:
                self.fail_after = None
                raise RuntimeError("worker lost")
            self.sent.append(msg)
            return f"sms-{len(self.sent)}"

    def max_send_rate(self) -> float:
        return 10_000.0

    def to(self) -> list[str]:
        return [m.to for m in self.sent]


def with_sms_variant(engine: Engine, text: str = SMS_TEXT) -> None:
    """The demo "Open day" template version gains an SMS variant."""
    with Session(engine) as s:
        for version in s.exec(select(TemplateVersion)).all():
            if "headline" in str(version.content):
                version.content = {**version.content, "sms": {"text": text}}
                s.add(version)
        s.commit()


def add_texters(
    engine: Engine,
    slug: str,
    n: int,
    *,
    tag: str,
    sms_consent: str = "granted",
    prefix: str = "+3162",
    phone: bool = True,
) -> list[str]:
    """Contacts preferring SMS (email consent granted too: they must still get no email)."""
    run = uuid.uuid4().hex[:6]
    digits = str(uuid.uuid4().int)[:3]
    numbers = [f"{prefix}{digits}{i:04d}" for i in range(n)]
    with Session(engine) as s:
        partner = s.exec(select(Partner).where(Partner.slug == slug)).one()
        for i, number in enumerate(numbers):
            s.add(
                Contact(
                    brand_id=partner.brand_id,
                    partner_id=partner.id or 0,
                    email=f"texter.{tag}.{run}.{i}@customers.example",
                    name=f"Texter {i}",
                    locale="nl",
                    consent_status="granted",
                    channel="sms",
                    phone=number if phone else None,
                    sms_consent_status=sms_consent,
                    tags=[tag],
                )
            )
        s.commit()
    return numbers


def rows(engine: Engine, pcid: int) -> list[Delivery]:
    with Session(engine) as s:
        return list(s.exec(select(Delivery).where(Delivery.partner_campaign_id == pcid)).all())


def set_partner(engine: Engine, slug: str, **changes: Any) -> None:
    with Session(engine) as s:
        partner = s.exec(select(Partner).where(Partner.slug == slug)).one()
        for key, value in changes.items():
            setattr(partner, key, value)
        s.add(partner)
        s.commit()


def daytime() -> Callable[[], datetime]:
    """A clock at noon in Amsterdam: outside quiet hours whenever the test runs."""
    noon = datetime.now(AMS).replace(hour=12, minute=0).astimezone(UTC)
    return lambda: noon


# Quiet hours ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "until"),
    [
        (datetime(2026, 12, 3, 20, 59, 59, tzinfo=AMS), None),
        (datetime(2026, 12, 3, 21, 0, tzinfo=AMS), datetime(2026, 12, 4, 8, 0, tzinfo=UTC)),
        (datetime(2026, 12, 4, 3, 0, tzinfo=AMS), datetime(2026, 12, 4, 8, 0, tzinfo=UTC)),
        (datetime(2026, 12, 4, 9, 0, tzinfo=AMS), None),
        # summer time: 09:00 in Amsterdam is 07:00 UTC
        (datetime(2026, 7, 1, 23, 0, tzinfo=AMS), datetime(2026, 7, 2, 7, 0, tzinfo=UTC)),
        # the night the clocks go back (25 October 2026): still 09:00 local
        (datetime(2026, 10, 24, 22, 0, tzinfo=AMS), datetime(2026, 10, 25, 8, 0, tzinfo=UTC)),
    ],
)
def test_quiet_hours_are_judged_in_the_partners_time_zone(
    local: datetime, until: datetime | None
) -> None:
    assert sms_delivery.quiet_until(local, AMS, time(21), time(9)) == until


def test_quiet_hours_within_one_day_and_none() -> None:
    at = datetime(2026, 12, 3, 13, 0, tzinfo=AMS)
    assert sms_delivery.quiet_until(at, AMS, time(12), time(14)) == datetime(
        2026, 12, 3, 13, 0, tzinfo=UTC
    )
    assert sms_delivery.quiet_until(at, AMS, time(9), time(9)) is None
    until = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
    assert sms_delivery.describe_quiet(until, AMS) == "quiet hours until 09:00 Europe/Amsterdam"


# Short links ----------------------------------------------------------------------------------


def test_short_codes_round_trip_are_short_and_refuse_tampering(settings: Settings) -> None:
    code = short_links.code_for(settings, 123_456_789, 3)
    assert short_links.parse(settings, code) == (123_456_789, 3)
    assert len(f"/s/{code}") <= 30
    for bad in (
        code[:-1] + ("A" if code[-1] != "A" else "B"),  # MAC changed
        ("1" if code[0] != "1" else "2") + code[1:],  # delivery changed
        "0" + code,  # not canonical
        code[:8],
        "",
        "x" * 40,
        code + "!",
    ):
        assert short_links.parse(settings, bad) is None
    with pytest.raises(ValueError):
        short_links.code_for(settings, 1, 16)


# The snapshot ---------------------------------------------------------------------------------


def test_snapshot_picks_sms_for_contacts_who_prefer_it_and_nothing_when_they_may_not(
    demo: Engine,
) -> None:
    with_sms_variant(demo)
    emails = add_contacts(demo, "amsterdam", 3, tag="chan")
    texters = add_texters(demo, "amsterdam", 3, tag="chan")
    no_consent = add_texters(demo, "amsterdam", 1, tag="chan", sms_consent="unknown")
    no_phone = add_texters(demo, "amsterdam", 1, tag="chan", phone=False)
    stopped = add_texters(demo, "amsterdam", 1, tag="chan")
    with Session(demo) as s:
        partner = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one()
        suppress_phone(s, partner.brand_id, stopped[0], "stop", source="test")
        s.commit()
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", "chan"))
    snapshot(demo, pcid)
    got = rows(demo, pcid)
    sms = sorted(r.phone for r in got if r.channel == "sms")
    assert sms == sorted(texters)
    assert sorted(r.email for r in got if r.channel == "email") == sorted(emails)
    assert all(r.phone == "" for r in got if r.channel == "email")
    assert len(got) == 6  # the STOP, no-consent and no-number texters get no email either
    assert no_consent[0] not in sms and no_phone  # (the no-number one has no phone at all)
    with Session(demo) as s:
        audience = s.get(PartnerCampaign, pcid).audience  # type: ignore[union-attr]
    assert audience["eligible"] == 6
    assert (audience["eligible_email"], audience["eligible_sms"]) == (3, 3)
    assert audience["suppressed"] == 1 and audience["no_consent"] == 2
    assert audience["matching"] == 9


def test_without_an_sms_variant_everyone_is_an_email_contact(demo: Engine) -> None:
    with Session(demo) as s:  # the demo's Open day has one: take it away
        for version in s.exec(select(TemplateVersion)).all():
            if "sms" in version.content:
                version.content = {k: v for k, v in version.content.items() if k != "sms"}
                s.add(version)
        s.commit()
    add_contacts(demo, "amsterdam", 2, tag="novariant")
    add_texters(demo, "amsterdam", 2, tag="novariant")
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", "novariant"))
    snapshot(demo, pcid)
    got = rows(demo, pcid)
    assert len(got) == 4 and {r.channel for r in got} == {"email"}


# The SMS batch --------------------------------------------------------------------------------


def _sms_pc(demo: Engine, tag: str, n: int = 4, **kw: Any) -> tuple[int, list[str]]:
    with_sms_variant(demo)
    numbers = add_texters(demo, "amsterdam", n, tag=tag, **kw)
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", tag))
    snapshot(demo, pcid)
    return pcid, numbers


def test_sms_batch_sends_each_row_once_in_the_recipients_language(
    demo: Engine, settings: Settings
) -> None:
    set_partner(demo, "amsterdam", sms_sender_id="NorthwindAM")
    pcid, numbers = _sms_pc(demo, "smsonce", 3)
    us = add_texters(demo, "amsterdam", 1, tag="smsonce", prefix="+1212555")
    # the US number came after the snapshot: a second partner campaign sends to everyone
    pcid2 = approved_row(demo, good_values(), make_segment(demo, "amsterdam", "smsonce"))
    snapshot(demo, pcid2)
    fake = FakeSms()
    email = ScriptedTransport()
    result = sms_delivery.send_sms_batch(demo, settings, fake, pcid, 100, now=daytime())
    assert (result.sent, result.seen, result.quiet_until) == (3, 3, None)
    again = sms_delivery.send_sms_batch(demo, settings, fake, pcid, 100, now=daytime())
    assert again.seen == 0 and sorted(fake.to()) == sorted(numbers)
    msg = fake.sent[0]
    assert msg.body.startswith("Open day in Amsterdam on ")
    assert "STOP om af te melden" in msg.body  # the contact's locale is nl
    assert msg.sender_id == "NorthwindAM"
    assert {r.status for r in rows(demo, pcid)} == {"sent"}
    assert all(r.message_id and r.message_id.startswith("<s") for r in rows(demo, pcid))
    # the email batch takes no SMS row
    from services import delivery

    assert delivery.send_batch(demo, settings, email, pcid, 100).seen == 0 and not email.sent
    sms_delivery.send_sms_batch(demo, settings, fake, pcid2, 100, now=daytime())
    to_us = [m for m in fake.sent if m.to == us[0]]
    assert len(to_us) == 1 and to_us[0].sender_id == ""  # no alphanumeric ids in the US


def test_a_stop_after_the_snapshot_and_provider_refusals_suppress_the_number(
    demo: Engine, settings: Settings
) -> None:
    pcid, numbers = _sms_pc(demo, "smsstop", 5)
    with Session(demo) as s:
        brand_id = s.get(PartnerCampaign, pcid).brand_id  # type: ignore[union-attr]
        suppress_phone(s, brand_id, numbers[0], "stop", source="inbound")
        contact = s.exec(select(Contact).where(Contact.phone == numbers[1])).one()
        contact.sms_consent_status = "denied"
        s.add(contact)
        s.commit()
    fake = FakeSms(
        {
            numbers[2]: PermanentSendError(OPTED_OUT, f"{numbers[2]} opted out"),
            numbers[3]: PermanentSendError(INVALID_NUMBER, "not a mobile number"),
        }
    )
    result = sms_delivery.send_sms_batch(demo, settings, fake, pcid, 100, now=daytime())
    assert fake.to() == [numbers[4]]
    assert (result.sent, result.suppressed, result.failed) == (1, 3, 1)
    by_phone = {r.phone: r for r in rows(demo, pcid)}
    assert by_phone[numbers[3]].status == "failed" and by_phone[numbers[3]].permanent
    assert numbers[2] not in (by_phone[numbers[2]].error or "")  # no number in the reason
    with Session(demo) as s:
        found = {
            p.phone: p.reason
            for p in s.exec(select(PhoneSuppression).where(PhoneSuppression.brand_id == brand_id))
        }
    assert found[numbers[2]] == "stop" and found[numbers[3]] == "invalid"


def test_a_crash_mid_batch_sends_no_sms_twice(demo: Engine, settings: Settings) -> None:
    pcid, numbers = _sms_pc(demo, "smscrash", 6)
    fake = FakeSms()
    fake.fail_after = 2
    with pytest.raises(RuntimeError):
        sms_delivery.send_sms_batch(demo, settings, fake, pcid, 100, now=daytime())
    stuck = [r for r in rows(demo, pcid) if r.status == "sending"]
    assert len(stuck) == 1  # the row in hand when the worker was lost
    result = sms_delivery.send_sms_batch(demo, settings, fake, pcid, 100, now=daytime())
    assert result.sent == 4 and sorted(fake.to()) == sorted(numbers)
    assert len(set(m.message_id for m in fake.sent)) == 6


def test_throttles_hold_and_retry(demo: Engine, settings: Settings) -> None:
    pcid, numbers = _sms_pc(demo, "smsthrottle", 2)
    fake = FakeSms({numbers[0]: ThrottledError("sns.Throttling", "slow down", 0.01)})
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        fake.script.clear()

    result = sms_delivery.send_sms_batch(
        demo, settings, fake, pcid, 100, now=daytime(), sleep=sleep
    )
    assert result.sent == 2 and result.throttled == 1 and waits == [0.01]
    assert sorted(fake.to()) == sorted(numbers)


def test_quiet_hours_send_nothing_and_stop_a_batch_when_they_begin(
    demo: Engine, settings: Settings
) -> None:
    set_partner(demo, "amsterdam", timezone="Europe/Amsterdam")
    pcid, numbers = _sms_pc(demo, "smsquiet", 4)
    fake = FakeSms()
    night = datetime(2026, 12, 3, 23, 30, tzinfo=AMS)
    result = sms_delivery.send_sms_batch(demo, settings, fake, pcid, 100, now=lambda: night)
    assert result.quiet_until == datetime(2026, 12, 4, 8, 0, tzinfo=UTC) and not fake.sent
    # a clock that reaches 21:00 after two messages
    ticks: Iterator[datetime] = iter(
        datetime(2026, 12, 3, 20, 59, 50, tzinfo=AMS) + timedelta(seconds=i)
        for i in range(0, 40, 4)
    )
    result = sms_delivery.send_sms_batch(demo, settings, fake, pcid, 100, now=lambda: next(ticks))
    assert result.quiet_until == datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
    assert 0 < result.sent < 4 and len(fake.sent) == result.sent
    left = sms_delivery.send_sms_batch(
        demo, settings, fake, pcid, 100, after_id=result.last_id, now=daytime()
    )
    assert left.sent == 4 - result.sent and sorted(fake.to()) == sorted(numbers)


# Short links through the redirect -------------------------------------------------------------


def test_sms_links_are_short_tracked_and_redirect(
    demo: Engine, settings: Settings, client: TestClient
) -> None:
    with Session(demo) as s:
        for brand in s.exec(select(Brand)).all():
            brand.click_tracking = True
            s.add(brand)
        s.commit()
    pcid, _ = _sms_pc(demo, "smslink", 1)
    fake = FakeSms()
    sms_delivery.send_sms_batch(demo, settings, fake, pcid, 100, now=daytime())
    body = fake.sent[0].body
    assert "https://club.example/open-day" not in body
    link = next(w for w in body.split() if "/s/" in w)
    path = link[link.index("/s/") :]
    assert len(path) <= 30
    answer = client.get(path, follow_redirects=False)
    assert answer.status_code == 302
    assert answer.headers["location"] == "https://club.example/open-day"
    tampered = path[:-1] + ("A" if path[-1] != "A" else "B")
    assert client.get(tampered, follow_redirects=False).status_code == 404
    writer = client.app.state.event_writer  # type: ignore[attr-defined]
    writer.stop()  # drains what the route queued
    writer.start()
    with Session(demo) as s:
        clicks = s.exec(select(DeliveryEvent).where(DeliveryEvent.kind == "clicked")).all()
    assert [c.url for c in clicks] == ["https://club.example/open-day"]
    assert clicks[0].source == "tracking"
    # The brand stops tracking: the texted link still leads on, the click is not recorded.
    with Session(demo) as s:
        for brand in s.exec(select(Brand)).all():
            brand.click_tracking = False
            s.add(brand)
        s.commit()
    again = client.get(path, follow_redirects=False)
    assert again.status_code == 302
    assert again.headers["location"] == "https://club.example/open-day"
    writer.stop()
    writer.start()
    with Session(demo) as s:
        assert len(s.exec(select(DeliveryEvent).where(DeliveryEvent.kind == "clicked")).all()) == 1


def test_sms_links_stay_as_they_are_when_the_brand_does_not_track(
    demo: Engine, settings: Settings
) -> None:
    with Session(demo) as s:
        for brand in s.exec(select(Brand)).all():
            brand.click_tracking = False
            s.add(brand)
        s.commit()
    pcid, _ = _sms_pc(demo, "smsnolink", 1)
    fake = FakeSms()
    sms_delivery.send_sms_batch(demo, settings, fake, pcid, 100, now=daytime())
    assert "https://club.example/open-day" in fake.sent[0].body


# The workflow ---------------------------------------------------------------------------------


async def test_send_workflow_texts_sms_contacts_and_mails_the_others(
    workflow_env: WorkflowEnvironment,
    demo: Engine,
    delivery_worker: Callable[..., Any],
) -> None:
    with_sms_variant(demo)
    emails = add_contacts(demo, "amsterdam", 5, tag="mixwf")
    numbers = add_texters(demo, "amsterdam", 5, tag="mixwf")
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", "mixwf"))
    transport, fake = ScriptedTransport(), FakeSms()
    queue, worker = delivery_worker(transport, fake)
    async with worker:
        result: SendResult = await workflow_env.client.execute_workflow(
            SendWorkflow.run,
            send_input(pcid, queue, batch_size=2, batches_per_run=3),
            id=f"send-test-{uuid.uuid4().hex[:6]}",
            task_queue=queue,
        )
    assert result.outcome == "sent" and result.counts["sent"] == 10
    assert sorted(transport.to()) == sorted(emails)
    assert sorted(fake.to()) == sorted(numbers)


def test_demo_amsterdam_has_sms_contacts_and_one_who_replied_stop(demo: Engine) -> None:
    from scripts.demo.contacts import seed_demo_contacts

    with_sms_variant(demo)
    with Session(demo) as s:
        seed_demo_contacts(s)
        s.commit()
    with Session(demo) as s:
        partner = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one()
        texters = s.exec(
            select(Contact).where(Contact.partner_id == partner.id, Contact.channel == "sms")
        ).all()
        stopped = s.exec(select(PhoneSuppression.phone)).all()
    assert len(texters) == 6 and all(c.phone and c.phone.startswith("+316") for c in texters)
    assert len(stopped) == 1
    assert [c.sms_consent_status for c in texters if c.phone == stopped[0]] == ["denied"]
    pcid = approved_row(demo, good_values(), None)
    snapshot(demo, pcid)
    sms = sorted(r.phone for r in rows(demo, pcid) if r.channel == "sms")
    assert len(sms) == 5 and stopped[0] not in sms
    assert not {c.email for c in texters} & {
        r.email for r in rows(demo, pcid) if r.channel == "email"
    }


def test_the_portal_count_shows_email_and_sms(
    demo: Engine, settings: Settings, client: TestClient
) -> None:
    from tests.delivery.test_delivery import open_day_row
    from tests.security.test_permissions import _portal_cookie

    with_sms_variant(demo)
    add_contacts(demo, "amsterdam", 2, tag="portalsms")
    add_texters(demo, "amsterdam", 3, tag="portalsms")
    segment = make_segment(demo, "amsterdam", "portalsms")
    pcid = open_day_row(demo, good_values(), None, state="drafting")
    client.cookies.update(_portal_cookie(settings, demo, "editor.amsterdam@northwind.example"))
    page = client.get(
        f"/partner-campaigns/{pcid}/audience",
        params={"segment_id": segment},
        headers={"HX-Request": "true"},
    )
    assert page.status_code == 200
    # Amsterdam's editor reads Dutch.
    assert "<strong>5</strong> ontvangen hem (2 per e-mail, 3 per sms)" in page.text


def test_a_crash_after_the_hand_over_adds_no_second_outbox_sms(
    demo: Engine, settings: Settings
) -> None:
    """The outbox keeps one SMS per message id: a row left `sending` by a worker lost right
    after the hand-over goes again with the same id and is not recorded twice."""
    from mail.sms_transport import OutboxSmsTransport
    from models.outbox import OutboxSms

    pcid, numbers = _sms_pc(demo, "smsoutbox", 4)
    outbox = OutboxSmsTransport(demo)

    class LostAfter:
        rate_key = outbox.rate_key
        calls = 0

        def max_send_rate(self) -> float:
            return outbox.max_send_rate()

        def send_sms(self, msg: SmsMessage, *, tags: Tags | None = None) -> str:
            answer = outbox.send_sms(msg, tags=tags)
            LostAfter.calls += 1
            if LostAfter.calls == 2:
                raise RuntimeError("worker lost after the hand-over")
            return answer

    with pytest.raises(RuntimeError):
        sms_delivery.send_sms_batch(demo, settings, LostAfter(), pcid, 100, now=daytime())
    sms_delivery.send_sms_batch(demo, settings, LostAfter(), pcid, 100, now=daytime())
    assert LostAfter.calls == 5  # the second row was handed over twice
    with Session(demo) as s:
        texted = s.exec(select(OutboxSms.to).where(OutboxSms.partner_campaign_id == pcid)).all()
    assert sorted(texted) == sorted(numbers)  # ... and is in the outbox once
    assert {r.status for r in rows(demo, pcid)} == {"sent"}


def test_an_sms_batch_after_the_send_deadline_sends_nothing(
    demo: Engine, settings: Settings
) -> None:
    pcid, _ = _sms_pc(demo, "smslate", 2)
    with Session(demo) as s:
        pc = s.get(PartnerCampaign, pcid)
        assert pc is not None
        campaign = s.get(Campaign, pc.campaign_id)
        assert campaign is not None
        campaign.send_by = datetime.now(UTC) - timedelta(days=2)
        s.add(campaign)
        s.commit()
    fake = FakeSms()
    result = sms_delivery.send_sms_batch(demo, settings, fake, pcid, 100, now=daytime())
    assert result.late and "too late" in result.late and not fake.sent
