"""A partner campaign's money through the projection of its transitions (the real
write_transition on real rows): reserve at approval, release on cancellation, book spend from
the delivery ledger when sent and release the reservation, nothing twice on a retry, and
nothing at all (but an audit event saying why) without a fund."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from activities.campaigns import project_partner_transition
from domain.money import CostChannel, LedgerKind
from domain.states import DeliveryStatus
from models.audit import AuditEvent
from models.delivery import Delivery
from models.fund_schemas import CostRateIn
from models.funds import Fund, FundLedgerEntry
from models.org import Partner, User
from models.workflow_io import PartnerRef, PartnerTransition, TimelineEntry
from services.funds import check, ledger, rates
from services.funds.allocation import allocate_one, parse_terms
from services.funds.terms import quarter_of
from tests.delivery.test_delivery import add_contacts, good_values, make_segment, open_day_row

EMAIL_CENTS = 5


def seed_money(engine: Engine, slug: str = "amsterdam", amount: str = "1000.00") -> int:
    """This quarter's fund for `slug` (50 %, email and SMS) and the brand's rates."""
    with Session(engine) as s:
        partner = s.exec(select(Partner).where(Partner.slug == slug)).one()
        admin = s.exec(select(User).where(User.email == "admin@northwind.example")).one()
        terms = parse_terms(
            quarter_of(datetime.now(UTC).date()).name,
            "EUR",
            amount,
            "50",
            [CostChannel.email, CostChannel.sms],
        )
        fund, _, _ = allocate_one(s, partner, terms, user_id=admin.id or 0, key="seed")
        rates.replace(
            s,
            partner.brand_id,
            admin.id or 0,
            uuid.uuid4().hex,
            [
                CostRateIn(channel=CostChannel.email, unit="0.05", currency="EUR"),
                CostRateIn(channel=CostChannel.sms, unit="0.08", currency="EUR"),
            ],
        )
        s.commit()
        assert fund.id is not None
        return fund.id


def transition(engine: Engine, pcid: int, seq: int, from_state: str, to_state: str) -> None:
    with Session(engine) as s:
        from models.campaigns import PartnerCampaign

        row = s.get(PartnerCampaign, pcid)
        assert row is not None
        t = PartnerTransition(
            shared_campaign_id=row.campaign_id,
            brand_id=row.brand_id,
            partner=PartnerRef(
                partner_campaign_id=pcid, partner_id=row.partner_id, region_id=row.region_id
            ),
            entry=TimelineEntry(
                seq=seq,
                at=datetime.now(UTC),
                event=f"to_{to_state}",
                from_state=from_state,
                to_state=to_state,
                actor_id=None,
            ),
            values=row.values,
            send_at=datetime.now(UTC) + timedelta(hours=1),
            segment_id=row.segment_id,
            workflow_id=row.workflow_id,
        )
    project_partner_transition(engine, t)


def entries(engine: Engine, fund_id: int) -> list[tuple[str, int, int, str, int]]:
    with Session(engine) as s:
        rows = s.exec(
            select(FundLedgerEntry)
            .where(FundLedgerEntry.fund_id == fund_id)
            .order_by(col(FundLedgerEntry.id))
        ).all()
        return [(r.key, r.amount_minor, r.gross_minor, r.channel, r.quantity) for r in rows]


def sent(engine: Engine, pcid: int, n_sent: int, n_failed: int) -> None:
    with Session(engine) as s:
        partner = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one()
        for i in range(n_sent + n_failed):
            s.add(
                Delivery(
                    partner_campaign_id=pcid,
                    brand_id=partner.brand_id,
                    partner_id=partner.id or 0,
                    contact_id=None,
                    email=f"r{i}@customers.example",
                    status=DeliveryStatus.sent if i < n_sent else DeliveryStatus.failed,
                )
            )
        s.commit()


def test_reserve_then_spend_then_release(demo: Engine) -> None:
    fund_id = seed_money(demo)
    add_contacts(demo, "amsterdam", 30, tag="coop")
    pcid = open_day_row(
        demo, good_values(), make_segment(demo, "amsterdam", "coop"), state="pending_approval"
    )
    transition(demo, pcid, 1, "pending_approval", "approved")
    # 30 emails at 0.05 = 1.50, HQ's half 0.75 held.
    assert entries(demo, fund_id)[1:] == [(f"reserve-pc-{pcid}", -75, 150, "", 30)]
    with Session(demo) as s:
        assert ledger.balance(s, fund_id).reserved == 75
    transition(demo, pcid, 2, "approved", "scheduled")
    transition(demo, pcid, 3, "scheduled", "sending")
    sent(demo, pcid, n_sent=20, n_failed=4)
    transition(demo, pcid, 4, "sending", "sent")
    # Spend from what was sent (20 x 0.05 = 1.00, half of it HQ's), the hold given back.
    assert entries(demo, fund_id)[2:] == [
        (f"spend-pc-{pcid}-email", -50, 100, "email", 20),
        (f"booked-pc-{pcid}", 75, 0, "", 0),
    ]
    # A replay of the projection under another key (a second writer) books nothing twice.
    transition(demo, pcid, 5, "sending", "sent")
    assert len(entries(demo, fund_id)) == 4
    with Session(demo) as s:
        b = ledger.balance(s, fund_id)
        fund = s.get(Fund, fund_id)
        assert fund is not None
        assert (b.allocated, b.reserved, b.spent, b.available) == (100000, 0, 50, 99950)
        assert check.check(s, fund) == []


def test_cancelled_campaign_gives_the_reservation_back(demo: Engine) -> None:
    fund_id = seed_money(demo)
    add_contacts(demo, "amsterdam", 10, tag="coop")
    pcid = open_day_row(
        demo, good_values(), make_segment(demo, "amsterdam", "coop"), state="pending_approval"
    )
    transition(demo, pcid, 1, "pending_approval", "approved")
    transition(demo, pcid, 2, "approved", "cancelled")
    transition(demo, pcid, 3, "approved", "cancelled")
    assert entries(demo, fund_id)[1:] == [
        (f"reserve-pc-{pcid}", -25, 50, "", 10),
        (f"release-pc-{pcid}", 25, 0, "", 0),
    ]
    with Session(demo) as s:
        fund = s.get(Fund, fund_id)
        assert fund is not None
        assert ledger.balance(s, fund_id).available == 100000
        assert check.check(s, fund) == []


def test_no_fund_books_nothing_and_says_why(demo: Engine) -> None:
    seed_money(demo)  # Amsterdam's fund; Berlin has none
    add_contacts(demo, "berlin", 5, tag="coop")
    pcid = open_day_row(
        demo,
        good_values(),
        make_segment(demo, "berlin", "coop"),
        state="pending_approval",
        slug="berlin",
    )
    transition(demo, pcid, 1, "pending_approval", "approved")
    transition(demo, pcid, 2, "approved", "sending")
    transition(demo, pcid, 3, "sending", "sent")
    with Session(demo) as s:
        assert (
            s.exec(select(FundLedgerEntry).where(FundLedgerEntry.partner_campaign_id == pcid)).all()
            == []
        )
        skipped = s.exec(
            select(AuditEvent)
            .where(AuditEvent.action == "fund.skipped", AuditEvent.entity_id == str(pcid))
            .order_by(col(AuditEvent.id))
        ).all()
        from models.campaigns import PartnerCampaign

        assert s.get(PartnerCampaign, pcid).state == "sent"  # type: ignore[union-attr]
    assert [e.after["step"] for e in skipped] == ["reserve", "spend"]  # type: ignore[index]
    assert "no fund for" in skipped[0].after["reason"]  # type: ignore[index]


def test_check_catches_a_tampered_row(demo: Engine) -> None:
    fund_id = seed_money(demo)
    add_contacts(demo, "amsterdam", 10, tag="coop")
    pcid = open_day_row(
        demo, good_values(), make_segment(demo, "amsterdam", "coop"), state="pending_approval"
    )
    transition(demo, pcid, 1, "pending_approval", "approved")
    transition(demo, pcid, 2, "approved", "cancelled")
    with Session(demo) as s:
        fund = s.get(Fund, fund_id)
        assert fund is not None
        assert check.check(s, fund) == []
        s.exec(
            update(FundLedgerEntry)
            .where(col(FundLedgerEntry.key) == f"release-pc-{pcid}")
            .values(amount_minor=2500)
        )
        problems = check.check(s, fund)
    assert any("released, only 25 reserved" in p for p in problems), problems
    assert any("differs from its audit event" in p for p in problems), problems
    assert any("more was released than reserved" in p for p in problems), problems


def test_ledger_refuses_wrong_signs_and_is_idempotent(demo: Engine) -> None:
    fund_id = seed_money(demo)
    with Session(demo) as s:
        fund = s.get(Fund, fund_id)
        assert fund is not None
        for kind, amount in (
            (LedgerKind.reservation, 10),
            (LedgerKind.release, -10),
            (LedgerKind.spend, 5),
            (LedgerKind.claim_paid, 5),
        ):
            try:
                ledger.post(s, fund, ledger.Movement(kind, amount, f"k-{kind}", "system"))
            except ledger.LedgerRefused:
                continue
            raise AssertionError(f"{kind} {amount} was taken")
        first = ledger.post(s, fund, ledger.Movement(LedgerKind.allocation, 7, "again", "system"))
        second = ledger.post(s, fund, ledger.Movement(LedgerKind.allocation, 9, "again", "system"))
        assert first.id == second.id and second.amount_minor == 7
        assert ledger.balance(s, fund_id).available == 100007


def test_a_brand_without_funds_gets_no_money_events(demo: Engine) -> None:
    add_contacts(demo, "amsterdam", 5, tag="coop")
    pcid = open_day_row(
        demo, good_values(), make_segment(demo, "amsterdam", "coop"), state="pending_approval"
    )
    transition(demo, pcid, 1, "pending_approval", "approved")
    transition(demo, pcid, 2, "approved", "sending")
    sent(demo, pcid, n_sent=5, n_failed=0)
    transition(demo, pcid, 3, "sending", "sent")
    with Session(demo) as s:
        actions = s.exec(
            select(AuditEvent.action).where(
                AuditEvent.entity_type == "partner_campaign", AuditEvent.entity_id == str(pcid)
            )
        ).all()
        assert s.exec(select(FundLedgerEntry)).all() == []
    assert len(actions) == 3 and not [a for a in actions if a.startswith("fund.")]


def test_check_names_double_releases_and_unbacked_payments(demo: Engine) -> None:
    fund_id = seed_money(demo)
    with Session(demo) as s:
        fund = s.get(Fund, fund_id)
        assert fund is not None

        def post(kind: LedgerKind, amount: int, key: str, paid: int = 0) -> None:
            ledger.post(s, fund, ledger.Movement(kind, amount, key, "system", paid_minor=paid))

        post(LedgerKind.reservation, -40, "reserve-po-7")
        post(LedgerKind.release, 40, "release-po-7")
        post(LedgerKind.release, 40, "booked-po-7")
        post(LedgerKind.release, 5, "release-pc-99")
        post(LedgerKind.claim_paid, 0, "paid-claim-1", paid=10)
        problems = check.check(s, fund)
    assert "reservation reserve-po-7 is released 2 times" in problems
    assert "reservation reserve-po-7: 80 released, only 40 reserved" in problems
    assert "release release-pc-99 gives back no reservation of this fund" in problems
    assert "payment paid-claim-1 is for no approved or paid claim" in problems
    assert "paid 10 is more than spent 0" in problems
