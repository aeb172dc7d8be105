"""The co-op report: exact figures from a ledger with an allocation, a reservation, spend on
several channels and a paid claim; who sees which fund (a partner its own, a region manager its
region, another brand nothing); the CSV (formula-guarded); a bad period answered 422 naming it;
and a constant number of statements however many funds there are."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from domain.money import ClaimState, LedgerKind
from models.claims import Claim
from models.funds import Fund
from models.org import Partner, Region
from services.funds import ledger
from services.funds.ledger import Movement
from services.funds.terms import quarter_of
from tests.funds.helpers import (
    ADMIN,
    CONTOSO,
    EDITOR_AMS,
    GM_BER,
    NORTH,
    SOUTH,
    Login,
)
from tests.funds.test_list_queries import make_funds_more, statements

COOP = "/api/v1/reports/coop"
FORMULA = '=HYPERLINK("http://evil.example","x")'


@dataclass(frozen=True)
class Seeded:
    ams: int  # Amsterdam's 2026-Q4 fund
    ber: int
    mun: int
    rot: int  # Contoso's
    north: int  # region ids
    south: int


def _fund(s: Session, slug: str, period: str, starts: date, ends: date) -> Fund:
    p = s.exec(select(Partner).where(Partner.slug == slug)).one()
    fund = Fund(
        brand_id=p.brand_id,
        region_id=p.region_id,
        partner_id=p.id or 0,
        period=period,
        starts_on=starts,
        ends_on=ends,
        currency="EUR",
        coop_share_bp=5000,
        eligible_channels=["email", "sms", "print"],
    )
    s.add(fund)
    s.flush()
    return fund


def _q4(s: Session, slug: str) -> Fund:
    return _fund(s, slug, "2026-Q4", date(2026, 10, 1), date(2026, 12, 31))


def _claim(s: Session, fund: Fund, state: ClaimState, claimed: int) -> None:
    s.add(
        Claim(
            brand_id=fund.brand_id,
            region_id=fund.region_id,
            partner_id=fund.partner_id,
            fund_id=fund.id or 0,
            state=state,
            currency=fund.currency,
            spend_minor=claimed * 2,
            claimed_minor=claimed,
            coop_share_bp=fund.coop_share_bp,
            window_closes_at=datetime.now(UTC) + timedelta(days=60),
        )
    )


def seed(engine: Engine) -> Seeded:
    def move(fund: Fund, kind: LedgerKind, amount: int, key: str, **more: object) -> None:
        ledger.post(s, fund, Movement(kind, amount, key, "system", **more))  # type: ignore[arg-type]

    with Session(engine) as s:
        ams = _q4(s, "amsterdam")
        move(ams, LedgerKind.allocation, 100_000, "alloc")
        move(ams, LedgerKind.reservation, -8_000, "reserve-pc-1")
        move(ams, LedgerKind.release, 3_000, "release-part")
        move(ams, LedgerKind.spend, -6_000, "spend-email", gross_minor=12_000, channel="email")
        move(ams, LedgerKind.spend, -15_000, "spend-print", gross_minor=30_000, channel="print")
        move(ams, LedgerKind.spend, -500, "spend-local", gross_minor=1_000, channel="local")
        move(ams, LedgerKind.claim_paid, 0, "paid-claim-1", paid_minor=21_000)
        _claim(s, ams, ClaimState.paid, 21_000)
        _claim(s, ams, ClaimState.pending_approval, 500)
        _claim(s, ams, ClaimState.draft, 999)  # not yet claimed: the GM has not confirmed
        _claim(s, ams, ClaimState.rejected, 777)
        ber = _q4(s, "berlin")
        berlin = s.get(Partner, ber.partner_id)
        assert berlin is not None
        berlin.display_name = FORMULA
        move(ber, LedgerKind.allocation, 50_000, "alloc")
        mun = _q4(s, "munich")
        move(mun, LedgerKind.allocation, 40_000, "alloc")
        move(mun, LedgerKind.spend, -1_000, "spend-sms", gross_minor=2_000, channel="sms")
        old = _fund(s, "amsterdam", "2026-Q3", date(2026, 7, 1), date(2026, 9, 30))
        move(old, LedgerKind.allocation, 99_900, "alloc")
        rot = _q4(s, "rotterdam")
        move(rot, LedgerKind.allocation, 70_000, "alloc")
        regions = {r.name: r.id or 0 for r in s.exec(select(Region)).all()}
        s.commit()
        return Seeded(
            ams.id or 0,
            ber.id or 0,
            mun.id or 0,
            rot.id or 0,
            regions["North"],
            regions["South"],
        )


def get(client: TestClient, login: Login, who: str, query: str = "period=2026-Q4") -> dict:  # type: ignore[type-arg]
    r = client.get(f"{COOP}?{query}", headers=login(who))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_exact_figures_and_totals(client: TestClient, login: Login, demo: Engine) -> None:
    ids = seed(demo)
    body = get(client, login, ADMIN)
    assert (body["period"], body["starts_on"], body["ends_on"]) == (
        "2026-Q4",
        "2026-10-01",
        "2026-12-31",
    )
    rows = {r["fund_id"]: r for r in body["rows"]}
    assert sorted(rows) == sorted([ids.ams, ids.ber, ids.mun])  # not Q3, not Contoso's
    ams = rows[ids.ams]
    assert ams["partner_name"] == "Northwind Fitness Amsterdam" and ams["region_name"] == "North"
    assert ams["currency"] == "EUR" and ams["period"] == "2026-Q4"
    assert {k: ams[f"{k}_minor"] for k in ("allocated", "reserved", "spent")} == {
        "allocated": 100_000,
        "reserved": 5_000,
        "spent": 21_500,
    }
    assert (ams["claimed_minor"], ams["paid_minor"], ams["available_minor"]) == (
        21_500,
        21_000,
        73_500,
    )
    assert ams["gross_minor"] == {"email": 12_000, "sms": 0, "print": 30_000, "local": 1_000}
    assert ams["gross"] == {"email": "120.00", "sms": "0.00", "print": "300.00", "local": "10.00"}
    assert (ams["allocated"], ams["spent"], ams["claimed"], ams["available"]) == (
        "1000.00",
        "215.00",
        "215.00",
        "735.00",
    )
    assert ams["utilisation"] == "21.5"
    assert rows[ids.mun]["utilisation"] == "2.5"  # 1000 of 40000
    assert rows[ids.ber]["utilisation"] == "0.0"
    [total] = body["totals"]
    assert total["currency"] == "EUR"
    assert total["allocated_minor"] == 190_000
    assert total["spent_minor"] == 22_500
    assert total["claimed_minor"] == 21_500 and total["paid_minor"] == 21_000
    assert total["available_minor"] == 190_000 - 5_000 - 22_500
    assert total["gross_minor"] == {"email": 12_000, "sms": 2_000, "print": 30_000, "local": 1_000}
    assert total["utilisation"] == "11.8"  # 22500 / 190000 = 11.84 %
    year = get(client, login, ADMIN, "period=2026")
    assert len(year["rows"]) == 4  # the year holds its quarters' funds


def test_each_reader_sees_its_reach(client: TestClient, login: Login, demo: Engine) -> None:
    ids = seed(demo)

    def funds(who: str, query: str = "period=2026-Q4") -> list[int]:
        return sorted(r["fund_id"] for r in get(client, login, who, query)["rows"])

    assert funds(EDITOR_AMS) == [ids.ams]
    assert funds(GM_BER) == [ids.ber]
    assert funds(NORTH) == sorted([ids.ams, ids.ber])
    assert funds(SOUTH) == [ids.mun]
    assert funds(CONTOSO) == [ids.rot]
    assert funds(ADMIN, f"period=2026-Q4&region_id={ids.south}") == [ids.mun]
    # A region outside the reader's reach (or another brand's) is not found, as elsewhere.
    for who, region in ((SOUTH, ids.north), (EDITOR_AMS, ids.north), (CONTOSO, ids.north)):
        r = client.get(f"{COOP}?period=2026-Q4&region_id={region}", headers=login(who))
        assert r.status_code == 404, (who, r.text)
    # The editor's totals are its own fund's only.
    [total] = get(client, login, EDITOR_AMS)["totals"]
    assert total["allocated_minor"] == 100_000


def test_csv_is_guarded_and_exact(client: TestClient, login: Login, demo: Engine) -> None:
    ids = seed(demo)
    r = client.get(f"{COOP}?period=2026-Q4&format=csv", headers=login(NORTH))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert "report-coop-2026-Q4.csv" in r.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(r.text)))
    assert table[0] == [
        "fund_id",
        "partner",
        "region",
        "period",
        "currency",
        "allocated",
        "reserved",
        "spent_hq_share",
        "gross_email",
        "gross_sms",
        "gross_print",
        "gross_local",
        "claimed",
        "paid",
        "available",
        "utilisation_percent",
    ]
    by_fund = {row[0]: row for row in table[1:]}
    assert by_fund[str(ids.ams)] == [
        str(ids.ams),
        "Northwind Fitness Amsterdam",
        "North",
        "2026-Q4",
        "EUR",
        "1000.00",
        "50.00",
        "215.00",
        "120.00",
        "0.00",
        "300.00",
        "10.00",
        "215.00",
        "210.00",
        "735.00",
        "21.5",
    ]
    assert by_fund[str(ids.ber)][1] == "'" + FORMULA  # shown as text, never run
    assert table[-1][:5] == ["", "Total", "", "2026-Q4", "EUR"]
    assert table[-1][5] == "1500.00"
    assert len(table) == 4  # header, two funds of the North, the total
    x = client.get(f"{COOP}?period=2026-Q4&format=xlsx", headers=login(NORTH))
    assert x.status_code == 200 and x.content[:2] == b"PK"
    with zipfile.ZipFile(io.BytesIO(x.content)) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert "'=HYPERLINK" in sheet.replace("&apos;", "'") and "<f>" not in sheet


def test_bad_period_names_period(client: TestClient, login: Login, demo: Engine) -> None:
    for bad in ("2026-Q5", "last+year", "1999", "x" * 40):
        r = client.get(f"{COOP}?period={bad}", headers=login(ADMIN))
        assert r.status_code == 422, (bad, r.text)
        assert [e["field"] for e in r.json()["errors"]] == ["period"], r.text
    r = client.get(COOP, headers=login(ADMIN))
    assert r.status_code == 200
    assert r.json()["period"] == quarter_of(datetime.now(UTC).date()).name


def test_statements_do_not_grow_with_funds(client: TestClient, login: Login, demo: Engine) -> None:
    headers = login(ADMIN)
    make_funds_more(demo, 0, 3)
    sizes: list[int] = []

    def report() -> None:
        r = client.get(f"{COOP}?period=2024", headers=headers)
        assert r.status_code == 200, r.text
        sizes.append(len(r.json()["rows"]))

    few = statements(demo, report)
    make_funds_more_later(demo)
    many = statements(demo, report)
    assert sizes == [3, 33]
    assert many == few, (few, many)


def make_funds_more_later(engine: Engine) -> None:
    """30 more funds in 2024 (months after the first three's)."""
    with Session(engine) as s:
        ams = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one()
        partners = s.exec(select(Partner).where(Partner.brand_id == ams.brand_id)).all()
        for n in range(30):
            p = partners[n % len(partners)]
            month = 7 + n // len(partners)
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
            ledger.post(s, fund, Movement(LedgerKind.spend, -10, "s", "system", channel="sms"))
            _claim(s, fund, ClaimState.approved, 10)
        s.commit()
