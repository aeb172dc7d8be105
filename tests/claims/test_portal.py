"""The claims pages: the partner's list and claim page (lines, evidence, invoice upload,
confirm), HQ's pending claims (decide, record payment, export links); scope, and partner text
shown as text."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from core.settings import Settings
from domain.money import ChainSubject, ClaimState
from models.chain_tasks import ChainTask
from models.claim_io import ClaimStart
from models.claims import Claim
from models.org import User
from scripts.demo.organisation import DEMO_PASSWORD
from services.claims import projection, starter
from storage.local import LocalBlobStore
from tests.campaigns.test_campaign_workflows import until
from tests.claims.conftest import Running, sent_campaign
from tests.claims.test_claim_workflow import actions, row, started
from tests.portal.test_portal import sign_in, token_of

GM = "gm.amsterdam@northwind.example"
PDF = b"%PDF-1.4\n% invoice\n"
PAYLOAD = '<script>alert("x")</script><img src=x onerror=alert(1)>{{ 7*7 }}{% raw %}'


def draft_claim(engine: Engine, settings: Settings, store: LocalBlobStore) -> int:
    booked = sent_campaign(engine)
    with Session(engine) as s:
        created = starter.create(s, settings, store, ClaimStart(partner_campaign_id=booked.pc_id))
        assert created.claim is not None and created.claim.id is not None
        s.commit()
        claim_id = created.claim.id
    with Session(engine) as s:
        projection.draft(s, settings, store, claim_id)
        s.commit()
    return claim_id


def reads_english(engine: Engine, email: str) -> None:
    """The demo's Amsterdam partner speaks Dutch; these tests read the English source text."""
    with Session(engine) as s:
        user = s.exec(select(User).where(User.email == email)).one()
        user.locale = "en"
        s.add(user)
        s.commit()


def set_state(engine: Engine, claim_id: int, state: ClaimState) -> None:
    with Session(engine) as s:
        claim = s.get(Claim, claim_id)
        assert claim is not None
        claim.state = state
        s.add(claim)
        s.commit()


def open_chain_task(engine: Engine, claim_id: int) -> None:
    """The waiting stage as the chain projects it: any brand reviewer."""
    with Session(engine) as s:
        claim = s.get(Claim, claim_id)
        assert claim is not None
        s.add(
            ChainTask(
                subject=ChainSubject.claim,
                subject_id=claim_id,
                brand_id=claim.brand_id,
                region_id=claim.region_id,
                partner_id=claim.partner_id,
                stage="claims",
                stage_label="Claim review",
                approvers=[{"role": "brand_reviewer"}],
            )
        )
        s.commit()


def test_the_gm_sees_lines_and_evidence_and_an_invoice_description_stays_text(
    portal: TestClient, demo: Engine, settings: Settings, blob_store: LocalBlobStore
) -> None:
    client = portal
    claim_id = draft_claim(demo, settings, blob_store)
    reads_english(demo, GM)
    csrf = sign_in(client, GM)
    listing = client.get("/claims")
    assert listing.status_code == 200 and f'href="/claims/{claim_id}"' in listing.text
    assert 'href="/claims"' in listing.text  # in the navigation
    page = client.get(f"/claims/{claim_id}")
    assert page.status_code == 200
    assert "EUR 6.63" in page.text and "EUR 3.32" in page.text
    assert "120 message" in page.text and "7 segment" in page.text
    assert "email: 120 sent, 2 failed, 1 suppressed" in page.text
    assert f'href="/claims/{claim_id}/evidence/0"' in page.text
    assert "Confirm the claim" in page.text and 'enctype="multipart/form-data"' in page.text
    email = client.get(f"/claims/{claim_id}/evidence/0")
    assert email.status_code == 200 and b"Open day in Amsterdam" in email.content
    assert email.headers["content-disposition"].startswith("attachment")
    assert email.headers["content-security-policy"] == "sandbox"

    added = client.post(
        f"/claims/{claim_id}/invoices",
        data={"csrf_token": csrf, "amount": "12.50", "description": PAYLOAD},
        files={"file": ("stand.pdf", PDF, "application/pdf")},
    )
    assert added.status_code == 303, added.text
    page = client.get(f"/claims/{claim_id}?done=invoice").text
    assert "Invoice added." in page
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "{{ 7*7 }}" in page and ">49<" not in page
    assert "EUR 19.13" in page  # 6.63 + 12.50

    refused = client.post(
        f"/claims/{claim_id}/invoices",
        data={"csrf_token": csrf, "amount": "12.5.0", "description": "Stand"},
        files={"file": ("stand.pdf", PDF, "application/pdf")},
    )
    assert refused.status_code == 422 and "must be an amount such as 12.50" in refused.text
    not_an_invoice = client.post(
        f"/claims/{claim_id}/invoices",
        data={"csrf_token": csrf, "amount": "1.00", "description": "x"},
        files={"file": ("x.html", b"<html>", "text/html")},
    )
    assert not_an_invoice.status_code == 422 and "PDF, PNG or JPEG" in not_an_invoice.text
    assert client.get("/claims/pending").status_code == 403  # HQ's page


def test_other_partners_and_brands_find_no_claim_page(
    portal: TestClient, demo: Engine, settings: Settings, blob_store: LocalBlobStore
) -> None:
    client = portal
    claim_id = draft_claim(demo, settings, blob_store)
    for email in ("gm.berlin@northwind.example", "admin@contoso.example"):
        client.cookies.clear()
        csrf = sign_in(client, email)
        assert f"/claims/{claim_id}" not in client.get("/claims").text
        for path in (f"/claims/{claim_id}", f"/claims/{claim_id}/evidence/0"):
            assert client.get(path).status_code == 404, (email, path)
        upload = client.post(
            f"/claims/{claim_id}/invoices",
            data={"csrf_token": csrf, "amount": "1.00", "description": "x"},
            files={"file": ("x.pdf", PDF, "application/pdf")},
        )
        assert upload.status_code == 404, email


def test_hq_sees_what_waits_for_it_with_export_links(
    portal: TestClient, demo: Engine, settings: Settings, blob_store: LocalBlobStore
) -> None:
    client = portal
    pending = draft_claim(demo, settings, blob_store)
    set_state(demo, pending, ClaimState.pending_approval)
    open_chain_task(demo, pending)
    approved = draft_claim(demo, settings, blob_store)
    set_state(demo, approved, ClaimState.approved)
    sign_in(client, "brand@northwind.example")
    page = client.get("/claims/pending").text
    assert f'action="/claims/{pending}/decide"' in page
    assert f'action="/claims/{approved}/payment"' not in page  # reviewers do not pay
    assert "/claims/export" not in page
    client.cookies.clear()
    sign_in(client, "admin@northwind.example")
    page = client.get("/claims/pending").text
    assert f'action="/claims/{pending}/decide"' not in page  # the stage is the reviewers'
    assert f'action="/claims/{approved}/payment"' in page
    assert 'href="/claims/export?format=csv"' in page and "Amsterdam" in page
    export = client.get("/claims/export?format=csv")
    assert export.status_code == 200 and export.text.count("\r\n") == 3  # header + 2 lines


async def portal_sign_in(api: httpx.AsyncClient, email: str) -> str:
    page = await api.get("/login")
    resp = await api.post(
        "/login",
        data={"email": email, "password": DEMO_PASSWORD, "csrf_token": token_of(page.text)},
    )
    assert resp.status_code == 303, resp.text
    return token_of((await api.get("/claims")).text)


async def test_confirm_decide_and_pay_from_the_portal(
    running: Running, demo: Engine, settings: Settings, blob_store: LocalBlobStore
) -> None:
    claim_id = await started(running, demo, settings, blob_store)
    api = running.api
    csrf = await portal_sign_in(api, GM)
    resp = await api.post(f"/claims/{claim_id}/confirm", data={"csrf_token": csrf})
    assert resp.status_code == 303 and resp.headers["location"].endswith("done=confirmed")
    assert row(demo, claim_id).state == "pending_approval"
    api.cookies.clear()
    csrf = await portal_sign_in(api, "brand@northwind.example")
    resp = await api.post(
        f"/claims/{claim_id}/decide",
        data={"csrf_token": csrf, "decision": "approve", "comment": "ok"},
    )
    assert resp.status_code == 303, resp.text
    api.cookies.clear()
    csrf = await portal_sign_in(api, "admin@northwind.example")
    resp = await api.post(
        f"/claims/{claim_id}/payment", data={"csrf_token": csrf, "reference": "SEPA-7"}
    )
    assert resp.status_code == 303, resp.text
    await until(lambda: actions(demo, claim_id)[-1] == "claim.paid", "the payment")
    assert row(demo, claim_id).payment_reference == "SEPA-7"


def test_the_invoice_form_says_what_is_wrong_in_the_readers_language(
    portal: TestClient, demo: Engine, settings: Settings, blob_store: LocalBlobStore
) -> None:
    """Amsterdam's GM reads Dutch, then German: the form's own limits and the service's
    refusals at their fields, never an error page or pydantic's English."""
    claim_id = draft_claim(demo, settings, blob_store)
    csrf = sign_in(portal, GM)
    url = f"/claims/{claim_id}/invoices"
    pdf = {"file": ("stand.pdf", PDF, "application/pdf")}
    huge = portal.post(
        url, data={"csrf_token": csrf, "amount": "9" * 100_000, "description": PAYLOAD}, files=pdf
    )
    assert huge.status_code == 422
    assert "Bedrag: hoogstens 20 tekens." in huge.text and 'id="e-amount"' in huge.text
    assert "Controleer:" in huge.text and "<script>alert" not in huge.text
    assert "{{ 7*7 }}" in huge.text  # what was typed stays, as text
    empty = portal.post(url, data={"csrf_token": csrf, "amount": "1.00"}, files=pdf)
    assert empty.status_code == 422 and "Waarvoor: vul dit in." in empty.text
    not_an_invoice = portal.post(
        url,
        data={"csrf_token": csrf, "amount": "1.00", "description": "x"},
        files={"file": ("x.html", b"<html>", "text/html")},
    )
    assert not_an_invoice.status_code == 422
    assert "moet een factuur in PDF, PNG of JPEG zijn" in not_an_invoice.text
    assert 'id="e-file"' in not_an_invoice.text

    with Session(demo) as s:
        user = s.exec(select(User).where(User.email == GM)).one()
        user.locale = "de"
        s.add(user)
        s.commit()
    wrong = portal.post(
        url, data={"csrf_token": csrf, "amount": "{{7*7}}", "description": "Stand"}, files=pdf
    )
    assert wrong.status_code == 422
    assert "Betrag: muss ein Betrag wie 12.50 sein" in wrong.text
    no_file = portal.post(url, data={"csrf_token": csrf, "amount": "1.00", "description": "x"})
    assert no_file.status_code == 422 and "ist leer" in no_file.text


def test_a_dutch_gm_reads_the_claims_state_conflict_in_dutch(
    portal: TestClient, demo: Engine, settings: Settings, blob_store: LocalBlobStore
) -> None:
    claim_id = draft_claim(demo, settings, blob_store)
    set_state(demo, claim_id, ClaimState.approved)
    csrf = sign_in(portal, GM)  # Amsterdam speaks Dutch
    refused = portal.post(
        f"/claims/{claim_id}/invoices",
        data={"csrf_token": csrf, "amount": "1.00", "description": "x"},
        files={"file": ("stand.pdf", PDF, "application/pdf")},
    )
    assert refused.status_code == 409
    assert f"claim {claim_id} is goedgekeurd: facturen voeg je alleen aan concepten toe" in (
        refused.text
    )
