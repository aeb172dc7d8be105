"""Drafting a claim from real spend: exact numbers from the fund ledger, the cross-check with
the delivery ledger, the cap at what the fund covered, ineligible channels, print orders from
the vendor invoice, the evidence stored with its sha256, and no claim without co-op money."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from core.settings import Settings
from models.audit import AuditEvent
from models.claim_io import ClaimStart
from models.claims import Claim
from models.org import User
from models.print_orders import PrintOrder
from services.claims import chain, projection, starter
from storage.local import LocalBlobStore
from tests.claims.conftest import (
    EMAIL_SENT,
    EMAIL_UNIT,
    SMS_SEGMENTS,
    SMS_UNIT,
    book_spend,
    make_fund,
    partner,
    sent_campaign,
)
from tests.delivery.test_delivery import good_values, open_day_row


def drafted(engine: Engine, settings: Settings, store: LocalBlobStore, start: ClaimStart) -> Claim:
    with Session(engine) as s:
        created = starter.create(s, settings, store, start)
        assert created.claim is not None, created.reason
        s.commit()
        claim_id = created.claim.id
        assert claim_id is not None
    with Session(engine) as s:
        projection.draft(s, settings, store, claim_id)
        s.commit()
    with Session(engine) as s:
        claim = s.get(Claim, claim_id)
        assert claim is not None
        s.expunge(claim)
        return claim


def test_a_campaign_claim_is_the_ledgers_spend_by_channel_with_evidence(
    demo: Engine, settings: Settings, blob_store: LocalBlobStore
) -> None:
    booked = sent_campaign(demo)
    claim = drafted(demo, settings, blob_store, ClaimStart(partner_campaign_id=booked.pc_id))
    by_channel = {line["channel"]: line for line in claim.lines}
    assert by_channel["email"] == {
        "channel": "email",
        "quantity": 120,
        "unit": "message",
        "unit_minor": 5,
        "gross_minor": 600,
        "eligible": True,
        "source": "ledger",
        "ledger_key": f"spend-pc-{booked.pc_id}-email",
        "cross_check": "ok",
    }
    assert by_channel["sms"]["quantity"] == SMS_SEGMENTS
    assert by_channel["sms"]["unit"] == "segment"
    assert by_channel["sms"]["gross_minor"] == 63
    assert by_channel["sms"]["cross_check"] == "ok"  # 7 segments for 4 messages
    assert claim.spend_minor == EMAIL_SENT * EMAIL_UNIT + SMS_SEGMENTS * SMS_UNIT == 663
    assert claim.claimed_minor == 332  # 50 % of 6.63, rounded half up
    assert claim.currency == "EUR" and claim.coop_share_bp == 5000
    assert claim.fund_id == booked.fund_id and claim.workflow_id == f"claim-{claim.id}"

    kinds = [e["kind"] for e in claim.evidence]
    assert kinds == ["email", "delivery_counts"]
    email = claim.evidence[0]
    html = blob_store.get(email["key"])
    assert hashlib.sha256(html).hexdigest() == email["sha256"]
    assert b"Open day in Amsterdam" in html
    assert b"c0@customers.example" not in html  # the copy names no recipient
    assert email["message_id"].startswith(f"<pc{booked.pc_id}-email-")
    assert claim.evidence[1]["counts"] == {
        "email": {"sent": 120, "failed": 2, "suppressed": 1},
        "sms": {"sent": 4, "failed": 0, "suppressed": 0},
    }


def test_the_ledger_and_the_delivery_counts_disagreeing_is_shown(
    demo: Engine, settings: Settings, blob_store: LocalBlobStore
) -> None:
    fund_id = make_fund(demo)
    pc_id = open_day_row(demo, good_values(), None, state="sent")
    book_spend(demo, fund_id, pc_id, "email", 10, 50)  # no delivery rows at all
    claim = drafted(demo, settings, blob_store, ClaimStart(partner_campaign_id=pc_id))
    assert claim.lines[0]["cross_check"] == "ledger 10, delivery ledger 0 sent"
    assert [e["kind"] for e in claim.evidence] == ["delivery_counts"]  # no email was sent


def test_the_claim_is_capped_at_what_the_fund_covered(
    demo: Engine, settings: Settings, blob_store: LocalBlobStore
) -> None:
    booked = sent_campaign(demo, allocated=200)  # 2.00 in the fund, HQ's share is 3.32
    claim = drafted(demo, settings, blob_store, ClaimStart(partner_campaign_id=booked.pc_id))
    assert claim.spend_minor == 663
    assert claim.claimed_minor == 200
    # HQ's approval chain reads the gap: a stage "fund_shortfall gt 0" sends it further.
    with Session(demo) as s:
        facts = chain.chain_input(s, settings, claim.id or 0).facts
    assert (facts.expected_cost, facts.fund_shortfall) == (663, 332 - 200)


def test_a_claim_the_fund_covers_has_no_shortfall(
    demo: Engine, settings: Settings, blob_store: LocalBlobStore
) -> None:
    booked = sent_campaign(demo)
    claim = drafted(demo, settings, blob_store, ClaimStart(partner_campaign_id=booked.pc_id))
    with Session(demo) as s:
        facts = chain.chain_input(s, settings, claim.id or 0).facts
    assert facts.expected_cost == claim.spend_minor and facts.fund_shortfall == 0


def test_an_ineligible_channel_is_listed_but_not_claimed(
    demo: Engine, settings: Settings, blob_store: LocalBlobStore
) -> None:
    booked = sent_campaign(demo, eligible=("email",))
    claim = drafted(demo, settings, blob_store, ClaimStart(partner_campaign_id=booked.pc_id))
    eligible = {line["channel"]: line["eligible"] for line in claim.lines}
    assert eligible == {"email": True, "sms": False}
    assert claim.spend_minor == 600 and claim.claimed_minor == 300


def test_nothing_booked_means_no_claim_and_an_audit_event_says_why(
    demo: Engine, settings: Settings, blob_store: LocalBlobStore
) -> None:
    pc_id = open_day_row(demo, good_values(), None, state="sent")
    with Session(demo) as s:
        created = starter.create(s, settings, blob_store, ClaimStart(partner_campaign_id=pc_id))
        s.commit()
    assert created.claim is None
    with Session(demo) as s:
        assert s.exec(select(Claim)).all() == []
        event = s.exec(select(AuditEvent).where(AuditEvent.action == "claim.not_drafted")).one()
        assert event.entity_id == str(pc_id) and event.entity_type == "partner_campaign"


def test_starting_twice_finds_the_same_claim(
    demo: Engine, settings: Settings, blob_store: LocalBlobStore
) -> None:
    booked = sent_campaign(demo)
    start = ClaimStart(partner_campaign_id=booked.pc_id)
    first = drafted(demo, settings, blob_store, start)
    with Session(demo) as s:
        again = starter.create(s, settings, blob_store, start)
        assert again.claim is not None and again.claim.id == first.id
        projection.draft(s, settings, blob_store, first.id or 0)  # a retried draft adds nothing
        s.commit()
        row = s.get(Claim, first.id)
        assert row is not None and len(row.lines) == 2 and len(row.evidence) == 2


def print_order(engine: Engine, fund_id: int | None, invoice: int | None) -> int:
    p = partner(engine)
    pc_id = open_day_row(engine, good_values(), None, state="approved")
    with Session(engine) as s:
        gm = s.exec(select(User).where(User.email == "gm.amsterdam@northwind.example")).one()
        po = PrintOrder(
            brand_id=p.brand_id,
            region_id=p.region_id,
            partner_id=p.id or 0,
            partner_campaign_id=pc_id,
            fund_id=fund_id,
            state="delivered",
            format="A5",
            quantity=500,
            recipient_name="Northwind Amsterdam",
            street="Damrak 1",
            postal_code="1012 LG",
            city="Amsterdam",
            country="NL",
            wanted_by=(datetime.now(UTC) + timedelta(days=5)).date(),
            currency="EUR",
            invoice_minor=invoice,
            vendor="simulator",
            vendor_order_id="V-1",
            pdf_key="brand-1/print/po.pdf",
            pdf_sha256="ab" * 32,
            proof_of_delivery={"signed_by": "R. Jansen", "at": "2026-12-01T10:00:00Z"},
            ordered_by=gm.id or 0,
        )
        s.add(po)
        s.commit()
        assert po.id is not None
        return po.id


def test_a_print_order_claim_is_the_vendor_invoice_with_pdf_and_proof(
    demo: Engine, settings: Settings, blob_store: LocalBlobStore
) -> None:
    fund_id = make_fund(demo)
    po_id = print_order(demo, fund_id, 12_345)
    claim = drafted(demo, settings, blob_store, ClaimStart(print_order_id=po_id))
    assert claim.lines == [
        {
            "channel": "print",
            "quantity": 500,
            "unit": "copy",
            "unit_minor": 25,
            "gross_minor": 12_345,
            "eligible": True,
            "source": "vendor_invoice",
            "format": "A5",
            "vendor": "simulator",
            "vendor_order_id": "V-1",
        }
    ]
    assert claim.spend_minor == 12_345 and claim.claimed_minor == 6_173
    pdf, proof = claim.evidence
    assert (pdf["kind"], pdf["key"], pdf["sha256"]) == (
        "print_pdf",
        "brand-1/print/po.pdf",
        "ab" * 32,
    )
    assert proof == {
        "kind": "proof_of_delivery",
        "label": "The vendor's proof of delivery",
        "data": {"signed_by": "R. Jansen", "at": "2026-12-01T10:00:00Z"},
    }


def test_no_print_claim_without_an_invoice_or_with_print_ineligible(
    demo: Engine, settings: Settings, blob_store: LocalBlobStore
) -> None:
    no_invoice = print_order(demo, make_fund(demo), None)
    not_eligible = print_order(demo, make_fund(demo, eligible=("email",)), 500)
    with Session(demo) as s:
        for po_id in (no_invoice, not_eligible):
            found = starter.create(s, settings, blob_store, ClaimStart(print_order_id=po_id))
            assert found.claim is None
