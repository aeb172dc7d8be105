"""Notification emails for partner campaigns: composition and transports, recipients per notice
kind, at-most-once sending, escaping, and the signed one-click decision links (the page, the
refusals, and a real GM approval through the workflow)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from moto import mock_aws
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.testing import WorkflowEnvironment

from activities.notifications import SENT_ACTION, send_partner_notice
from api.routers import ROUTERS
from api.routers.action_links import router as action_links_router
from approvals.policy import Approver, ApproverRole, Rule
from approvals.views import StageView
from core.settings import EmailTransport, Settings
from mail.message import HeaderInjection, compose
from mail.transport import OutboxTransport, SesTransport, SmtpTransport, make_transport
from models.audit import AuditEvent
from models.campaigns import Campaign, PartnerCampaign
from models.org import Membership, Partner, Region, User, as_profile
from models.templates import Template, TemplateVersion
from models.workflow_io import PartnerNotice, PartnerRef
from services.action_links import make_link, make_token, read_token
from services.notifications import UnknownNotice, plan, recipients

SENDER = "Brandrelay <no-reply@brandrelay.example>"
MARKETING = "marketing@northwind.example"
REVIEWER = "brand@northwind.example"
EDITOR_AMS = "editor.amsterdam@northwind.example"
GM_AMS = "gm.amsterdam@northwind.example"
NORTH = "north@northwind.example"
SCRIPT = "<script>alert(1)</script>"
Login = Callable[[str], dict[str, str]]


def _mount(app: FastAPI) -> None:
    """Until api/routers/__init__.py lists the router, the tests mount it themselves."""
    if action_links_router not in ROUTERS:
        app.include_router(action_links_router)


def _parts(msg: EmailMessage) -> tuple[str, str]:
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert isinstance(text, EmailMessage) and isinstance(html, EmailMessage)
    return str(text.get_content()), str(html.get_content())


# mail/ -----------------------------------------------------------------------------------------


def test_outbox_writes_parseable_eml(tmp_path: Path) -> None:
    outbox = OutboxTransport(tmp_path / "outbox")
    assert outbox.list_messages() == []
    first = compose(
        sender=SENDER,
        to=["Jörg Müller <joerg@example.com>"],
        subject="Ready for “review”",
        text="Plain words.",
        html="<p>Rich words.</p>",
    )
    second = compose(sender=SENDER, to=["b@example.com"], subject="Second", text="Two")
    ids = [outbox.send(first), outbox.send(second)]
    assert ids[0] == first["Message-ID"] and ids[0] != ids[1]

    files = outbox.paths()
    assert len(files) == 2 and all(p.suffix == ".eml" for p in files)
    assert not list((tmp_path / "outbox").glob(".*.tmp")), "a temporary file was left behind"
    got = outbox.list_messages()
    assert [m["Subject"] for m in got] == ["Ready for “review”", "Second"]  # sending order
    assert got[0]["To"].addresses[0].display_name == "Jörg Müller"
    assert got[0]["To"].addresses[0].addr_spec == "joerg@example.com"
    assert got[0]["Message-ID"] == ids[0]
    assert got[0]["Date"] is not None
    text, html = _parts(got[0])
    assert text.strip() == "Plain words."
    assert html.strip() == "<p>Rich words.</p>"
    assert got[1].get_body(preferencelist=("html",)) is None


@pytest.mark.parametrize(
    "field, value",
    [
        ("subject", "Hello\r\nBcc: victim@example.com"),
        ("subject", "Hello\nX-Injected: 1"),
        ("to", "a@example.com\r\nBcc: victim@example.com"),
        ("to", "Name\n <a@example.com>"),
        ("sender", "no-reply@brandrelay.example\rBcc: victim@example.com"),
    ],
)
def test_header_injection_is_refused(field: str, value: str) -> None:
    fields: dict[str, Any] = {"sender": SENDER, "to": ["a@example.com"], "subject": "Hi"}
    fields[field] = [value] if field == "to" else value
    with pytest.raises(HeaderInjection):
        compose(text="body", **fields)


def test_extra_headers_and_addresses_are_checked() -> None:
    with pytest.raises(HeaderInjection):
        compose(sender=SENDER, to=["a@example.com"], subject="s", text="t", headers={"X": "a\nb"})
    with pytest.raises(ValueError, match="cannot be set"):
        compose(sender=SENDER, to=["a@example.com"], subject="s", text="t", headers={"Bcc": "x"})
    with pytest.raises(ValueError, match="not an email address"):
        compose(sender=SENDER, to=["not an address"], subject="s", text="t")


class _FakeSmtp:
    log: list[str] = []

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.log.append(f"connect {host}:{port}")

    def quit(self) -> None:
        self.log.append("quit")

    def close(self) -> None:
        self.log.append("close")

    def starttls(self, context: object) -> None:
        self.log.append("starttls")

    def login(self, user: str, password: str) -> None:
        self.log.append(f"login {user}:{password}")

    def send_message(self, msg: EmailMessage) -> dict[str, object]:
        self.log.append(f"send {msg['To']}")
        return {}


def test_make_transport_smtp_uses_starttls_and_auth(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mail.transport.smtplib.SMTP", _FakeSmtp)
    _FakeSmtp.log = []
    smtp = settings.model_copy(
        update={
            "email_transport": EmailTransport.smtp,
            "smtp_host": "relay.example",
            "smtp_port": 587,
            "smtp_username": "mailer",
            "smtp_password": SecretStr("pw"),
            "smtp_starttls": True,
        }
    )
    transport = make_transport(smtp)
    assert isinstance(transport, SmtpTransport)
    msg = compose(sender=SENDER, to=["a@example.com"], subject="s", text="t")
    assert transport.send(msg) == msg["Message-ID"]
    assert _FakeSmtp.log == [
        "connect relay.example:587",
        "starttls",
        "login mailer:pw",
        "send a@example.com",
        "quit",
    ]
    assert isinstance(make_transport(settings), OutboxTransport)


def test_ses_transport_sends_the_raw_message(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    ses = settings.model_copy(update={"email_transport": EmailTransport.ses})
    msg = compose(sender=SENDER, to=["a@example.com"], subject="Raw", text="t", html="<p>t</p>")
    with mock_aws():
        boto3.client("ses", region_name=ses.aws_region).verify_email_identity(
            EmailAddress="no-reply@brandrelay.example"
        )
        transport = make_transport(ses)
        assert isinstance(transport, SesTransport)
        assert transport.send(msg)

    class Recorder:
        calls: list[dict[str, Any]] = []

        def send_email(self, **kwargs: Any) -> dict[str, str]:
            self.calls.append(kwargs)
            return {"MessageId": "ses-1"}

    recorder = Recorder()
    assert SesTransport(recorder, "tracking").send(msg) == "ses-1"
    [call] = recorder.calls
    assert call["ConfigurationSetName"] == "tracking"
    raw = call["Content"]["Raw"]["Data"]
    assert b"Subject: Raw\r\n" in raw and b"multipart/alternative" in raw


# Recipients and composition --------------------------------------------------------------------


def _user(engine: Engine, email: str) -> User:
    with Session(engine) as s:
        user = s.exec(select(User).where(User.email == email)).one()
        s.expunge(user)
        return user


def _ids(engine: Engine, *emails: str) -> set[int]:
    return {_user(engine, e).id or 0 for e in emails}


GM_STAGE = [Approver(role=ApproverRole.partner_gm)]
REGION = [Approver(role=ApproverRole.region_manager)]
HQ_STAGE = [Approver(role=ApproverRole.brand_reviewer)]


def _stage(name: str, submitter: int | None, *, escalated: bool = False) -> StageView:
    """The waiting stage of a built-in policy, as the chain projects it into notices."""
    approvers = GM_STAGE if name == "gm" else HQ_STAGE
    return StageView(
        policy="gm_then_hq",
        name=name,
        label=name,
        index=0 if name == "gm" else 1,
        of=2,
        approvers=approvers + (REGION if escalated else []),
        rule=Rule.any,
        required=1,
        approvals=0,
        excluded_user_ids=[submitter] if submitter else [],
        escalated=escalated,
        escalated_to=REGION if escalated else [],
    )


def _row(
    engine: Engine,
    *,
    state: str = "pending_approval",
    stage: str = "gm",
    submitted_by: str | None = EDITOR_AMS,
    name: str = "Open day spring",
) -> tuple[PartnerNotice, PartnerCampaign]:
    """An Amsterdam partner campaign row (no workflow) and a notice template for it; while
    pending approval, waiting at `stage` of the built-in chain."""
    now = datetime.now(UTC)
    with Session(engine) as s:
        version = s.exec(
            select(TemplateVersion)
            .join(Template, col(Template.id) == col(TemplateVersion.template_id))
            .where(Template.name == "Open day")
        ).one()
        partner = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one()
        author = s.exec(select(User).where(User.email == MARKETING)).one()
        submitter = (
            s.exec(select(User).where(User.email == submitted_by)).one() if submitted_by else None
        )
        campaign = Campaign(
            brand_id=partner.brand_id,
            name=name,
            template_version_id=version.id or 0,
            personalise_until=now + timedelta(days=3),
            send_by=now + timedelta(days=10),
            created_by=author.id or 0,
            state="running",
        )
        s.add(campaign)
        s.flush()
        row = PartnerCampaign(
            campaign_id=campaign.id or 0,
            brand_id=partner.brand_id,
            region_id=partner.region_id,
            partner_id=partner.id or 0,
            state=state,
            approval_stage=stage if state == "pending_approval" else None,
            submitted_by=submitter.id if submitter else None,
            workflow_id=f"partner-campaign-{campaign.id}-{partner.id}",
        )
        s.add(row)
        s.commit()
        notice = PartnerNotice(
            kind="approval_pending",
            key=f"{row.workflow_id}:3:approval_pending",
            campaign_id=campaign.id or 0,
            campaign_name=name,
            brand_id=partner.brand_id,
            partner=PartnerRef(
                partner_campaign_id=row.id or 0,
                partner_id=partner.id or 0,
                region_id=partner.region_id,
                profile=as_profile(partner),
            ),
            stage=state,
            due_at=now + timedelta(days=2),
            approval=_stage(stage, submitter.id if submitter else None)
            if state == "pending_approval"
            else None,
        )
        s.expunge(row)
        return notice, row


def _deciding_reviewers(engine: Engine) -> dict[int, bool]:
    with Session(engine) as s:
        ids = s.exec(select(Membership.user_id).where(Membership.role == "brand_reviewer")).all()
    return {i: True for i in ids}


def _who(engine: Engine, notice: PartnerNotice) -> dict[int, bool]:
    """user id -> may decide (gets one-click links)."""
    with Session(engine) as s:
        return {r.user_id: r.may_decide for r in recipients(s, notice)}


def test_recipients_per_kind(demo: Engine) -> None:
    gm, editor, north = (
        _ids(demo, GM_AMS).pop(),
        _ids(demo, EDITOR_AMS).pop(),
        _ids(demo, NORTH).pop(),
    )
    drafting, _ = _row(demo, state="drafting", submitted_by=None)
    for kind in ("invited", "changes_requested"):
        notice = drafting.model_copy(update={"kind": kind, "stage": "drafting"})
        assert _who(demo, notice) == {editor: False, gm: False}, kind

    pending, _ = _row(demo)
    assert _who(demo, pending) == {gm: True}
    reminder = pending.model_copy(update={"kind": "reminder"})
    assert _who(demo, reminder) == {gm: True}
    escalated_stage = _stage("gm", editor, escalated=True)
    late = reminder.model_copy(update={"escalation_level": 1, "approval": escalated_stage})
    assert _who(demo, late) == {gm: True, north: True}
    escalated = late.model_copy(update={"kind": "escalated"})
    assert _who(demo, escalated) == {north: True}  # the people the escalation added

    hq, _ = _row(demo, stage="hq", submitted_by=EDITOR_AMS)
    assert _who(demo, hq) == _deciding_reviewers(demo)
    hq_reminder = hq.model_copy(update={"kind": "reminder"})
    assert _who(demo, hq_reminder) == _deciding_reviewers(demo)


def test_four_eyes_stale_notices_inactive_users_and_unknown_kinds(demo: Engine) -> None:
    gm, editor = _ids(demo, GM_AMS).pop(), _ids(demo, EDITOR_AMS).pop()
    own, _ = _row(demo, submitted_by=GM_AMS)
    assert _who(demo, own) == {gm: False}, "the submitter gets no approve link"

    decided, _ = _row(demo, state="approved")
    stale = decided.model_copy(update={"stage": "pending_approval", "approval": _stage("gm", None)})
    assert _who(demo, stale) == {}
    _, other = _row(demo, stage="hq")
    moved_on = own.model_copy(
        update={"partner": own.partner.model_copy(update={"partner_campaign_id": other.id})}
    )
    assert _who(demo, moved_on) == {}, "the gm stage is over: the row waits at hq"

    invited, _ = _row(demo, state="drafting", submitted_by=None)
    invited = invited.model_copy(update={"kind": "invited", "stage": "drafting"})
    with Session(demo) as s:
        user = s.get(User, editor)
        assert user is not None
        user.is_active = False
        s.add(user)
        s.commit()
    assert _who(demo, invited) == {gm: False}

    with Session(demo) as s, pytest.raises(UnknownNotice):
        recipients(s, invited.model_copy(update={"kind": "party"}))


def test_messages_escape_what_users_typed(demo: Engine, settings: Settings) -> None:
    notice, _ = _row(demo, state="drafting", submitted_by=None, name="Spring <b>sale</b>")
    notice = notice.model_copy(
        update={"kind": "changes_requested", "stage": "changes_requested", "comment": SCRIPT}
    )
    with Session(demo) as s:
        out = plan(s, settings, notice)
    assert {o.recipient.user_id for o in out} == _ids(demo, EDITOR_AMS, GM_AMS)
    msg = out[0].message
    # Amsterdam's people read Dutch (their partner's language, services.preferences).
    assert (
        msg["Subject"] == "Wijzigingen gevraagd: Spring <b>sale</b> (Northwind Fitness Amsterdam)"
    )
    assert msg["Auto-Submitted"] == "auto-generated"
    text, html = _parts(msg)
    assert SCRIPT in text and "Spring <b>sale</b>" in text
    assert "<script>" not in html and "<b>sale" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Spring &lt;b&gt;sale&lt;/b&gt;" in html
    portal = f"{settings.public_base_url}/portal-link/"  # each editor's own sign-in link
    assert portal in text and portal in html
    assert "(Europe/Amsterdam)" in text  # the due time, in the partner's time zone
    assert "/a/" not in text, "editors get no decision links"


def test_decision_messages_carry_links_for_the_decider(demo: Engine, settings: Settings) -> None:
    notice, row = _row(demo)
    with Session(demo) as s:
        [gm_message] = plan(s, settings, notice)
    text, html = _parts(gm_message.message)
    links = [w for w in text.split() if "/a/" in w]
    assert len(links) == 2
    tokens = [read_token(settings, link.rsplit("/a/", 1)[1]) for link in links]
    assert [(t.action, t.user_id, t.partner_campaign_id) for t in tokens if t] == [
        ("approve", gm_message.recipient.user_id, row.id),
        ("request_changes", gm_message.recipient.user_id, row.id),
    ]
    assert all(link.replace("&", "&amp;") in html for link in links)


# At most once ----------------------------------------------------------------------------------


class FlakyTransport:
    """Fails on the n-th send (1-based), to retry an activity that half-succeeded."""

    def __init__(self, inner: OutboxTransport, fail_on: int | None = None) -> None:
        self.inner, self.fail_on, self.calls = inner, fail_on, 0

    def send(self, msg: EmailMessage, *, tags: dict[str, str] | None = None) -> str:
        self.calls += 1
        if self.calls == self.fail_on:
            raise ConnectionError("relay went away")
        return self.inner.send(msg, tags=tags)


def _sent_markers(engine: Engine, pc_id: int) -> list[str]:
    with Session(engine) as s:
        return list(
            s.exec(
                select(AuditEvent.event_key).where(
                    AuditEvent.action == SENT_ACTION, AuditEvent.entity_id == str(pc_id)
                )
            ).all()
        )


def test_sending_twice_sends_once(demo: Engine, settings: Settings, tmp_path: Path) -> None:
    notice, row = _row(demo)
    escalated = _stage("gm", row.submitted_by, escalated=True)
    notice = notice.model_copy(
        update={"kind": "reminder", "escalation_level": 1, "approval": escalated}
    )  # GM + North
    outbox = OutboxTransport(tmp_path / "outbox")

    flaky = FlakyTransport(outbox, fail_on=2)
    with pytest.raises(ConnectionError):
        send_partner_notice(demo, settings, flaky, notice)
    assert len(outbox.paths()) == 1 and len(_sent_markers(demo, row.id or 0)) == 1

    assert send_partner_notice(demo, settings, FlakyTransport(outbox), notice) == 1  # the rest
    assert send_partner_notice(demo, settings, FlakyTransport(outbox), notice) == 0
    recipients_seen = sorted(a.addr_spec for m in outbox.list_messages() for a in m["To"].addresses)
    assert recipients_seen == sorted([GM_AMS, NORTH])
    assert sorted(_sent_markers(demo, row.id or 0)) == sorted(
        f"notice:{notice.key}:{uid}" for uid in _ids(demo, GM_AMS, NORTH)
    )

    # Another notice (a new key) is news again.
    again = notice.model_copy(update={"key": notice.key + "-2"})
    assert send_partner_notice(demo, settings, outbox, again) == 2


# Action links ----------------------------------------------------------------------------------


def test_tokens_refuse_tampering_expiry_and_other_keys(settings: Settings) -> None:
    token = make_token(settings, 12, 34, "approve")
    parsed = read_token(settings, token)
    assert parsed is not None
    assert (parsed.partner_campaign_id, parsed.user_id, parsed.action) == (12, 34, "approve")
    assert make_link(settings, 12, 34, "approve").startswith(f"{settings.public_base_url}/a/")

    body, sig = token.split(".")
    other_body = make_token(settings, 13, 34, "approve").split(".")[0]
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    for bad in (f"{other_body}.{sig}", f"{body}.{flipped}", body, f"{body}.", "", "x" * 600):
        assert read_token(settings, bad) is None, bad

    past = datetime.now(UTC) - timedelta(days=8)
    assert read_token(settings, make_token(settings, 12, 34, "approve", now=past)) is None
    assert read_token(settings, make_token(settings, 12, 34, "approve", timedelta(0))) is None
    other_key = settings.model_copy(
        update={"secret_key": SecretStr("another-secret-key-of-some-length")}
    )
    assert read_token(other_key, token) is None
    with pytest.raises(ValueError):
        make_token(settings, 12, 34, "reject")


@pytest.fixture
def pages(client: TestClient, demo: Engine) -> Iterator[TestClient]:
    """The one-click pages, read in English: every demo user chose English (the pages speak
    the GM's language, tests/campaigns/test_one_click_preview.py)."""
    app = client.app
    assert isinstance(app, FastAPI)
    _mount(app)
    _in_english(demo)
    yield client


def _in_english(engine: Engine) -> None:
    with Session(engine) as s:
        for user in s.exec(select(User)).all():
            user.locale = "en"
            s.add(user)
        s.commit()


def _audit_count(engine: Engine) -> int:
    with Session(engine) as s:
        return len(s.exec(select(AuditEvent.id)).all())


def test_get_shows_a_page_and_changes_nothing(
    pages: TestClient, demo: Engine, settings: Settings
) -> None:
    _, row = _row(demo, name=f"Open day {SCRIPT}")
    gm = _user(demo, GM_AMS)
    before = _audit_count(demo)
    for action, button in (("approve", "Approve"), ("request_changes", "Request changes")):
        token = make_token(settings, row.id or 0, gm.id or 0, action)
        resp = pages.get(f"/a/{token}")
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"].startswith("text/html")
        assert resp.headers["Referrer-Policy"] == "no-referrer"
        assert resp.headers["Cache-Control"] == "no-store"
        assert '<form method="post">' in resp.text and f">{button}</button>" in resp.text
        assert "Northwind Fitness Amsterdam" in resp.text
        assert SCRIPT not in resp.text and "&lt;script&gt;" in resp.text
    assert " required>" in resp.text  # request_changes needs a comment
    with Session(demo) as s:
        after = s.get(PartnerCampaign, row.id)
        assert after is not None and after.state == "pending_approval" and after.decided_by is None
    assert _audit_count(demo) == before


def test_get_on_a_decided_campaign_offers_no_form(
    pages: TestClient, demo: Engine, settings: Settings
) -> None:
    _, row = _row(demo, state="approved")
    token = make_token(settings, row.id or 0, _user(demo, GM_AMS).id or 0, "approve")
    resp = pages.get(f"/a/{token}")
    assert resp.status_code == 200 and "<form" not in resp.text
    assert "nothing waits for a decision" in resp.text


def test_invalid_expired_or_disabled_links_are_403(
    pages: TestClient, demo: Engine, settings: Settings
) -> None:
    _, row = _row(demo)
    gm = _user(demo, GM_AMS)
    good = make_token(settings, row.id or 0, gm.id or 0, "approve")
    expired = make_token(
        settings, row.id or 0, gm.id or 0, "approve", now=datetime.now(UTC) - timedelta(days=30)
    )
    for token in (good[:-3] + "AAA", expired, "not-a-token"):
        for resp in (pages.get(f"/a/{token}"), pages.post(f"/a/{token}", data={"comment": "x"})):
            assert resp.status_code == 403, resp.text
            assert "invalid or has expired" in resp.text
            assert resp.headers["content-type"].startswith("text/html")
    with Session(demo) as s:
        user = s.get(User, gm.id)
        assert user is not None
        user.is_active = False
        s.add(user)
        s.commit()
    assert pages.post(f"/a/{good}", data={}).status_code == 403
    with Session(demo) as s:
        after = s.get(PartnerCampaign, row.id)
        assert after is not None and after.state == "pending_approval"


# A real approval through the workflow ----------------------------------------------------------


async def _until(check: Callable[[], bool], what: str, seconds: float = 15) -> None:
    for _ in range(int(seconds * 20)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _state(engine: Engine, pc_id: int) -> str:
    with Session(engine) as s:
        row = s.get(PartnerCampaign, pc_id)
        assert row is not None
        return row.state


async def test_post_approves_through_the_workflow(
    app_with_worker: httpx.AsyncClient,
    workflow_env: WorkflowEnvironment,
    login: Login,
    demo: Engine,
    settings: Settings,
) -> None:
    api = app_with_worker
    transport = api._transport
    assert isinstance(transport, httpx.ASGITransport) and isinstance(transport.app, FastAPI)
    _mount(transport.app)
    _in_english(demo)

    now = max(await workflow_env.get_current_time(), datetime.now(UTC))
    with Session(demo) as s:
        version = s.exec(
            select(TemplateVersion)
            .join(Template, col(Template.id) == col(TemplateVersion.template_id))
            .where(Template.name == "Open day")
        ).one()
        north = s.exec(select(Region).where(Region.name == "North")).one()
        author = s.exec(select(User).where(User.email == MARKETING)).one()
        campaign = Campaign(
            brand_id=version.brand_id,
            name="Open day by email",
            template_version_id=version.id or 0,
            target={"regions": [north.id]},
            personalise_until=now + timedelta(days=3),
            send_by=now + timedelta(days=10),
            remind_after=86400,
            escalate_after=2 * 86400,
            created_by=author.id or 0,
        )
        s.add(campaign)
        s.commit()
        cid = campaign.id or 0
    launched = await api.post(f"/api/v1/campaigns/{cid}/launch", headers=login(MARKETING))
    assert launched.status_code == 200, launched.text
    try:
        with Session(demo) as s:
            amsterdam = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one()
            pc_id = s.exec(
                select(PartnerCampaign.id).where(
                    PartnerCampaign.campaign_id == cid,
                    PartnerCampaign.partner_id == amsterdam.id,
                )
            ).one()
        assert pc_id is not None
        await _until(lambda: _state(demo, pc_id) == "drafting", "drafting")
        url = f"/api/v1/partner-campaigns/{pc_id}"
        content = {
            "headline": "Open day in Amsterdam",
            "event_date": (now + timedelta(days=8)).date().isoformat(),
        }
        saved = await api.put(f"{url}/content", json={"values": content}, headers=login(EDITOR_AMS))
        assert saved.status_code == 200, saved.text
        submitted = await api.post(f"{url}/submit", headers=login(EDITOR_AMS))
        assert submitted.status_code == 200, submitted.text
        assert _state(demo, pc_id) == "pending_approval"

        # A link is no more than its user's roles: the editor may not decide at all, and the
        # region manager (who may decide) is refused by the workflow before escalation.
        editor_link = make_token(settings, pc_id, _user(demo, EDITOR_AMS).id or 0, "approve")
        refused = await api.post(f"/a/{editor_link}", data={"comment": ""})
        assert refused.status_code == 403 and "partner_campaign.decide" in refused.text
        north_link = make_token(settings, pc_id, _user(demo, NORTH).id or 0, "approve")
        early = await api.post(f"/a/{north_link}", data={"comment": ""})
        assert early.status_code == 403 and "Only the partner&#39;s GM decides" in early.text
        assert _state(demo, pc_id) == "pending_approval"
        # Asking for changes needs a comment, as in the API.
        gm_id = _user(demo, GM_AMS).id or 0
        changes = make_token(settings, pc_id, gm_id, "request_changes")
        missing = await api.post(f"/a/{changes}", data={"comment": "  "})
        assert missing.status_code == 422 and "comment" in missing.text

        approve = make_token(settings, pc_id, gm_id, "approve")
        page = await api.get(f"/a/{approve}")
        assert page.status_code == 200 and _state(demo, pc_id) == "pending_approval"
        done = await api.post(f"/a/{approve}", data={"comment": "Looks good"})
        assert done.status_code == 200, done.text
        assert "is now approved" in done.text
        with Session(demo) as s:
            row = s.get(PartnerCampaign, pc_id)
            assert row is not None
            assert (row.state, row.decided_by, row.decision_comment) == (
                "approved",
                gm_id,
                "Looks good",
            )
        again = await api.post(f"/a/{approve}", data={})
        assert again.status_code == 409 and "Nothing was changed" in again.text
    finally:
        # Cancel and wait for the workflow to close: the next test's database reuses the ids.
        await api.post(f"/api/v1/campaigns/{cid}/cancel", headers=login(MARKETING))
        handle = workflow_env.client.get_workflow_handle(f"campaign-{cid}")
        await asyncio.wait_for(handle.result(), timeout=30)


def _decision_links(settings: Settings, campaign_name: str, to: str) -> list[str]:
    """The one-click links of every decision email about `campaign_name` sent to `to`."""
    found = []
    for msg in OutboxTransport(settings.data_dir / "outbox").list_messages():
        text = msg.get_body(("plain",))
        if to not in str(msg["To"]) or text is None or campaign_name not in str(msg["Subject"]):
            continue
        found += [w for w in str(text.get_content()).split() if "/a/" in w]
    return found


async def test_a_link_from_before_a_resubmission_decides_nothing(
    app_with_worker: httpx.AsyncClient,
    workflow_env: WorkflowEnvironment,
    login: Login,
    demo: Engine,
    settings: Settings,
) -> None:
    """Before, the GM's old "approve" approved content the GM never saw: the editor changed
    it and submitted again after the email went out. A link now names its submission."""
    from tests.campaigns.test_campaign_workflows import CLOCK, ENV, act, finish, launched, values

    api = app_with_worker
    transport = api._transport
    assert isinstance(transport, httpx.ASGITransport) and isinstance(transport.app, FastAPI)
    _mount(transport.app)
    _in_english(demo)
    ENV[:] = [workflow_env]
    CLOCK[:] = [max(await workflow_env.get_current_time(), datetime.now(UTC))]
    name = f"Resubmitted {datetime.now(UTC).timestamp():.0f}"
    cid, pc_id = await launched(api, login, demo, name=name)
    try:
        assert (await act(api, login, EDITOR_AMS, pc_id, "content", values=values())).is_success
        assert (await act(api, login, EDITOR_AMS, pc_id, "submit")).is_success
        await _until(lambda: bool(_decision_links(settings, name, GM_AMS)), "the GM's email")
        old_approve = _decision_links(settings, name, GM_AMS)[0].rsplit("/a/", 1)[1]
        token = read_token(settings, old_approve)
        assert token is not None and (token.action, token.revision) == ("approve", 1)

        changes = await act(
            api, login, GM_AMS, pc_id, "decision", decision="request_changes", comment="Date?"
        )
        assert changes.is_success, changes.text
        edited = {**values(), "headline": "Open day, new date"}
        assert (await act(api, login, EDITOR_AMS, pc_id, "content", values=edited)).is_success
        assert (await act(api, login, EDITOR_AMS, pc_id, "submit")).is_success
        assert _state(demo, pc_id) == "pending_approval"

        page = await api.get(f"/a/{old_approve}")
        assert page.status_code == 200 and "content has changed" in page.text
        refused = await api.post(f"/a/{old_approve}", data={"comment": ""})
        assert refused.status_code == 409 and "content has changed" in refused.text
        unnamed = make_token(settings, pc_id, _user(demo, GM_AMS).id or 0, "approve")
        assert (await api.post(f"/a/{unnamed}", data={})).status_code == 409
        assert _state(demo, pc_id) == "pending_approval"
        stale_api = await act(api, login, GM_AMS, pc_id, "decision", decision="approve", revision=1)
        assert stale_api.status_code == 409 and _state(demo, pc_id) == "pending_approval"

        await _until(lambda: len(_decision_links(settings, name, GM_AMS)) >= 4, "the new email")
        newest = [
            read_token(settings, u.rsplit("/a/", 1)[1])
            for u in _decision_links(settings, name, GM_AMS)
        ]
        fresh = next(
            u.rsplit("/a/", 1)[1]
            for u, t in zip(_decision_links(settings, name, GM_AMS), newest, strict=True)
            if t is not None and t.revision == 2 and t.action == "approve"
        )
        done = await api.post(f"/a/{fresh}", data={"comment": "Seen the new date"})
        assert done.status_code == 200 and "is now approved" in done.text
    finally:
        await finish(api, login, demo, cid)
