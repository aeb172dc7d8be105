"""The funds API: allocation to one partner, a region and the whole brand; idempotency (also
two requests at once); who sees which fund (404 for another partner's); the ledger, the
check, the cost rates; and bodies that are malformed or huge answered as 4xx naming the field."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from domain.money import CostChannel, LedgerKind
from models.funds import Fund, FundLedgerEntry
from tests.funds.helpers import (
    ADMIN,
    CONTOSO,
    EDITOR_AMS,
    FUNDS,
    GM_AMS,
    GM_BER,
    MARKETING,
    NORTH,
    RATES,
    Login,
    allocate,
    fields,
    partner_ids,
)


def test_allocate_one_partner_then_add_to_it(
    client: TestClient, login: Login, demo: Engine
) -> None:
    ams = partner_ids(demo)["amsterdam"]
    r = allocate(client, login, partner_id=ams)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["created"] == 1 and body["allocated"] == 1
    fund = body["funds"][0]
    assert (fund["period"], fund["starts_on"], fund["ends_on"]) == (
        "2026-Q4",
        "2026-10-01",
        "2026-12-31",
    )
    assert fund["coop_share_bp"] == 5000
    assert fund["balance"]["allocated_minor"] == 100000
    assert fund["balance"]["available"] == "1000.00"
    r = allocate(client, login, partner_id=ams, amount="250.50")
    assert r.status_code == 201 and r.json()["created"] == 0
    assert r.json()["funds"][0]["balance"]["available_minor"] == 125050
    with Session(demo) as s:
        assert len(s.exec(select(Fund)).all()) == 1
        kinds = s.exec(select(FundLedgerEntry.kind)).all()
    assert kinds == [LedgerKind.allocation, LedgerKind.allocation]


def test_allocate_region_and_brand(client: TestClient, login: Login, demo: Engine) -> None:
    with Session(demo) as s:
        from models.org import Region

        north = s.exec(select(Region).where(Region.name == "North")).first()
        assert north is not None
    r = allocate(client, login, region_id=north.id, period="2026")
    assert r.status_code == 201, r.text
    assert sorted(f["partner_name"] for f in r.json()["funds"]) == [
        "Northwind Fitness Amsterdam",
        "Northwind Fitness Berlin",
        "Northwind Fitness Hamburg",
    ]
    # The brand: South gets new funds, North's overlap with the year fund is refused.
    r = allocate(client, login, all_partners=True)
    assert r.status_code == 422 and fields(r) == ["period"]
    r = allocate(client, login, all_partners=True, period="2027")
    assert r.status_code == 201 and r.json()["created"] == 6


def test_idempotency_key_books_once_even_in_parallel(
    client: TestClient, login: Login, demo: Engine
) -> None:
    ams = partner_ids(demo)["amsterdam"]
    with ThreadPoolExecutor(4) as pool:
        answers = list(
            pool.map(lambda _: allocate(client, login, key="q4-topup", partner_id=ams), range(4))
        )
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 200, 200, 201], [a.text for a in answers]
    with Session(demo) as s:
        assert len(s.exec(select(FundLedgerEntry)).all()) == 1
    # The same key with another body is refused; another key books again.
    r = allocate(client, login, key="q4-topup", partner_id=ams, amount="5.00")
    assert r.status_code == 422 and fields(r) == ["Idempotency-Key"]
    assert allocate(client, login, key="q4-second", partner_id=ams).status_code == 201
    with Session(demo) as s:
        assert len(s.exec(select(FundLedgerEntry)).all()) == 2


def test_terms_must_match_the_existing_fund(client: TestClient, login: Login, demo: Engine) -> None:
    ams = partner_ids(demo)["amsterdam"]
    assert allocate(client, login, partner_id=ams).status_code == 201
    assert fields(allocate(client, login, partner_id=ams, currency="USD")) == ["currency"]
    assert fields(allocate(client, login, partner_id=ams, coop_share_percent="40")) == [
        "coop_share_percent"
    ]
    assert fields(allocate(client, login, partner_id=ams, eligible_channels=["email"])) == [
        "eligible_channels"
    ]


def test_malformed_and_huge_bodies(client: TestClient, login: Login, demo: Engine) -> None:
    ams = partner_ids(demo)["amsterdam"]
    cases = {
        "period": {"period": "2026-Q5"},
        "currency": {"currency": "XXX"},
        "amount": {"amount": "12.345"},
        "coop_share_percent": {"coop_share_percent": "150"},
    }
    for field, bad in cases.items():
        r = allocate(client, login, partner_id=ams, **bad)
        assert r.status_code == 422, (field, r.text)
        assert field in fields(r)[0], (field, r.json())
    for amount in ("1e400", "NaN", "99999999999999999999", "1.5.5", "-0"):
        r = allocate(client, login, partner_id=ams, amount=amount)
        assert r.status_code == 422, (amount, r.text)
    r = allocate(client, login, partner_id=ams, amount="1" * 10_000)
    assert r.status_code == 422 and "amount" in fields(r)[0]
    r = allocate(client, login, partner_id=ams, region_id=1)
    assert r.status_code == 422
    r = allocate(client, login, partner_id=2**62)
    assert r.status_code == 422
    r = client.post(
        FUNDS, content=b"{" * 100_000, headers={**login(ADMIN), "Content-Type": "application/json"}
    )
    assert 400 <= r.status_code < 500
    r = client.put(
        RATES,
        json={"rates": [{"channel": "fax", "unit": "1", "currency": "EUR"}]},
        headers=login(ADMIN),
    )
    assert r.status_code == 422 and fields(r)[0].startswith("rates.0")
    r = allocate(client, login, partner_id=ams, key="bad key with spaces")
    assert r.status_code == 422


def test_who_sees_which_fund(client: TestClient, login: Login, demo: Engine) -> None:
    ids = partner_ids(demo)
    r = allocate(client, login, all_partners=True)
    assert r.status_code == 201
    by_partner = {f["partner_id"]: f["id"] for f in r.json()["funds"]}
    ams, ber, mun = (
        by_partner[ids["amsterdam"]],
        by_partner[ids["berlin"]],
        by_partner[ids["munich"]],
    )

    def listed(who: str) -> set[int]:
        r = client.get(FUNDS, headers=login(who))
        assert r.status_code == 200, r.text
        return {f["id"] for f in r.json()["items"]}

    assert listed(GM_AMS) == {ams}
    assert listed(EDITOR_AMS) == {ams}
    assert listed(NORTH) == {by_partner[ids[p]] for p in ("amsterdam", "berlin", "hamburg")}
    assert listed(MARKETING) == set(by_partner.values())
    assert listed(CONTOSO) == set()
    for path in ("", "/ledger", "/check"):
        assert client.get(f"{FUNDS}/{ams}{path}", headers=login(GM_AMS)).status_code == 200
        assert client.get(f"{FUNDS}/{ber}{path}", headers=login(GM_AMS)).status_code == 404
        assert client.get(f"{FUNDS}/{mun}{path}", headers=login(NORTH)).status_code == 404
        assert client.get(f"{FUNDS}/{ams}{path}", headers=login(CONTOSO)).status_code == 404
    # Only fund.manage allocates; a GM holds it nowhere (403), Contoso's admin cannot reach
    # Northwind's partner (404).
    assert allocate(client, login, GM_BER, partner_id=ids["berlin"]).status_code == 403
    assert allocate(client, login, MARKETING, partner_id=ids["berlin"]).status_code == 403
    assert allocate(client, login, CONTOSO, partner_id=ids["berlin"]).status_code == 404


def test_ledger_and_check(client: TestClient, login: Login, demo: Engine) -> None:
    ams = partner_ids(demo)["amsterdam"]
    fund_id = allocate(client, login, partner_id=ams).json()["funds"][0]["id"]
    allocate(client, login, partner_id=ams, amount="-100.00")
    r = client.get(f"{FUNDS}/{fund_id}/ledger?limit=1", headers=login(GM_AMS))
    assert r.status_code == 200
    page = r.json()
    assert [e["amount_minor"] for e in page["items"]] == [-10000]
    r = client.get(f"{FUNDS}/{fund_id}/ledger?cursor={page['next_cursor']}", headers=login(GM_AMS))
    assert [e["amount_minor"] for e in r.json()["items"]] == [100000]
    r = client.get(f"{FUNDS}/{fund_id}/check", headers=login(GM_AMS))
    assert r.json() == {
        "fund_id": fund_id,
        "balanced": True,
        "problems": [],
        "balance": {
            "allocated_minor": 90000,
            "reserved_minor": 0,
            "spent_minor": 0,
            "paid_minor": 0,
            "available_minor": 90000,
            "available": "900.00",
        },
    }
    # Taking back more than is available is refused.
    r = allocate(client, login, partner_id=ams, amount="-900.01")
    assert r.status_code == 422 and fields(r) == ["amount"]


def test_cost_rates(client: TestClient, login: Login, demo: Engine) -> None:
    card = {
        "rates": [
            {"channel": "email", "unit": "0.05", "currency": "EUR"},
            {
                "channel": "print",
                "format": "a5",
                "min_quantity": 1,
                "max_quantity": 249,
                "unit": "0.30",
                "currency": "EUR",
            },
            {
                "channel": "print",
                "format": "A5",
                "min_quantity": 250,
                "unit": "0.18",
                "currency": "EUR",
            },
        ]
    }
    r = client.put(RATES, json=card, headers=login(ADMIN))
    assert r.status_code == 200, r.text
    assert [(x["channel"], x["format"], x["unit_minor"]) for x in r.json()] == [
        ("email", "", 5),
        ("print", "A5", 30),
        ("print", "A5", 18),
    ]
    assert client.get(RATES, headers=login(GM_AMS)).status_code == 200
    assert client.get(RATES, headers=login(CONTOSO)).json() == []
    assert client.put(RATES, json=card, headers=login(MARKETING)).status_code == 403
    overlapping = {
        "rates": [
            *card["rates"],
            {
                "channel": "print",
                "format": "A5",
                "min_quantity": 200,
                "max_quantity": 300,
                "unit": "0.2",
                "currency": "EUR",
            },
        ]
    }
    r = client.put(RATES, json=overlapping, headers=login(ADMIN))
    assert r.status_code == 422 and fields(r) == ["rates.3.min_quantity"], r.text
    mixed = {"rates": [*card["rates"], {"channel": "sms", "unit": "0.08", "currency": "USD"}]}
    r = client.put(RATES, json=mixed, headers=login(ADMIN))
    assert r.status_code == 422 and fields(r) == ["rates.3.currency"]
    # The refused cards changed nothing.
    assert len(client.get(RATES, headers=login(ADMIN)).json()) == 3


def test_demo_funds_seed_twice_books_once(demo: Engine) -> None:
    from scripts.demo.funds import seed_demo_funds
    from services.funds import ledger, rates
    from services.funds.terms import quarter_of

    with Session(demo) as s:
        first = seed_demo_funds(s)
        again = seed_demo_funds(s)
        s.commit()
        assert first is not None and again is not None and first.id == again.id
        assert first.period == quarter_of(first.starts_on).name
        assert ledger.balance(s, first.id or 0).available == 100000
        est = rates.estimate(s, first.brand_id, CostChannel.print, 300, "a5")
        assert est is not None and (est.unit_minor, est.total_minor) == (18, 5400)
        assert rates.estimate(s, first.brand_id, CostChannel.print, 300, "A3") is None
        assert rates.estimate(s, first.brand_id, CostChannel.sms, 10) == rates.Estimate(
            8, 80, "EUR"
        )
