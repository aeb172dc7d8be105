"""The partner's print order pages: the list and the order page are scoped like the API (another
partner's order is a 404 page), partner text is shown as text, the order form names the field
it refuses, and only a decider sees the decide buttons."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.portal import session as portal_cookies
from core.settings import Settings
from domain.money import ChainSubject, PrintOrderState
from models.chain_tasks import ChainTask
from models.org import User
from models.print_orders import PrintOrder
from printing.vendor import HttpVendor
from tests.print_orders.conftest import flyer_pc, order_body, order_row

PAYLOAD = "<script>alert('x')</script><img src=x onerror=alert(1)>"


def _as(portal: TestClient, settings: Settings, demo: Engine, email: str) -> str:
    """Sign the client in as `email`; its CSRF token."""
    with Session(demo) as s:
        user = s.exec(select(User).where(User.email == email)).one()
    found = portal_cookies.new_session(settings, user.id or 0, generation=user.session_generation)
    portal.cookies.clear()
    portal.cookies.set(portal_cookies.COOKIE, portal_cookies.encode(settings, found))
    return portal_cookies.csrf_token(settings, found)


@pytest.fixture
def portal(client: TestClient, simulator: str) -> Iterator[TestClient]:
    client.app.state.print_vendor = HttpVendor("simulator", simulator)  # type: ignore[attr-defined]
    yield client


def test_pages_are_scoped_and_show_partner_text_as_text(
    portal: TestClient, demo: Engine, settings: Settings
) -> None:
    order_id = order_row(demo, flyer_pc(demo), street=PAYLOAD, city="{{ 7*7 }}")
    _as(portal, settings, demo, "editor.amsterdam@northwind.example")
    listing = portal.get("/print-orders")
    assert listing.status_code == 200
    assert f'href="/print-orders/{order_id}"' in listing.text
    assert 'href="/print-orders/new"' in listing.text  # an approved flyer can be ordered
    page = portal.get(f"/print-orders/{order_id}")
    assert page.status_code == 200
    assert PAYLOAD not in page.text and "&lt;script&gt;alert(" in page.text
    assert "{{ 7*7 }}" in page.text
    assert 'action="/print-orders/' not in page.text.split("What happened")[0].replace(
        f'action="/print-orders/{order_id}/cancel"', ""
    ), "the orderer gets no decide form"
    assert f'action="/print-orders/{order_id}/cancel"' in page.text  # still quoted
    assert portal.get(f"/print-orders/{order_id}/pdf", follow_redirects=False).status_code == 409
    for email in ("gm.berlin@northwind.example", "admin@contoso.example"):
        _as(portal, settings, demo, email)
        assert portal.get(f"/print-orders/{order_id}").status_code == 404
        assert f"/print-orders/{order_id}" not in portal.get("/print-orders").text


def test_a_decider_sees_the_decide_buttons_while_the_order_waits(
    portal: TestClient, demo: Engine, settings: Settings
) -> None:
    order_id = order_row(demo, flyer_pc(demo))
    with Session(demo) as s:
        order = s.get(PrintOrder, order_id)
        assert order is not None
        order.state = PrintOrderState.pending_approval
        s.add(order)
        s.add(  # what the approval chain projects while the GM stage waits
            ChainTask(
                subject=ChainSubject.print_order,
                subject_id=order_id,
                brand_id=order.brand_id,
                region_id=order.region_id,
                partner_id=order.partner_id,
                stage="gm",
                approvers=[{"role": "partner_gm"}],
                excluded_user_ids=[order.ordered_by],
            )
        )
        s.commit()
    _as(portal, settings, demo, "gm.amsterdam@northwind.example")
    page = portal.get(f"/print-orders/{order_id}")
    assert f'action="/print-orders/{order_id}/decide"' in page.text
    token = _as(portal, settings, demo, "editor.amsterdam@northwind.example")
    assert (
        f'action="/print-orders/{order_id}/decide"'
        not in portal.get(f"/print-orders/{order_id}").text
    )
    refused = portal.post(
        f"/print-orders/{order_id}/decide",
        data={"decision": "approve", "csrf_token": token},
    )
    assert refused.status_code == 403


def test_the_order_form_lists_orderable_campaigns_and_names_what_is_wrong(
    portal: TestClient, demo: Engine, settings: Settings
) -> None:
    approved = flyer_pc(demo)
    drafting = flyer_pc(demo, state="drafting")
    token = _as(portal, settings, demo, "editor.amsterdam@northwind.example")
    form = portal.get("/print-orders/new")
    assert form.status_code == 200
    assert f'<option value="{approved}"' in form.text
    assert f'<option value="{drafting}"' not in form.text
    body = {k: str(v) for k, v in order_body(approved, postal_code="ABC").items()}
    refused = portal.post(
        "/print-orders", data={**body, "csrf_token": token}, follow_redirects=False
    )
    assert refused.status_code == 422
    assert 'id="e-postal_code"' in refused.text
    too_few = {**body, "postal_code": "1012 LG", "quantity": "10", "csrf_token": token}
    refused = portal.post("/print-orders", data=too_few, follow_redirects=False)
    assert refused.status_code == 422 and 'id="e-quantity"' in refused.text
    with Session(demo) as s:
        assert s.exec(select(PrintOrder)).all() == []


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "nl",
            (
                "Exemplaren: vul een heel getal in, bijvoorbeeld 500.",
                "Straat en huisnummer: hoogstens 200 tekens.",
                "Plaats: moet één regel tekst zijn",
                "Gewenst op: vul een datum in.",
                "Controleer:",
            ),
        ),
        (
            "de",
            (
                "Exemplare: Geben Sie eine ganze Zahl ein, z. B. 500.",
                "Straße und Hausnummer: höchstens 200 Zeichen.",
                "Ort: muss eine einzelne Textzeile sein",
                "Gewünscht bis: Geben Sie ein Datum ein.",
                "Bitte prüfen Sie:",
            ),
        ),
    ],
)
def test_the_order_form_says_what_is_wrong_in_the_readers_language(
    portal: TestClient, demo: Engine, settings: Settings, locale: str, expected: tuple[str, ...]
) -> None:
    email = "editor.amsterdam@northwind.example"
    with Session(demo) as s:
        user = s.exec(select(User).where(User.email == email)).one()
        user.locale = locale
        s.add(user)
        s.commit()
    approved = flyer_pc(demo)
    token = _as(portal, settings, demo, email)
    body = {k: str(v) for k, v in order_body(approved).items()}
    bad = {
        **body,
        "quantity": "{{7*7}}",
        "street": "<script>x</script>" * 1000,
        "city": "Amsterdam\nNoord",
        "wanted_by": "<img src=x onerror=alert(1)>",
        "csrf_token": token,
    }
    refused = portal.post("/print-orders", data=bad, follow_redirects=False)
    assert refused.status_code == 422
    for text in expected:
        assert text in refused.text
    for field in ("quantity", "street", "city", "wanted_by"):
        assert f'id="e-{field}"' in refused.text and f'href="#{field}"' in refused.text
    assert "<script>x" not in refused.text and "<img src=x" not in refused.text
    assert "Input should" not in refused.text and ">49<" not in refused.text
    # The service's own refusals read in the same language, at their field.
    too_few = {**body, "quantity": "10", "postal_code": "ABC", "csrf_token": token}
    refused = portal.post("/print-orders", data=too_few, follow_redirects=False)
    assert refused.status_code == 422 and 'id="e-postal_code"' in refused.text
    assert (
        "geen geldige postcode in NL" if locale == "nl" else "keine gültige Postleitzahl in NL"
    ) in refused.text
    with Session(demo) as s:
        assert s.exec(select(PrintOrder)).all() == []


def test_a_dutch_editor_reads_the_order_conflicts_in_dutch(
    portal: TestClient, demo: Engine, settings: Settings
) -> None:
    """Amsterdam's editor speaks Dutch (the partner's language): a campaign still being
    personalised and an order without its PDF are refused in Dutch; the API keeps English."""
    drafting = flyer_pc(demo, state="drafting")
    order_id = order_row(demo, flyer_pc(demo))
    token = _as(portal, settings, demo, "editor.amsterdam@northwind.example")
    body = {k: str(v) for k, v in order_body(drafting).items()}
    refused = portal.post("/print-orders", data={**body, "csrf_token": token})
    assert refused.status_code == 409
    assert (
        f"partnercampagne {drafting} is wordt gepersonaliseerd: alleen goedgekeurde campagnes"
        in refused.text
    )
    no_pdf = portal.get(f"/print-orders/{order_id}/pdf", follow_redirects=False)
    assert no_pdf.status_code == 409 and f"drukorder {order_id} heeft nog geen pdf" in no_pdf.text
