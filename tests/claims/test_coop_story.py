"""The co-op story of issue 22 end to end, on the Temporal dev server with real workers for every
queue (the real `start_claim` included), the API over real HTTP and the print
vendor simulator:

Amsterdam gets EUR 1,000.00 of co-op money for the quarter at 50 % (email, SMS, print); email
costs EUR 0.05 a message. Its editor personalises a campaign for 120 contacts, the GM approves
(HQ's share of 120 x 0.05 = 3.00 is reserved: 300), it is sent (120 messages: spend 600, HQ's
share 300, the hold released) and a claim is drafted with the email and the delivery counts.
The editor then orders 500 A5 flyers of the same campaign; the simulator quotes EUR 95.00
(9500: 500 copies at 0.19 in its 250-999 band), the GM approves, the simulator's callbacks
drive it to delivered (invoice 9500: spend 4750 for HQ) and a second claim is drafted with the
print PDF and the proof of delivery. The GM confirms both, a brand reviewer approves both, the
brand admin records the payments: 300 and 4750 claimed and paid. The fund's check is empty,
its buckets exact, the audit chain verifies."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment

from content.spec import TemplateContent
from core.settings import Settings
from domain.money import LedgerKind
from models.claims import Claim
from models.funds import FundLedgerEntry
from models.org import Partner
from models.templates import Template, TemplateVersion
from scripts.demo.funds import RATE_CARD
from scripts.demo.templates import flyer_a5
from services import audit
from storage.local import LocalBlobStore
from tests.delivery.test_delivery import add_contacts, make_segment
from tests.print_orders.conftest import (
    order_body,
    running_stack,
    simulator,  # noqa: F401 - the fixture
    simulator_url,  # noqa: F401 - the fixture's session-wide simulator
    wait_for_approval,
    wait_for_state,
)

pytestmark = pytest.mark.e2e

Login = Callable[[str], dict[str, str]]
ADMIN = "admin@northwind.example"
REVIEWER = "brand@northwind.example"
EDITOR = "editor.amsterdam@northwind.example"
GM = "gm.amsterdam@northwind.example"
AUDIENCE = 120
EMAIL_UNIT = 5  # EUR 0.05


def email_and_flyer(engine: Engine) -> None:
    """The demo's "Open day" email with the demo flyer as its print variant (the demo keeps
    them as two templates): one approved campaign both sent and printed."""
    with Session(engine) as s:
        template = s.exec(select(Template).where(Template.name == "Open day")).one()
        version = s.exec(
            select(TemplateVersion).where(TemplateVersion.template_id == template.id)
        ).one()
        content = TemplateContent.model_validate(version.content)
        flyer = flyer_a5()
        phone = flyer.slot("club_phone")
        assert phone is not None
        content.slots.append(phone)
        content.print = flyer.print
        version.content = content.model_dump(mode="json")
        s.add(version)
        s.commit()


def rate_card() -> list[dict[str, Any]]:
    """The demo's card: email 0.05 a message, SMS and the print bands as the demo has them."""
    return [
        {
            "channel": channel.value,
            "format": fmt,
            "min_quantity": low,
            "max_quantity": high,
            "unit": unit,
            "currency": "EUR",
        }
        for channel, fmt, low, high, unit in RATE_CARD
    ]


async def eventually(check: Callable[[], Any], what: str, seconds: float = 90) -> Any:
    for _ in range(int(seconds * 10)):
        found = check()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def drafted_claim(engine: Engine, **subject: int) -> Claim | None:
    with Session(engine) as s:
        query = select(Claim)
        for name, value in subject.items():
            query = query.where(getattr(Claim, name) == value)
        claim = s.exec(query).first()
        return claim if claim is not None and claim.lines else None


def entries(engine: Engine, fund_id: int) -> dict[str, tuple[LedgerKind, int, int | None]]:
    with Session(engine) as s:
        rows = s.exec(select(FundLedgerEntry).where(FundLedgerEntry.fund_id == fund_id)).all()
        return {e.key: (e.kind, e.amount_minor, e.gross_minor) for e in rows}


async def test_coop_money_from_allocation_to_paid_claims(
    dev_env: WorkflowEnvironment,
    settings: Settings,
    demo: Engine,
    checkpoint_store: LocalBlobStore,
    blob_store: LocalBlobStore,
    simulator: str,  # noqa: F811 - the fixture
    login: Login,
) -> None:
    from tests.campaigns.test_campaign_workflows import CLOCK, ENV, act, launched, values

    ENV[:] = [dev_env]
    CLOCK[:] = [datetime.now(UTC)]
    email_and_flyer(demo)
    add_contacts(demo, "amsterdam", AUDIENCE, tag="coop")
    segment_id = make_segment(demo, "amsterdam", "coop")
    with Session(demo) as s:
        amsterdam = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one().id
    today = datetime.now(UTC).date()
    quarter = f"{today.year}-Q{(today.month - 1) // 3 + 1}"

    async with running_stack(
        dev_env.client,
        settings,
        demo,
        checkpoint_store,
        blob_store,
        simulator,
        real_claims=True,
    ) as stack:
        api = stack.http

        # 1. HQ's money and prices, through the API.
        allocated = await api.post(
            "/api/v1/funds",
            json={
                "partner_id": amsterdam,
                "period": quarter,
                "currency": "EUR",
                "amount": "1,000.00",
                "coop_share_percent": "50",
                "eligible_channels": ["email", "sms", "print"],
            },
            headers={**login(ADMIN), "Idempotency-Key": "coop-story"},
        )
        assert allocated.status_code == 201, allocated.text
        fund_id = allocated.json()["funds"][0]["id"]
        priced = await api.put(
            "/api/v1/cost-rates", json={"rates": rate_card()}, headers=login(ADMIN)
        )
        assert priced.status_code == 200, priced.text
        assert ("email", "", EMAIL_UNIT) in {
            (r["channel"], r["format"], r["unit_minor"]) for r in priced.json()
        }

        # 2. The email: approved (HQ's share reserved), sent to 120, spend booked, claim drafted.
        _, pcid = await launched(api, login, demo)
        content = await act(api, login, EDITOR, pcid, "content", values=values())
        assert content.status_code == 200, content.text
        submitted = await act(api, login, EDITOR, pcid, "submit", segment_id=segment_id)
        assert submitted.status_code == 200, submitted.text
        approved = await act(api, login, GM, pcid, "decision", decision="approve")
        assert approved.status_code == 200, approved.text
        reserve = f"reserve-pc-{pcid}"
        await eventually(lambda: reserve in entries(demo, fund_id), "the reservation")
        assert entries(demo, fund_id)[reserve][:2] == (LedgerKind.reservation, -300)
        send_at = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
        scheduled = await act(api, login, EDITOR, pcid, "schedule", send_at=send_at)
        assert scheduled.status_code == 200, scheduled.text

        email_claim = await eventually(
            lambda: drafted_claim(demo, partner_campaign_id=pcid), "the campaign's claim", 120
        )
        sent = await api.get(f"/api/v1/partner-campaigns/{pcid}/delivery", headers=login(GM))
        assert sent.json()["counts"]["sent"] == AUDIENCE
        booked = entries(demo, fund_id)
        assert booked[f"spend-pc-{pcid}-email"] == (LedgerKind.spend, -300, 600)
        assert booked[f"booked-pc-{pcid}"][:2] == (LedgerKind.release, 300)
        read = (await api.get(f"/api/v1/claims/{email_claim.id}", headers=login(GM))).json()
        assert (read["state"], read["spend_minor"], read["claimed_minor"]) == ("draft", 600, 300)
        evidence = {e["kind"]: e for e in read["evidence"]}
        assert set(evidence) == {"email", "delivery_counts"}
        assert evidence["delivery_counts"]["data"]["counts"]["email"]["sent"] == AUDIENCE
        assert [(x["channel"], x["quantity"], x["cross_check"]) for x in read["lines"]] == [
            ("email", AUDIENCE, "ok")
        ]
        email = await api.get(
            f"/api/v1/claims/{email_claim.id}/evidence/{evidence['email']['n']}",
            headers=login(GM),
        )
        assert email.status_code == 200 and b"Open day in Amsterdam" in email.content

        # 3. 500 A5 flyers of the same campaign: quoted, approved, printed, delivered, claimed.
        quote = httpx.post(
            f"{simulator}/v1/quotes", json={"product": "A5", "quantity": 500}, timeout=5
        ).json()
        ordered = await api.post(
            "/api/v1/print-orders",
            json=order_body(pcid),
            headers={**login(EDITOR), "Idempotency-Key": "coop-story-flyers"},
        )
        assert ordered.status_code == 201, ordered.text
        po = ordered.json()["id"]
        invoice = ordered.json()["quote_minor"]
        assert invoice == quote["total_minor"] == 9500  # 500 x EUR 0.19
        await wait_for_approval(demo, po)
        decided = await api.post(
            f"/api/v1/print-orders/{po}/decide",
            json={"decision": "approve"},
            headers=login(GM),
        )
        assert decided.status_code == 200, decided.text
        done = await wait_for_state(demo, po, {"delivered", "failed"}, 120)
        assert done.state.value == "delivered", done.error
        assert done.invoice_minor == invoice
        print_claim = await eventually(
            lambda: drafted_claim(demo, print_order_id=po), "the print order's claim"
        )
        booked = entries(demo, fund_id)
        assert booked[f"reserve-po-{po}"][:2] == (LedgerKind.reservation, -invoice // 2)
        assert booked[f"spend-po-{po}"] == (LedgerKind.spend, -invoice // 2, invoice)
        assert booked[f"booked-po-{po}"][:2] == (LedgerKind.release, invoice // 2)
        read = (await api.get(f"/api/v1/claims/{print_claim.id}", headers=login(GM))).json()
        assert (read["state"], read["spend_minor"], read["claimed_minor"]) == (
            "draft",
            invoice,
            invoice // 2,
        )
        evidence = {e["kind"]: e for e in read["evidence"]}
        assert {"print_pdf", "proof_of_delivery"} <= set(evidence)
        assert evidence["print_pdf"]["sha256"] == done.pdf_sha256
        assert evidence["proof_of_delivery"]["data"] == done.proof_of_delivery

        # 4. The GM confirms, a brand reviewer approves, the brand admin pays.
        claimed = {email_claim.id: 300, print_claim.id: invoice // 2}
        for claim_id in claimed:
            confirmed = await api.post(
                f"/api/v1/claims/{claim_id}/confirm", json={}, headers=login(GM)
            )
            assert confirmed.status_code == 200, confirmed.text
            assert confirmed.json()["state"] == "pending_approval"
            approve = await api.post(
                f"/api/v1/claims/{claim_id}/decide",
                json={"decision": "approve", "comment": "evidence complete"},
                headers=login(REVIEWER),
            )
            assert approve.status_code == 200, approve.text
            assert approve.json()["state"] == "approved"
            paid = await api.post(
                f"/api/v1/claims/{claim_id}/payment",
                json={"reference": f"SEPA-{claim_id}"},
                headers=login(ADMIN),
            )
            assert paid.status_code == 200, paid.text

        def all_paid() -> bool:
            with Session(demo) as s:
                rows = [s.get(Claim, i) for i in claimed]
                return all(r is not None and r.state == "paid" for r in rows)

        await eventually(all_paid, "both claims paid")
        for claim_id, amount in claimed.items():
            final = (await api.get(f"/api/v1/claims/{claim_id}", headers=login(ADMIN))).json()
            assert (final["state"], final["claimed_minor"]) == ("paid", amount)
            assert final["payment_reference"] == f"SEPA-{claim_id}"

        # 5. The ledger balances, to the cent; the audit chain verifies.
        check = await api.get(f"/api/v1/funds/{fund_id}/check", headers=login(ADMIN))
        assert check.status_code == 200 and check.json()["problems"] == [], check.text
        fund = (await api.get(f"/api/v1/funds/{fund_id}", headers=login(GM))).json()
        spent = 300 + invoice // 2
        assert fund["balance"] | {"available": ""} == {
            "allocated_minor": 100_000,
            "reserved_minor": 0,
            "spent_minor": spent,
            "paid_minor": spent,
            "available_minor": 100_000 - spent,
            "available": "",
        }
        booked = entries(demo, fund_id)
        with Session(demo) as s:
            for claim_id, amount in claimed.items():
                paid_row = s.exec(
                    select(FundLedgerEntry).where(
                        FundLedgerEntry.fund_id == fund_id,
                        FundLedgerEntry.key == f"paid-claim-{claim_id}",
                    )
                ).one()
                assert (paid_row.kind, paid_row.amount_minor, paid_row.paid_minor) == (
                    LedgerKind.claim_paid,
                    0,
                    amount,
                )
        verified = await api.get("/api/v1/audit/verify", headers=login(ADMIN))
        assert verified.status_code == 200 and verified.json()["ok"] is True, verified.text
    with Session(demo) as s:
        assert audit.verify_chain(s, done.brand_id).ok
