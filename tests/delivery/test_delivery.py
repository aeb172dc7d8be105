"""Delivery: the ledger (snapshot, exactly one message per row), every transport outcome, the
unsubscribe headers, and the chain on the time-skipping server: approval -> send_at ->
SendWorkflow -> sent, with continue-as-new and a pause when the transport refuses everything."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from content.render import RenderError
from core.settings import Settings
from domain.workflow_ids import send_workflow_id
from mail.errors import (
    PermanentSendError,
    ThrottledError,
    TransientSendError,
    TransportPausedError,
)
from mail.tags import Tags
from mail.transport import OutboxTransport
from models.audit import AuditEvent
from models.campaigns import Campaign, PartnerCampaign
from models.contacts import Contact, Segment
from models.delivery import Delivery
from models.org import Partner, User
from models.outbox import OutboxMessage
from models.templates import Template, TemplateVersion
from models.workflow_io import SendInput, SendPause, SendResult
from services import delivery, suppression
from workflows.send import SendWorkflow

Login = Callable[[str], dict[str, str]]
HISTORIES = Path(__file__).parents[1] / "histories"
EDITOR_AMS = "editor.amsterdam@northwind.example"
GM_AMS = "gm.amsterdam@northwind.example"
GM_BERLIN = "gm.berlin@northwind.example"
MARKETING = "marketing@northwind.example"


class ScriptedTransport:
    """Records what it is asked to send; raises what `script` says for an address."""

    rate_key = "scripted"

    def __init__(self, script: dict[str, Exception] | None = None) -> None:
        self.script = dict(script or {})
        self.sent: list[EmailMessage] = []
        self.tags: list[dict[str, str]] = []

    def send(self, msg: EmailMessage, *, tags: Tags | None = None) -> str:
        to = str(msg["To"])
        for address, error in self.script.items():
            if address in to:
                raise error
        self.sent.append(msg)
        self.tags.append(dict(tags or {}))
        return f"provider-{len(self.sent)}"

    def max_send_rate(self) -> float:
        return 10_000.0

    def to(self) -> list[str]:
        return [str(m["To"]) for m in self.sent]


def _partner(session: Session, slug: str) -> Partner:
    return session.exec(select(Partner).where(Partner.slug == slug)).one()


def add_contacts(
    engine: Engine, slug: str, n: int, *, tag: str, consent: str = "granted"
) -> list[str]:
    run = uuid.uuid4().hex[:6]
    with Session(engine) as s:
        partner = _partner(s, slug)
        emails = [f"{tag}.{run}.{i}@customers.example" for i in range(n)]
        for i, email in enumerate(emails):
            s.add(
                Contact(
                    brand_id=partner.brand_id,
                    partner_id=partner.id or 0,
                    email=email,
                    name=f"Customer {i}",
                    locale="en",
                    consent_status=consent,
                    tags=[tag],
                )
            )
        s.commit()
    return emails


def make_segment(engine: Engine, slug: str, tag: str) -> int:
    with Session(engine) as s:
        partner = _partner(s, slug)
        segment = Segment(
            brand_id=partner.brand_id,
            partner_id=partner.id or 0,
            name=f"Tag {tag} {uuid.uuid4().hex[:4]}",
            filter={"tags_any": [tag]},
        )
        s.add(segment)
        s.commit()
        assert segment.id is not None
        return segment.id


def approved_row(engine: Engine, values: dict[str, Any], segment_id: int | None) -> int:
    """A partner campaign of "Open day" for Amsterdam, approved with `values` (rows only)."""
    return open_day_row(engine, values, segment_id, state="sending")


def open_day_row(
    engine: Engine,
    values: dict[str, Any],
    segment_id: int | None,
    *,
    state: str,
    slug: str = "amsterdam",
) -> int:
    """A partner campaign of "Open day" for the partner `slug` in `state` (rows only, no
    workflow), in a running campaign of its own."""
    now = datetime.now(UTC)
    with Session(engine) as s:
        template = s.exec(select(Template).where(Template.name == "Open day")).one()
        version = s.exec(
            select(TemplateVersion).where(TemplateVersion.template_id == template.id)
        ).one()
        author = s.exec(select(User).where(User.email == MARKETING)).one()
        partner = _partner(s, slug)
        campaign = Campaign(
            brand_id=template.brand_id,
            name=f"Open day {state}",
            template_version_id=version.id or 0,
            target={"partners": [partner.id]},
            personalise_until=now + timedelta(days=3),
            send_by=now + timedelta(days=10),
            created_by=author.id or 0,
            state="running",
        )
        s.add(campaign)
        s.commit()
        row = PartnerCampaign(
            campaign_id=campaign.id or 0,
            brand_id=partner.brand_id,
            region_id=partner.region_id,
            partner_id=partner.id or 0,
            state=state,
            values=values,
            segment_id=segment_id,
            workflow_id=f"test-{uuid.uuid4().hex[:6]}",
        )
        s.add(row)
        s.commit()
        assert row.id is not None
        return row.id


def send_input(pcid: int, queue: str, **extra: Any) -> SendInput:
    return SendInput(
        partner_campaign_id=pcid,
        campaign_id=0,
        brand_id=0,
        partner_id=0,
        delivery_task_queue=queue,
        **extra,
    )


def good_values(**extra: str) -> dict[str, Any]:
    event_day = (datetime.now(UTC) + timedelta(days=8)).date().isoformat()
    return {"headline": "Open day in Amsterdam", "event_date": event_day, **extra}


def snapshot(engine: Engine, pcid: int) -> int:
    from activities.delivery import snapshot_audience

    return snapshot_audience(engine, pcid).inserted


def send_all(
    engine: Engine, settings: Settings, transport: ScriptedTransport, pcid: int, limit: int = 500
) -> delivery.BatchResult:
    return delivery.send_batch(engine, settings, transport, pcid, limit)


def ledger(engine: Engine, pcid: int) -> dict[str, int]:
    with Session(engine) as s:
        return delivery.counts(s, pcid)


# The ledger -------------------------------------------------------------------------------------


def test_snapshot_takes_the_segment_minus_suppressed_and_unconsented_once(
    demo: Engine,
) -> None:
    eligible = add_contacts(demo, "amsterdam", 12, tag="spring")
    unconsented = add_contacts(demo, "amsterdam", 3, tag="spring", consent="unknown")
    add_contacts(demo, "amsterdam", 4, tag="other")  # outside the segment
    with Session(demo) as s:
        brand_id = _partner(s, "amsterdam").brand_id
        suppression.suppress(s, brand_id, eligible[0], "unsubscribed")
        s.commit()
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", "spring"))

    assert snapshot(demo, pcid) == 11
    assert snapshot(demo, pcid) == 0  # a retried snapshot writes nothing twice
    with Session(demo) as s:
        emails = set(
            s.exec(select(Delivery.email).where(Delivery.partner_campaign_id == pcid)).all()
        )
        row = s.get(PartnerCampaign, pcid)
        assert row is not None
        assert row.audience == {
            "matching": 15,
            "eligible": 11,
            "suppressed": 1,
            "no_consent": 3,
            "eligible_email": 11,
            "eligible_sms": 0,
        }
    assert emails == set(eligible[1:])
    assert not emails & set(unconsented)


def test_each_row_is_sent_once_and_a_retry_sends_nothing_again(
    demo: Engine, settings: Settings
) -> None:
    emails = add_contacts(demo, "amsterdam", 7, tag="once")
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", "once"))
    snapshot(demo, pcid)
    transport = ScriptedTransport()

    first = delivery.send_batch(demo, settings, transport, pcid, 4)
    assert (first.sent, ledger(demo, pcid)["pending"]) == (4, 3)
    second = send_all(demo, settings, transport, pcid)
    assert (second.sent, ledger(demo, pcid)["pending"]) == (3, 0)
    again = send_all(demo, settings, transport, pcid)
    assert again.sent == 0
    assert sorted(transport.to()) == sorted(emails)
    assert ledger(demo, pcid)["sent"] == 7
    with Session(demo) as s:
        rows = s.exec(select(Delivery).where(Delivery.partner_campaign_id == pcid)).all()
    assert all(r.provider_message_id and r.sent_at for r in rows)
    tags = transport.tags[0]
    assert tags["partner_campaign"] == str(pcid) and tags["delivery"].isdigit()


def test_a_row_caught_between_hand_over_and_mark_is_sent_once_more_with_the_same_id(
    demo: Engine, settings: Settings
) -> None:
    """The crash window: the row was `sending` when the worker died. It goes again (at most
    this one duplicate) with the Message-ID derived from the row, so it is recognisable."""
    add_contacts(demo, "amsterdam", 3, tag="crash")
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", "crash"))
    snapshot(demo, pcid)
    with Session(demo) as s:
        row = s.exec(
            select(Delivery).where(Delivery.partner_campaign_id == pcid).order_by(col(Delivery.id))
        ).first()
        assert row is not None
        row.status = "sending"
        s.add(row)
        s.commit()
        crashed_id = row.id
    transport = ScriptedTransport()
    assert send_all(demo, settings, transport, pcid).sent == 3
    resent = [m for m in transport.sent if m["Message-ID"].startswith(f"<d{crashed_id}.")]
    assert len(resent) == 1
    assert len({m["Message-ID"] for m in transport.sent}) == 3


def test_suppressed_after_the_snapshot_is_skipped_at_send_time(
    demo: Engine, settings: Settings
) -> None:
    emails = add_contacts(demo, "amsterdam", 3, tag="late")
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", "late"))
    snapshot(demo, pcid)
    with Session(demo) as s:
        suppression.suppress(s, _partner(s, "amsterdam").brand_id, emails[1], "complained")
        s.commit()
    transport = ScriptedTransport()
    result = send_all(demo, settings, transport, pcid)
    assert (result.sent, result.suppressed) == (2, 1)
    assert emails[1] not in " ".join(transport.to())


def test_permanent_refusals_are_recorded_and_not_retried(demo: Engine, settings: Settings) -> None:
    emails = add_contacts(demo, "amsterdam", 3, tag="reject")
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", "reject"))
    snapshot(demo, pcid)
    bad = PermanentSendError("ses.MessageRejected", "address on a block list")
    transport = ScriptedTransport({emails[0]: bad})
    result = send_all(demo, settings, transport, pcid)
    assert (result.sent, result.failed, ledger(demo, pcid)["pending"]) == (2, 1, 0)
    with Session(demo) as s:
        failed = s.exec(
            select(Delivery).where(
                Delivery.partner_campaign_id == pcid, Delivery.status == "failed"
            )
        ).one()
    assert failed.permanent and "MessageRejected" in (failed.error or "")
    assert send_all(demo, settings, transport, pcid).failed == 0  # never tried again


def test_a_recipient_refused_for_now_is_retried_on_later_passes_then_fails(
    demo: Engine, settings: Settings
) -> None:
    """A refusal for one recipient (mailbox busy) neither stops the batch nor retries it: the
    row waits for a later pass and fails, with its reason, after MAX_ATTEMPTS."""
    emails = add_contacts(demo, "amsterdam", 3, tag="flaky")
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", "flaky"))
    snapshot(demo, pcid)
    busy = TransientSendError("smtp.450.4.2.1", "mailbox busy")
    transport = ScriptedTransport({emails[0]: busy})
    first = send_all(demo, settings, transport, pcid)
    assert (first.sent, first.retry_later, first.failed) == (2, 1, 0)  # the others went on
    for _ in range(delivery.MAX_ATTEMPTS - 2):
        again = send_all(demo, settings, transport, pcid)
        assert (again.retry_later, ledger(demo, pcid)["pending"]) == (1, 1)
    last = send_all(demo, settings, transport, pcid)
    assert (last.failed, last.retry_later, ledger(demo, pcid)["sent"]) == (1, 0, 2)
    failed = _failed_row(demo, pcid)
    assert not failed.permanent and failed.attempts == delivery.MAX_ATTEMPTS
    assert "mailbox busy" in (failed.error or "")
    assert send_all(demo, settings, transport, pcid).seen == 0  # nothing left to try


def test_throttling_puts_the_row_back_without_using_its_attempts(
    demo: Engine, settings: Settings
) -> None:
    """A throttle is retried inside the batch; a run of them past the budget ends the batch
    early (cut short, not an error: the workflow goes on at once) with the row pending and
    its attempts untouched, however often it happens."""
    emails = add_contacts(demo, "amsterdam", 2, tag="throttled")
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", "throttled"))
    snapshot(demo, pcid)
    slow_down = ThrottledError("ses.Throttling", "Maximum sending rate exceeded", 0.01)
    transport = ScriptedTransport({emails[0]: slow_down})
    impatient = settings.model_copy(update={"send_throttle_budget": 0.05})
    held: list[float] = []
    pace = delivery.Pace(throttled=held.append)
    for _ in range(delivery.MAX_ATTEMPTS + 2):
        result = delivery.send_batch(demo, impatient, transport, pcid, 500, pace=pace)
        assert result.cut_short and result.throttled >= 2 and result.last_id == 0
    assert held and set(held) == {0.01}  # every worker was told to hold as asked
    with Session(demo) as s:
        rows = s.exec(select(Delivery).where(Delivery.partner_campaign_id == pcid)).all()
    by_email = {r.email: r for r in rows}
    assert by_email[emails[0]].status == "pending" and by_email[emails[0]].attempts == 0
    assert by_email[emails[1]].status == "sent"
    assert transport.to() == [emails[1]]


def _failed_row(engine: Engine, pcid: int) -> Delivery:
    with Session(engine) as s:
        return s.exec(
            select(Delivery).where(
                Delivery.partner_campaign_id == pcid, Delivery.status == "failed"
            )
        ).one()


def _poison(engine: Engine, pcid: int, email: str) -> int:
    """A ledger row with an address intake refuses today (written before the rule existed,
    or by a path that bypassed it): composition refuses it too."""
    with Session(engine) as s:
        pc = s.get(PartnerCampaign, pcid)
        assert pc is not None
        contact = Contact(
            brand_id=pc.brand_id,
            partner_id=pc.partner_id,
            email=email,
            name="Poisoned",
            locale="en",
            consent_status="granted",
            consent_source="test",
            tags=["poisoned"],
        )
        s.add(contact)
        s.commit()
        row = Delivery(
            partner_campaign_id=pcid,
            brand_id=pc.brand_id,
            partner_id=pc.partner_id,
            contact_id=contact.id,
            email=email,
        )
        s.add(row)
        s.commit()
        assert row.id is not None
        return row.id


@pytest.mark.parametrize(
    "email",
    ["=?utf-8?q?x?=@customers.example", "two\nlines@customers.example", "no-at-sign"],
)
def test_a_recipient_whose_address_cannot_be_used_fails_alone_with_its_reason(
    demo: Engine, settings: Settings, email: str
) -> None:
    """Before, composition raised out of the batch: the activity retried the same row forever
    and the send stayed `sending` with no reason. An address never becomes valid: one try."""
    emails = add_contacts(demo, "amsterdam", 3, tag="poison")
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", "poison"))
    snapshot(demo, pcid)
    _poison(demo, pcid, email)
    transport = ScriptedTransport()
    result = send_all(demo, settings, transport, pcid)
    assert (result.sent, result.failed, result.retry_later) == (3, 1, 0)
    assert sorted(transport.to()) == sorted(emails)
    failed = _failed_row(demo, pcid)
    assert (failed.error or "").startswith("composition: InvalidRecipient") and failed.permanent
    assert ledger(demo, pcid) == {
        "pending": 0,
        "sending": 0,
        "sent": 3,
        "failed": 1,
        "suppressed": 0,
    }


def test_a_message_that_fails_to_render_for_one_recipient_is_retried_then_fails(
    demo: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A render refusal (over the time limit on a busy worker) may pass: a bounded number of
    passes, then failed with the reason, while every other recipient gets the message."""
    emails = add_contacts(demo, "amsterdam", 3, tag="render")
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", "render"))
    snapshot(demo, pcid)
    real = delivery.render_email

    def slow_for_one(key: str, content: Any, resolved: Any, context: Any) -> Any:
        if context["recipient"]["email"] == emails[1]:
            raise RenderError("rendering took longer than 2 seconds", "email.html")
        return real(key, content, resolved, context)

    monkeypatch.setattr(delivery, "render_email", slow_for_one)
    transport = ScriptedTransport()
    results = [send_all(demo, settings, transport, pcid) for _ in range(delivery.MAX_ATTEMPTS)]
    assert results[0].sent == 2 and results[0].retry_later == 1
    assert [r.retry_later for r in results[1:]] == [1] * (delivery.MAX_ATTEMPTS - 2) + [0]
    failed = _failed_row(demo, pcid)
    assert failed.attempts == delivery.MAX_ATTEMPTS and not failed.permanent
    assert "RenderError" in (failed.error or "") and "longer than" in (failed.error or "")
    assert sorted(transport.to()) == sorted(e for e in emails if e != emails[1])


def test_intake_refuses_what_composition_cannot_send(
    client: TestClient, demo: Engine, login: Login
) -> None:
    """One address rule: what the contacts API or an import accepts can be put in a header."""
    with Session(demo) as s:
        amsterdam = _partner(s, "amsterdam").id
    base = f"/api/v1/partners/{amsterdam}/contacts"
    editor = login(EDITOR_AMS)
    created = client.post(
        base,
        json={"email": "=?utf-8?q?x?=@customers.example", "consent_status": "unknown"},
        headers=editor,
    )
    assert created.status_code == 422 and "email" in created.text
    csv = (
        b"email,consent_status\n"
        b"=?utf-8?q?x?=@customers.example,unknown\n"
        b"ok@customers.example,unknown\n"
    )
    imported = client.post(
        f"{base}/import", files={"file": ("c.csv", csv, "text/csv")}, headers=editor
    )
    assert imported.status_code == 200, imported.text
    report = imported.json()
    assert report["rejected"] == 1 and report["created"] == 1


def test_an_account_level_refusal_pauses_the_batch_and_loses_nothing(
    demo: Engine, settings: Settings
) -> None:
    emails = add_contacts(demo, "amsterdam", 4, tag="paused")
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", "paused"))
    snapshot(demo, pcid)
    paused = TransportPausedError("ses.SendingPausedException", "sending is paused")
    transport = ScriptedTransport({emails[0]: paused})
    result = send_all(demo, settings, transport, pcid)
    assert result.paused and "paused" in result.paused
    assert result.sent == 0 and ledger(demo, pcid)["pending"] == 4


def test_refusal_texts_are_kept_without_the_recipients_address(
    demo: Engine, settings: Settings
) -> None:
    """A provider's refusal often names the recipient; the ledger, the raised error (the
    workflow's history) and the pause reason (audit trail, notice to HQ) keep it without."""
    emails = add_contacts(demo, "amsterdam", 3, tag="named")
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", "named"))
    snapshot(demo, pcid)
    upper = emails[1].upper()  # relays echo addresses in any case
    transport = ScriptedTransport(
        {
            emails[0]: PermanentSendError("smtp.550.5.1.1", f"<{emails[0]}>: mailbox unknown"),
            emails[1]: ThrottledError("smtp.451.4.7.1", f"<{upper}>: greylisted", 0.01),
        }
    )
    impatient = settings.model_copy(update={"send_throttle_budget": 0.05})
    cut = delivery.send_batch(demo, impatient, transport, pcid, 500)
    assert cut.cut_short
    with Session(demo) as s:
        throttled = s.exec(select(Delivery).where(Delivery.email == emails[1])).one()
    assert throttled.status == "pending" and "greylisted" in (throttled.error or "")
    assert emails[1].lower() not in (throttled.error or "").lower()
    transport.script[emails[1]] = TransportPausedError(
        "ses.MessageRejected", f"The following identities failed the check: {emails[1]}"
    )
    paused = send_all(demo, settings, transport, pcid)
    assert paused.paused is not None and "[address]" in paused.paused
    with Session(demo) as s:
        errors = s.exec(select(Delivery.error).where(Delivery.partner_campaign_id == pcid)).all()
    kept = " ".join([e or "" for e in errors] + [paused.paused]).lower()
    assert "mailbox unknown" in kept and "failed the check" in kept
    assert not [e for e in emails if e.lower() in kept]


def test_an_address_that_cannot_be_sent_to_fails_its_row_alone(
    demo: Engine, settings: Settings
) -> None:
    emails = add_contacts(demo, "amsterdam", 2, tag="broken")
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", "broken"))
    snapshot(demo, pcid)
    broken = "broken address@@customers.example"  # a row written before today's checks
    with Session(demo) as s:
        row = s.exec(select(Delivery).where(Delivery.email == emails[0])).one()
        row.email = broken
        s.add(row)
        s.commit()
    result = send_all(demo, settings, ScriptedTransport(), pcid)
    assert (result.sent, result.failed) == (1, 1)
    with Session(demo) as s:
        failed = s.exec(select(Delivery).where(Delivery.email == broken)).one()
    assert failed.permanent and (failed.error or "").startswith("composition: InvalidRecipient")
    assert broken not in (failed.error or "")


# The message ------------------------------------------------------------------------------------


def test_message_carries_unsubscribe_headers_a_visible_link_and_a_row_message_id(
    demo: Engine, settings: Settings, client: TestClient
) -> None:
    [email] = add_contacts(demo, "amsterdam", 1, tag="headers")
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", "headers"))
    snapshot(demo, pcid)
    transport = ScriptedTransport()
    send_all(demo, settings, transport, pcid)
    [msg] = transport.sent
    url = msg["List-Unsubscribe"].strip("<>")
    assert url.startswith("https://") or url.startswith("http://")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    with Session(demo) as s:
        row = s.exec(select(Delivery).where(Delivery.partner_campaign_id == pcid)).one()
    assert msg["Message-ID"] == row.message_id and f"<d{row.id}.pc{pcid}@" in row.message_id
    html = msg.get_body(("html",))
    text = msg.get_body(("plain",))
    assert html is not None and text is not None
    assert url.split("/u/")[1].split("/")[0] in html.get_content()
    assert "/u/" in text.get_content()

    # The one-click POST (RFC 8058) unsubscribes at once; the next send skips the address.
    path = "/u/" + url.split("/u/", 1)[1]
    one_click = path if path.endswith("/one-click") else path + "/one-click"
    resp = client.post(one_click, data={"List-Unsubscribe": "One-Click"})
    assert resp.status_code == 200, resp.text
    with Session(demo) as s:
        assert suppression.is_suppressed(s, _partner(s, "amsterdam").brand_id, email)
    # A later campaign to the same segment leaves the address out.
    later = approved_row(demo, good_values(), make_segment(demo, "amsterdam", "headers"))
    assert snapshot(demo, later) == 0


def test_partner_text_is_data_in_the_sent_email(demo: Engine, settings: Settings) -> None:
    add_contacts(demo, "amsterdam", 1, tag="inject")
    payload = "{{ 7*7 }} <script>alert(1)</script>"
    pcid = approved_row(
        demo, good_values(headline=payload), make_segment(demo, "amsterdam", "inject")
    )
    snapshot(demo, pcid)
    transport = ScriptedTransport()
    send_all(demo, settings, transport, pcid)
    [msg] = transport.sent
    html_part = msg.get_body(("html",))
    text_part = msg.get_body(("plain",))
    assert html_part is not None and text_part is not None
    html, text = html_part.get_content(), text_part.get_content()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
    assert "{{ 7*7 }}" in text and "49" not in text.replace("2049", "")


# Workflows (the worker fixture is in conftest.py) ------------------------------------------------


async def test_send_workflow_continues_as_new_and_sends_everyone_once(
    workflow_env: WorkflowEnvironment,
    demo: Engine,
    delivery_worker: Callable[[ScriptedTransport], Any],
) -> None:
    emails = add_contacts(demo, "amsterdam", 23, tag="can")
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", "can"))
    transport = ScriptedTransport()
    queue, worker = delivery_worker(transport)
    wid = f"send-test-{uuid.uuid4().hex[:6]}"
    async with worker:
        handle = await workflow_env.client.start_workflow(
            SendWorkflow.run,
            send_input(pcid, queue, batch_size=4, batches_per_run=2),
            id=wid,
            task_queue=queue,
        )
        first_run = handle.result_run_id
        result: SendResult = await handle.result()
    assert result.outcome == "sent" and result.counts["sent"] == 23
    assert sorted(transport.to()) == sorted(emails)
    first = workflow_env.client.get_workflow_handle(wid, run_id=first_run)
    described = await first.describe()
    assert described.status == WorkflowExecutionStatus.CONTINUED_AS_NEW


async def test_a_paused_send_tells_people_then_resumes_without_duplicates(
    workflow_env: WorkflowEnvironment,
    demo: Engine,
    delivery_worker: Callable[[ScriptedTransport], Any],
) -> None:
    emails = add_contacts(demo, "amsterdam", 5, tag="circuit")
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", "circuit"))
    transport = ScriptedTransport(
        {emails[2]: TransportPausedError("ses.AccountSuspendedException", "AccountSuspended")}
    )
    queue, worker = delivery_worker(transport)
    # Real time while paused: the server must not skip the hour-long resume timer.
    async with worker:
        with workflow_env.auto_time_skipping_disabled():
            handle = await workflow_env.client.start_workflow(
                SendWorkflow.run,
                send_input(pcid, queue, resume_after=3600),
                id=f"send-test-{uuid.uuid4().hex[:6]}",
                task_queue=queue,
            )
            for _ in range(100):
                if await handle.query(SendWorkflow.paused_reason):
                    break
                await asyncio.sleep(0.05)
            assert "AccountSuspended" in (await handle.query(SendWorkflow.paused_reason) or "")
            customers = [a for a in transport.to() if a.endswith("@customers.example")]
            # Stopped at the refusal (test_send_speed bounds what was already in flight).
            assert emails[2] not in customers and len(customers) == len(set(customers))
            transport.script.clear()  # the account is fixed
            await handle.signal(SendWorkflow.resume)
            result: SendResult = await handle.result()
    customers = [a for a in transport.to() if a.endswith("@customers.example")]
    assert result.counts["sent"] == 5 and sorted(customers) == sorted(emails)
    with Session(demo) as s:
        events = s.exec(select(AuditEvent.action).where(AuditEvent.entity_id == str(pcid))).all()
    assert "partner_campaign.send_paused" in events


async def test_a_poisoned_row_fails_with_its_reason_and_the_send_finishes(
    workflow_env: WorkflowEnvironment,
    demo: Engine,
    delivery_worker: Callable[[ScriptedTransport], Any],
    monkeypatch: pytest.MonkeyPatch,
    record_history: Callable[[str, str], Awaitable[None]],
) -> None:
    """An address that can never be used fails at once; a message that fails to render for
    one recipient gets further passes (a timer between them) and then fails too."""
    emails = add_contacts(demo, "amsterdam", 9, tag="poisonwf")
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", "poisonwf"))
    snapshot(demo, pcid)
    _poison(demo, pcid, "=?utf-8?q?x?=@customers.example")
    real = delivery.render_email

    def fails_for_one(key: str, content: Any, resolved: Any, context: Any) -> Any:
        if context["recipient"]["email"] == emails[4]:
            raise RenderError("output is larger than 2000000 characters", "email.html")
        return real(key, content, resolved, context)

    monkeypatch.setattr(delivery, "render_email", fails_for_one)
    transport = ScriptedTransport()
    queue, worker = delivery_worker(transport)
    wid = f"send-test-{uuid.uuid4().hex[:6]}"
    async with worker:
        result: SendResult = await workflow_env.client.execute_workflow(
            SendWorkflow.run,
            send_input(pcid, queue, batch_size=4, snapshotted=True),
            id=wid,
            task_queue=queue,
        )
    await record_history(wid, "send_poisoned_rows")
    assert result.outcome == "partially_sent"
    assert (result.counts["sent"], result.counts["failed"]) == (8, 2)
    assert sorted(transport.to()) == sorted(e for e in emails if e != emails[4])
    with Session(demo) as s:
        failed = s.exec(
            select(Delivery).where(
                Delivery.partner_campaign_id == pcid, Delivery.status == "failed"
            )
        ).all()
    reasons = sorted((f.error or "").split(":")[1].strip() for f in failed)
    assert reasons == ["InvalidRecipient", "RenderError"]
    assert sorted(f.attempts for f in failed) == [1, delivery.MAX_ATTEMPTS]


async def _pause_of(handle: Any, kind: str) -> SendPause:
    for _ in range(400):
        pause = await handle.query(SendWorkflow.pause)
        if pause is not None and pause.kind == kind:
            return pause  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError(f"the send never paused with a {kind}")


async def test_an_unwritable_outbox_pauses_the_send_visibly_and_it_resumes_on_its_own(
    workflow_env: WorkflowEnvironment,
    demo: Engine,
    settings: Settings,
    delivery_worker: Callable[[Any], Any],
    tmp_path: Path,
    record_history: Callable[[str, str], Awaitable[None]],
) -> None:
    """Before, the outbox's OSError was a transient error of each recipient in turn: the rows
    failed after five attempts, or the batch retried with no reason shown anywhere."""
    emails = add_contacts(demo, "amsterdam", 6, tag="disk")
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", "disk"))
    directory = tmp_path / "outbox"
    directory.write_text("not a directory")  # root ignores permissions: break the path itself
    outbox = OutboxTransport(directory, demo)
    queue, worker = delivery_worker(outbox)
    async with worker:
        handle = await workflow_env.client.start_workflow(
            SendWorkflow.run,
            send_input(pcid, queue, batch_size=4),
            id=f"send-test-{uuid.uuid4().hex[:6]}",
            task_queue=queue,
        )
        pause = await _pause_of(handle, "fault")
        assert "outbox" in pause.reason and ledger(demo, pcid)["sent"] == 0
        assert ledger(demo, pcid)["failed"] == 0  # nobody blamed for the disk
        directory.unlink()  # the fault clears; nobody signals anything
        result: SendResult = await handle.result()
    await record_history(handle.id, "send_fault_resumed")
    assert result.outcome == "sent" and result.counts["sent"] == 6
    got = [str(m["To"]) for m in outbox.list_messages()]
    assert sorted(got) == sorted(emails)  # each exactly once
    with Session(demo) as s:
        actions = s.exec(select(AuditEvent.action).where(AuditEvent.entity_id == str(pcid))).all()
    assert actions.count("partner_campaign.send_paused") == 1
    assert actions.count("partner_campaign.send_resumed") == 1


async def test_the_pause_stays_visible_while_no_worker_runs(
    workflow_env: WorkflowEnvironment,
    demo: Engine,
    settings: Settings,
    delivery_worker: Callable[[Any], Any],
    tmp_path: Path,
) -> None:
    """The API reads the pause from the send's memo, which the server answers alone: a query
    would wait for a worker that is not there (and the page would show no pause at all)."""
    add_contacts(demo, "amsterdam", 2, tag="noworker")
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", "noworker"))
    directory = tmp_path / "outbox"
    directory.write_text("not a directory")
    outbox = OutboxTransport(directory, demo)
    queue, worker = delivery_worker(outbox)
    wid = send_workflow_id(pcid)
    async with worker:
        handle = await workflow_env.client.start_workflow(
            SendWorkflow.run, send_input(pcid, queue), id=wid, task_queue=queue
        )
        await _pause_of(handle, "fault")
    with Session(demo) as s:
        row = s.get(PartnerCampaign, pcid)
        assert row is not None

    async def connect() -> Any:
        return workflow_env.client

    with workflow_env.auto_time_skipping_disabled():
        shown = await delivery.current_pause(connect, row)  # no worker polls the queue now
    assert shown is not None and shown.kind == "fault" and "outbox" in shown.reason
    await handle.terminate("test over")  # the id is made of a row id the next test reuses


async def test_a_database_fault_mid_batch_pauses_and_loses_and_duplicates_nothing(
    workflow_env: WorkflowEnvironment,
    demo: Engine,
    settings: Settings,
    delivery_worker: Callable[[ScriptedTransport], Any],
) -> None:
    """The ledger's commit fails after some messages went (a locked or unreachable database):
    the send pauses with the reason, and once the database answers it goes on where it was."""
    emails = add_contacts(demo, "amsterdam", 10, tag="dbfault")
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", "dbfault"))
    snapshot(demo, pcid)
    transport = ScriptedTransport()
    broken = {"on": False}

    def fail_ledger_writes(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if broken["on"] and statement.lstrip().upper().startswith("UPDATE DELIVERY"):
            raise OperationalError(statement, {}, Exception("database is locked"))

    def break_after_three(msg: EmailMessage, *, tags: Tags | None = None) -> str:
        sent = ScriptedTransport.send(transport, msg, tags=tags)
        if len(transport.sent) == 3:
            broken["on"] = True  # the next ledger write fails: this message is "sending"
        return sent

    transport.send = break_after_three  # type: ignore[method-assign]
    event.listen(demo, "before_cursor_execute", fail_ledger_writes)
    queue, worker = delivery_worker(transport)
    try:
        async with worker:
            handle = await workflow_env.client.start_workflow(
                SendWorkflow.run,
                send_input(pcid, queue, batch_size=4, snapshotted=True),
                id=f"send-test-{uuid.uuid4().hex[:6]}",
                task_queue=queue,
            )
            pause = await _pause_of(handle, "fault")
            assert "database" in pause.reason and "locked" in pause.reason
            broken["on"] = False
            result: SendResult = await handle.result()
    finally:
        event.remove(demo, "before_cursor_execute", fail_ledger_writes)
    assert result.outcome == "sent" and result.counts["sent"] == 10
    assert sorted(set(transport.to())) == sorted(emails)
    # The messages caught between hand-over and the failed commit went once more, with the
    # Message-ID of their rows (SMTP and SES cannot tell; the outbox can, see the next test):
    # at most one per slot in flight.
    assert 11 <= len(transport.to()) <= 10 + settings.send_concurrency
    assert len({m["Message-ID"] for m in transport.sent}) == 10


def test_the_outbox_recognises_a_message_it_already_holds(
    demo: Engine, settings: Settings, tmp_path: Path
) -> None:
    """A row caught in `sending` by a crash after the outbox took its message: the re-send
    finds the file of that Message-ID and writes nothing: exactly once."""
    emails = add_contacts(demo, "amsterdam", 3, tag="exactly")
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", "exactly"))
    snapshot(demo, pcid)
    outbox = OutboxTransport(tmp_path / "outbox", demo)
    assert delivery.send_batch(demo, settings, outbox, pcid, 500).sent == 3
    with Session(demo) as s:
        row = s.exec(
            select(Delivery).where(Delivery.partner_campaign_id == pcid).order_by(col(Delivery.id))
        ).first()
        assert row is not None
        row.status = "sending"  # as if the worker died before marking it sent
        s.add(row)
        s.commit()
    again = delivery.send_batch(demo, settings, outbox, pcid, 500)
    assert again.sent == 1 and ledger(demo, pcid)["sent"] == 3
    assert sorted(str(m["To"]) for m in outbox.list_messages()) == sorted(emails)
    with Session(demo) as s:
        rows = s.exec(select(OutboxMessage).where(OutboxMessage.partner_campaign_id == pcid)).all()
    assert len(rows) == 3


# Through the API --------------------------------------------------------------------------------


async def test_approved_campaign_is_sent_at_send_at_to_its_segment(
    app_with_worker: httpx.AsyncClient,
    login: Login,
    demo: Engine,
    workflow_env: WorkflowEnvironment,
    settings: Settings,
) -> None:
    from tests.campaigns.test_campaign_workflows import CLOCK, ENV, act, finish, launched, values

    api = app_with_worker
    ENV[:] = [workflow_env]
    CLOCK[:] = [max(await workflow_env.get_current_time(), datetime.now(UTC))]
    emails = add_contacts(demo, "amsterdam", 6, tag="chain")
    add_contacts(demo, "amsterdam", 2, tag="chain", consent="denied")
    segment_id = make_segment(demo, "amsterdam", "chain")
    other_segment = make_segment(demo, "berlin", "chain")
    cid, pcid = await launched(api, login, demo)

    saved = await act(api, login, EDITOR_AMS, pcid, "content", values=values())
    assert saved.status_code == 200, saved.text
    foreign = await act(api, login, EDITOR_AMS, pcid, "submit", segment_id=other_segment)
    assert foreign.status_code == 422 and "segment_id" in foreign.text
    submitted = await act(api, login, EDITOR_AMS, pcid, "submit", segment_id=segment_id)
    assert submitted.status_code == 200, submitted.text

    seen = (await api.get(f"/api/v1/partner-campaigns/{pcid}", headers=login(GM_AMS))).json()
    assert seen["segment_id"] == segment_id
    assert seen["audience"] == {
        "matching": 8,
        "eligible": 6,
        "suppressed": 0,
        "no_consent": 2,
        "eligible_email": 6,
        "eligible_sms": 0,
    }
    approved = await act(api, login, GM_AMS, pcid, "decision", decision="approve")
    assert approved.status_code == 200, approved.text
    now = await workflow_env.get_current_time()
    send_at = (now + timedelta(days=1)).isoformat()
    scheduled = await act(api, login, EDITOR_AMS, pcid, "schedule", send_at=send_at)
    assert scheduled.json()["state"] == "scheduled", scheduled.text

    await workflow_env.sleep(timedelta(days=1, minutes=1))
    for _ in range(200):
        row = (await api.get(f"/api/v1/partner-campaigns/{pcid}", headers=login(GM_AMS))).json()
        if row["state"] in ("sent", "partially_sent"):
            break
        await asyncio.sleep(0.05)
    assert row["state"] == "sent", row
    progress = await api.get(f"/api/v1/partner-campaigns/{pcid}/delivery", headers=login(GM_AMS))
    body = progress.json()
    assert body["counts"]["sent"] == 6 and body["queued"] == 0 and body["progress"] == 1.0
    hidden = await api.get(f"/api/v1/partner-campaigns/{pcid}/delivery", headers=login(GM_BERLIN))
    assert hidden.status_code == 404
    with Session(demo) as s:
        sent_to = set(
            s.exec(
                select(Delivery.email).where(
                    Delivery.partner_campaign_id == pcid, Delivery.status == "sent"
                )
            ).all()
        )
    assert sent_to == set(emails)
    # The send carries its partner campaign's attributes and names it (send-search-attributes).
    with Session(demo) as s:
        ams = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one()
    described = await workflow_env.client.get_workflow_handle(send_workflow_id(pcid)).describe()
    attributes = {
        k.name: v for k, v in ((p.key, p.value) for p in described.typed_search_attributes)
    }
    attributes.pop("TemporalChangeVersion", None)  # the SDK's record of patches
    assert attributes == {
        "CampaignId": str(cid),
        "PartnerId": str(ams.id),
        "RegionId": str(ams.region_id),
        "Channel": "email",
    }
    summary = await described.static_summary()
    assert summary is not None and "Northwind Fitness Amsterdam" in summary
    assert f"CampaignId {cid}" in (await described.static_details() or "")
    await finish(api, login, demo, cid)


def test_erasing_a_contact_anonymises_its_deliveries_and_it_is_not_sent(
    demo: Engine, settings: Settings
) -> None:
    from services.contacts import erase_contact

    emails = add_contacts(demo, "amsterdam", 2, tag="erase")
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", "erase"))
    snapshot(demo, pcid)
    with Session(demo) as s:
        contact = s.exec(select(Contact).where(Contact.email == emails[0])).one()
        erase_contact(s, contact)
        s.commit()
        rows = s.exec(select(Delivery).where(Delivery.partner_campaign_id == pcid)).all()
    assert emails[0] not in {r.email for r in rows}
    assert sum(1 for r in rows if r.contact_id is None and r.email == "") == 1
    transport = ScriptedTransport()
    result = send_all(demo, settings, transport, pcid)
    assert (result.sent, result.suppressed) == (1, 1)
    assert transport.to() == [emails[1]]


class ThrottlingTransport(ScriptedTransport):
    """Every third call is refused as throttled (SES's "Maximum sending rate exceeded")."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def send(self, msg: EmailMessage, *, tags: Tags | None = None) -> str:
        self.calls += 1
        if self.calls % 3 == 0:
            raise ThrottledError("ses.Throttling", "Maximum sending rate exceeded", 1.0)
        return super().send(msg, tags=tags)


async def test_throttling_on_every_third_call_still_sends_everyone_exactly_once(
    workflow_env: WorkflowEnvironment,
    demo: Engine,
    delivery_worker: Callable[[ScriptedTransport], Any],
) -> None:
    emails = add_contacts(demo, "amsterdam", 12, tag="throttle")
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", "throttle"))
    transport = ThrottlingTransport()
    queue, worker = delivery_worker(transport)
    async with worker:
        result: SendResult = await workflow_env.client.execute_workflow(
            SendWorkflow.run,
            send_input(pcid, queue, batch_size=5),
            id=f"send-test-{uuid.uuid4().hex[:6]}",
            task_queue=queue,
        )
    assert result.outcome == "sent" and result.counts["sent"] == 12
    assert sorted(transport.to()) == sorted(emails)  # once each, none lost
    assert transport.calls > 12  # the throttled calls were retried


@pytest.mark.parametrize(
    "name",
    [
        "send_paused_resumed",
        "send_poisoned_rows",
        "send_fault_resumed",
        "send_late_stopped",
        "send_sms_quiet_hours",
    ],
)
async def test_saved_send_histories_replay(name: str) -> None:
    """`send_paused_resumed` was recorded before rows and faults were told apart (and must
    keep replaying while such sends can run); the others cover the newer paths
    (`send_late_stopped`: a send that started after its deadline and stopped)."""
    from temporalio.client import WorkflowHistory
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.worker import Replayer

    history = WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text())
    await Replayer(
        workflows=[SendWorkflow], data_converter=pydantic_data_converter
    ).replay_workflow(history)
