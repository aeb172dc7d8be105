"""The ClaimWorkflow on the time-skipping server with real activities, database and API: the
GM adds a local invoice and confirms, HQ approves, finance records the payment and the ledger
shows it paid; rejection; reminders before the claim window closes and expiry after; who may do
what, and another partner's claim is a 404."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from core.security import issue_access_token
from core.settings import Settings
from domain.money import LedgerKind
from models.approvals import Delegation
from models.audit import AuditEvent
from models.claim_io import ClaimStart
from models.claims import Claim
from models.funds import FundLedgerEntry
from models.org import User
from models.outbox import OutboxMessage
from services.audit import verify_chain
from services.claims import starter
from services.funds.ledger import balance
from storage.local import LocalBlobStore
from tests.campaigns.test_campaign_workflows import until
from tests.claims.conftest import Running, sent_campaign
from workflows.claim import ClaimWorkflow

Record = Callable[[str, str], Awaitable[None]]
HISTORIES = Path(__file__).parent.parent / "histories"
GM = "gm.amsterdam@northwind.example"
EDITOR = "editor.amsterdam@northwind.example"
GM_BERLIN = "gm.berlin@northwind.example"
REVIEWER = "brand@northwind.example"
ADMIN = "admin@northwind.example"
PDF = b"%PDF-1.4\n% a local invoice\n"


def auth(engine: Engine, settings: Settings, email: str) -> dict[str, str]:
    with Session(engine) as s:
        user = s.exec(select(User).where(User.email == email)).one()
    token = issue_access_token(
        settings.secret_key.get_secret_value(),
        user.id or 0,
        settings.access_token_ttl,
        generation=user.session_generation,
    )
    return {"Authorization": f"Bearer {token}"}


def row(engine: Engine, claim_id: int) -> Claim:
    with Session(engine) as s:
        claim = s.get(Claim, claim_id)
        assert claim is not None
        s.expunge(claim)
        return claim


def actions(engine: Engine, claim_id: int) -> list[str]:
    with Session(engine) as s:
        return list(
            s.exec(
                select(AuditEvent.action)
                .where(
                    AuditEvent.entity_type == "claim",
                    AuditEvent.entity_id == str(claim_id),
                    col(AuditEvent.action).startswith("claim."),
                )
                .order_by(col(AuditEvent.seq))
            ).all()
        )


async def started(
    running: Running, engine: Engine, settings: Settings, store: LocalBlobStore, **fund: object
) -> int:
    booked = sent_campaign(engine, **fund)
    result = await starter.start_claim(
        engine,
        settings,
        store,
        running.env.client,
        running.queue,
        ClaimStart(partner_campaign_id=booked.pc_id),
    )
    assert result.claim_id is not None and result.started
    again = await starter.start_claim(
        engine,
        settings,
        store,
        running.env.client,
        running.queue,
        ClaimStart(partner_campaign_id=booked.pc_id),
    )
    assert (again.claim_id, again.started) == (result.claim_id, False)
    claim_id = result.claim_id
    await until(lambda: "claim.drafted" in actions(engine, claim_id), "the draft")
    return claim_id


async def test_confirm_approve_pay_books_the_payment_in_the_ledger(
    running: Running,
    demo: Engine,
    settings: Settings,
    blob_store: LocalBlobStore,
    record_history: Record,
) -> None:
    claim_id = await started(running, demo, settings, blob_store)
    api = running.api
    gm = auth(demo, settings, GM)
    resp = await api.post(
        f"/api/v1/claims/{claim_id}/invoices",
        headers=gm,
        files={"file": ("flyer-stand.pdf", PDF, "application/pdf")},
        data={"amount": "40.00", "description": "Stand at the Open day"},
    )
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["spend_minor"] == 663 + 4000 and body["claimed_minor"] == 2332
    invoice = body["evidence"][-1]
    assert invoice["kind"] == "invoice" and invoice["amount_minor"] == 4000
    download = await api.get(f"/api/v1/claims/{claim_id}/evidence/{invoice['n']}", headers=gm)
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["content-disposition"].startswith("attachment")

    early = await api.post(
        f"/api/v1/claims/{claim_id}/decide",
        headers=auth(demo, settings, REVIEWER),
        json={"decision": "approve"},
    )
    assert early.status_code == 409, early.text  # not confirmed yet
    editor = await api.post(
        f"/api/v1/claims/{claim_id}/confirm", headers=auth(demo, settings, EDITOR)
    )
    assert editor.status_code == 403
    confirmed = await api.post(f"/api/v1/claims/{claim_id}/confirm", headers=gm, json={})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["state"] == "pending_approval"
    late = await api.post(
        f"/api/v1/claims/{claim_id}/invoices",
        headers=gm,
        files={"file": ("x.pdf", PDF, "application/pdf")},
        data={"amount": "1.00", "description": "after confirming"},
    )
    assert late.status_code == 409

    by_gm = await api.post(
        f"/api/v1/claims/{claim_id}/decide", headers=gm, json={"decision": "approve"}
    )
    assert by_gm.status_code == 403
    approved = await api.post(
        f"/api/v1/claims/{claim_id}/decide",
        headers=auth(demo, settings, REVIEWER),
        json={"decision": "approve", "comment": "Evidence complete"},
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "approved"

    by_reviewer = await api.post(
        f"/api/v1/claims/{claim_id}/payment",
        headers=auth(demo, settings, REVIEWER),
        json={"reference": "SEPA-1"},
    )
    assert by_reviewer.status_code == 403  # claim.pay is the brand admins'
    paid = await api.post(
        f"/api/v1/claims/{claim_id}/payment",
        headers=auth(demo, settings, ADMIN),
        json={"reference": "SEPA-2026-0042"},
    )
    assert paid.status_code == 200, paid.text
    assert paid.json()["state"] == "paid"
    handle = running.env.client.get_workflow_handle(f"claim-{claim_id}")
    assert await handle.result() == "paid"
    await record_history(f"claim-{claim_id}", "claim_paid")

    claim = row(demo, claim_id)
    assert claim.payment_reference == "SEPA-2026-0042" and claim.paid_at is not None
    with Session(demo) as s:
        entries = {
            e.key: e
            for e in s.exec(
                select(FundLedgerEntry).where(FundLedgerEntry.fund_id == claim.fund_id)
            ).all()
        }
        paid_entry = entries[f"paid-claim-{claim_id}"]
        assert paid_entry.kind == LedgerKind.claim_paid
        assert (paid_entry.amount_minor, paid_entry.paid_minor) == (0, 2332)
        local = entries[f"spend-claim-{claim_id}-2"]
        assert (local.amount_minor, local.gross_minor, local.channel) == (-2000, 4000, "local")
        money = balance(s, claim.fund_id)
        assert (money.allocated, money.spent, money.paid) == (100_000, 2332, 2332)
        assert money.available == 100_000 - 2332 and money.unpaid == 0
        assert verify_chain(s, claim.brand_id).ok
    assert actions(demo, claim_id) == [
        "claim.drafted",
        "claim.invoice_added",
        "claim.confirmed",
        "claim.submitted",  # HQ's chain: the built-in "claims" stage
        "claim.approved",
        "claim.state_changed",
        "claim.paid",
    ]


async def test_a_rejected_claim_ends_unpaid(
    running: Running, demo: Engine, settings: Settings, blob_store: LocalBlobStore
) -> None:
    claim_id = await started(running, demo, settings, blob_store)
    api = running.api
    ok = await api.post(f"/api/v1/claims/{claim_id}/confirm", headers=auth(demo, settings, GM))
    assert ok.status_code == 200, ok.text
    rejected = await api.post(
        f"/api/v1/claims/{claim_id}/decide",
        headers=auth(demo, settings, REVIEWER),
        json={"decision": "reject", "comment": "No proof of the stand"},
    )
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    handle = running.env.client.get_workflow_handle(f"claim-{claim_id}")
    assert await handle.result() == "rejected"
    claim = row(demo, claim_id)
    assert claim.note == "No proof of the stand" and claim.decided_at is not None
    pay = await api.post(
        f"/api/v1/claims/{claim_id}/payment",
        headers=auth(demo, settings, ADMIN),
        json={"reference": "X"},
    )
    assert pay.status_code == 409
    with Session(demo) as s:
        assert balance(s, claim.fund_id).paid == 0


async def test_the_gm_is_reminded_before_the_window_closes_and_the_claim_expires_after(
    running: Running,
    demo: Engine,
    settings: Settings,
    blob_store: LocalBlobStore,
    record_history: Record,
) -> None:
    today = datetime.now(UTC).date()
    claim_id = await started(running, demo, settings, blob_store, ends_on=today, window_days=20)
    claim = row(demo, claim_id)
    assert claim.window_closes_at.date() == today + timedelta(days=21)
    handle = running.env.client.get_workflow_handle(f"claim-{claim_id}")
    await running.env.sleep(timedelta(days=8))  # past the first reminder (14 days before)
    await until(lambda: actions(demo, claim_id)[-1] == "claim.reminded", "the first reminder")
    assert row(demo, claim_id).state == "draft"
    await running.env.sleep(timedelta(days=12))  # past the second (2 days before)
    await until(lambda: actions(demo, claim_id).count("claim.reminded") == 2, "the second")
    await running.env.sleep(timedelta(days=2))  # the window closed
    assert await handle.result() == "expired"
    await record_history(f"claim-{claim_id}", "claim_reminded_expired")
    assert actions(demo, claim_id) == [
        "claim.drafted",
        "claim.reminded",
        "claim.reminded",
        "claim.expired",
    ]
    with Session(demo) as s:
        reminders = s.exec(
            select(AuditEvent.comment)
            .where(AuditEvent.action == "claim.reminded")
            .order_by(col(AuditEvent.id))
        ).all()
    assert list(reminders) == [
        "the claim window closes in 14 days",
        "the claim window closes in 2 days",
    ]
    assert row(demo, claim_id).state == "expired"
    with Session(demo) as s:
        mails = s.exec(
            select(OutboxMessage).where(col(OutboxMessage.subject).startswith("Herinnering: co-op"))
        ).all()
    assert [m.subject for m in mails] == [  # Amsterdam's GM reads Dutch
        f"Herinnering: co-op-claim {claim_id} wacht op jouw bevestiging"
    ] * 2
    assert all(GM in m.to for m in mails), [m.to for m in mails]  # Amsterdam's GM only
    late = await running.api.post(
        f"/api/v1/claims/{claim_id}/confirm", headers=auth(demo, settings, GM)
    )
    assert late.status_code == 409


async def test_claims_are_scoped_to_the_partner_region_and_brand(
    running: Running, demo: Engine, settings: Settings, blob_store: LocalBlobStore
) -> None:
    claim_id = await started(running, demo, settings, blob_store)
    api = running.api
    for email, visible in (
        (GM, True),
        (EDITOR, True),
        ("north@northwind.example", True),
        ("south@northwind.example", False),
        (GM_BERLIN, False),
        ("ops@northwind.example", True),
        ("admin@contoso.example", False),
    ):
        headers = auth(demo, settings, email)
        listed = await api.get("/api/v1/claims", headers=headers)
        assert listed.status_code == 200
        assert (claim_id in [c["id"] for c in listed.json()["items"]]) is visible, email
        one = await api.get(f"/api/v1/claims/{claim_id}", headers=headers)
        assert one.status_code == (200 if visible else 404), email
        evidence = await api.get(f"/api/v1/claims/{claim_id}/evidence/0", headers=headers)
        assert evidence.status_code == (200 if visible else 404), email
    bodies = {"confirm": {}, "decide": {"decision": "approve"}, "payment": {"reference": "R"}}
    wanted = {
        # Berlin's GM holds no claim.pay anywhere: refused before any claim is looked at.
        GM_BERLIN: {"confirm": 404, "decide": 404, "payment": 403},
        "admin@contoso.example": {"confirm": 404, "decide": 404, "payment": 404},
    }
    for email, want in wanted.items():
        headers = auth(demo, settings, email)
        got = {
            path: (
                await api.post(f"/api/v1/claims/{claim_id}/{path}", headers=headers, json=body)
            ).status_code
            for path, body in bodies.items()
        }
        assert got == want, email
    listed = await api.get("/api/v1/claims?state=draft", headers=auth(demo, settings, REVIEWER))
    assert [c["id"] for c in listed.json()["items"]] == [claim_id]
    listed = await api.get("/api/v1/claims?state=paid", headers=auth(demo, settings, REVIEWER))
    assert listed.json()["items"] == []


@pytest.mark.parametrize("name", ["claim_paid", "claim_reminded_expired"])
async def test_saved_claim_histories_replay(name: str) -> None:
    history = WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text())
    await Replayer(
        workflows=[ClaimWorkflow], data_converter=pydantic_data_converter
    ).replay_workflow(history)


async def test_changes_requested_send_the_claim_back_to_the_gm(
    running: Running, demo: Engine, settings: Settings, blob_store: LocalBlobStore
) -> None:
    claim_id = await started(running, demo, settings, blob_store)
    api = running.api
    gm, reviewer = auth(demo, settings, GM), auth(demo, settings, REVIEWER)
    assert (await api.post(f"/api/v1/claims/{claim_id}/confirm", headers=gm)).status_code == 200
    no_reason = await api.post(
        f"/api/v1/claims/{claim_id}/decide", headers=reviewer, json={"decision": "reject"}
    )
    assert no_reason.status_code == 422 and "comment" in no_reason.text
    back = await api.post(
        f"/api/v1/claims/{claim_id}/decide",
        headers=reviewer,
        json={"decision": "request_changes", "comment": "Add the stand's invoice"},
    )
    assert back.status_code == 200, back.text
    assert back.json()["state"] == "draft" and back.json()["note"] == "Add the stand's invoice"
    added = await api.post(
        f"/api/v1/claims/{claim_id}/invoices",
        headers=gm,
        files={"file": ("stand.pdf", PDF, "application/pdf")},
        data={"amount": "10.00", "description": "Stand"},
    )
    assert added.status_code == 201, added.text
    assert (await api.post(f"/api/v1/claims/{claim_id}/confirm", headers=gm)).status_code == 200
    again = await api.post(
        f"/api/v1/claims/{claim_id}/decide", headers=reviewer, json={"decision": "approve"}
    )
    assert again.status_code == 200 and again.json()["state"] == "approved", again.text
    assert again.json()["claimed_minor"] == 332 + 500


async def test_a_stand_in_decides_for_the_reviewer_who_delegated(
    running: Running, demo: Engine, settings: Settings, blob_store: LocalBlobStore
) -> None:
    """ops@ (a viewer) decides nothing of its own; standing in for brand@ it approves, and the
    chain records whose vote it was."""
    claim_id = await started(running, demo, settings, blob_store)
    api = running.api
    ops = auth(demo, settings, "ops@northwind.example")
    with Session(demo) as s:
        reviewer = s.exec(select(User).where(User.email == REVIEWER)).one()
        stand_in = s.exec(select(User).where(User.email == "ops@northwind.example")).one()
        now = datetime.now(UTC)
        s.add(
            Delegation(
                brand_id=reviewer.brand_id,
                user_id=reviewer.id or 0,
                delegate_id=stand_in.id or 0,
                starts_at=now - timedelta(days=1),
                ends_at=now + timedelta(days=30),
            )
        )
        s.commit()
        reviewer_id, ops_id = reviewer.id, stand_in.id
    assert (
        await api.post(f"/api/v1/claims/{claim_id}/confirm", headers=auth(demo, settings, GM))
    ).status_code == 200
    decided = await api.post(
        f"/api/v1/claims/{claim_id}/decide", headers=ops, json={"decision": "approve"}
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["state"] == "approved"
    with Session(demo) as s:
        vote = s.exec(
            select(AuditEvent).where(
                AuditEvent.action == "claim.approved", AuditEvent.entity_id == str(claim_id)
            )
        ).one()
    assert vote.actor == f"user:{ops_id}" or vote.actor == str(ops_id)
    assert vote.after is not None and vote.after.get("on_behalf_of") == reviewer_id
