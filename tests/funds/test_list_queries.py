"""A page of funds costs the same number of statements for 3 funds as for 40 (the API's list
and the portal's), and the bulk balances agree with the one-fund balance for every fund."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlmodel import Session, select

from domain.money import LedgerKind
from models.funds import Fund
from models.org import Partner
from services.funds import ledger
from services.funds.ledger import Movement
from tests.funds.helpers import ADMIN, FUNDS, Login
from tests.funds.test_pages import portal  # noqa: F401  (the portal fixture)
from tests.portal.test_portal import sign_in


def northwind_partners(s: Session) -> list[Partner]:
    ams = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one()
    rows = s.exec(select(Partner).where(Partner.brand_id == ams.brand_id)).all()
    return sorted(rows, key=lambda p: p.id or 0)


def make_funds(engine: Engine, count: int) -> list[int]:
    """`count` funds over the demo's partners (one per partner and month), each with an
    allocation, a reservation, a spend and a payment."""
    ids: list[int] = []
    with Session(engine) as s:
        partners = northwind_partners(s)
        for n in range(count):
            p = partners[n % len(partners)]
            month = n // len(partners) + 1
            assert month <= 12, "too many funds for one year of months"
            fund = Fund(
                brand_id=p.brand_id,
                region_id=p.region_id,
                partner_id=p.id or 0,
                period=f"2025-{month:02d}",
                starts_on=date(2025, month, 1),
                ends_on=date(2025, month, 28),
                currency="EUR",
                coop_share_bp=5000,
                eligible_channels=["email"],
            )
            s.add(fund)
            s.flush()
            for m in (
                Movement(LedgerKind.allocation, 10_000 + n, f"a-{n}", "system"),
                Movement(LedgerKind.reservation, -300, f"r-{n}", "system"),
                Movement(LedgerKind.spend, -200 - n, f"s-{n}", "system", gross_minor=400 + 2 * n),
                Movement(LedgerKind.claim_paid, 0, f"p-{n}", "system", paid_minor=100),
            ):
                ledger.post(s, fund, m)
            ids.append(fund.id or 0)
        s.commit()
    return ids


@contextmanager
def counted(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def statements(engine: Engine, call: Callable[[], Any]) -> int:
    with counted(engine) as seen:
        call()
    return len(seen)


def test_bulk_balances_equal_one_by_one(demo: Engine) -> None:
    ids = make_funds(demo, 5)
    with Session(demo) as s:
        bulk = ledger.balances(s, [*ids, 10**9])
        for i in ids:
            assert bulk[i] == ledger.balance(s, i)
        first = bulk[ids[0]]
        assert (first.allocated, first.reserved, first.spent, first.paid) == (10_000, 300, 200, 100)
        assert first.available == 10_000 - 300 - 200
        assert bulk[10**9] == ledger.Balance(0, 0, 0, 0, 0)
        assert ledger.balances(s, []) == {}


def test_api_list_takes_constant_queries(client: TestClient, login: Login, demo: Engine) -> None:
    headers = login(ADMIN)
    make_funds(demo, 3)

    def page() -> None:
        r = client.get(f"{FUNDS}?limit=100", headers=headers)
        assert r.status_code == 200, r.text
        sizes.append(len(r.json()["items"]))

    sizes: list[int] = []
    few = statements(demo, page)
    make_funds_more(demo, 3, 40)
    many = statements(demo, page)
    assert sizes == [3, 40]
    assert many == few, (few, many)


def make_funds_more(engine: Engine, have: int, want: int) -> None:
    """Adds funds until there are `want` (periods a year earlier, so none collide)."""
    with Session(engine) as s:
        partners = northwind_partners(s)
        for n in range(want - have):
            p = partners[n % len(partners)]
            month = n // len(partners) + 1
            fund = Fund(
                brand_id=p.brand_id,
                region_id=p.region_id,
                partner_id=p.id or 0,
                period=f"2024-{month:02d}",
                starts_on=date(2024, month, 1),
                ends_on=date(2024, month, 28),
                currency="EUR",
                coop_share_bp=5000,
                eligible_channels=["email"],
            )
            s.add(fund)
            s.flush()
            ledger.post(s, fund, Movement(LedgerKind.allocation, 500, f"a-{n}", "system"))
        s.commit()


def test_portal_list_takes_constant_queries(
    portal: TestClient,  # noqa: F811
    demo: Engine,
) -> None:
    sign_in(portal, ADMIN)
    make_funds(demo, 3)

    def page() -> None:
        r = portal.get("/funds")
        assert r.status_code == 200, r.text
        rows.append(r.text.count('href="/funds/'))

    rows: list[int] = []
    few = statements(demo, page)
    make_funds_more(demo, 3, 40)
    many = statements(demo, page)
    assert rows[1] - rows[0] == 37
    assert many == few, (few, many)
