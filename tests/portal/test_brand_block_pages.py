"""The portal's brand blocks page: HQ edits the header and footer with a preview; reviewers
only read; partner users and other brands see nothing of them."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from models.blocks import BrandBlock
from tests.portal.test_portal import portal, sign_in  # noqa: F401  (the fixture)

PAGE = "/settings/brand-blocks"
INJECTION = "{{ 7*7 }} <script>alert(1)</script>"


def footer_form(token: str, **fields: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "legal_text": "Northwind Fitness GmbH\nSecond line",
        "address": "Hauptstrasse 1",
        "link_label_0": "Instagram",
        "link_url_0": "https://instagram.com/northwindfitness",
        "intent": "save",
        **fields,
    }


def versions(demo: Engine) -> dict[str, int]:
    with Session(demo) as s:
        return {b.kind: b.version for b in s.exec(select(BrandBlock)).all()}


def test_hq_sees_both_blocks_with_their_preview(portal: TestClient) -> None:  # noqa: F811
    sign_in(portal, "marketing@northwind.example")
    page = portal.get(PAGE)
    assert page.status_code == 200, page.text[:500]
    assert 'action="/settings/brand-blocks/header"' in page.text
    assert 'action="/settings/brand-blocks/footer"' in page.text
    assert '<option value="ast_logo0001" selected>' in page.text
    assert 'class="brand-header"' in page.text and 'class="brand-footer"' in page.text
    assert "Registered at Amtsgericht Berlin-Charlottenburg" in page.text
    # The partner's own upload and the expired image are no logo choices.
    assert "ast_amsclub01" not in page.text and "ast_winter01" not in page.text
    assert 'href="/settings/brand-blocks"' in portal.get("/templates").text


def test_a_bad_footer_is_refused_naming_the_row_and_nothing_is_saved(
    portal: TestClient,  # noqa: F811
    demo: Engine,
) -> None:
    token = sign_in(portal, "marketing@northwind.example")
    form = footer_form(
        token,
        link_label_0="",
        link_url_0="",
        link_label_3="Evil",
        link_url_3="javascript:alert(1)",
    )
    resp = portal.post(PAGE + "/footer", data=form)
    assert resp.status_code == 422
    # Blank rows are dropped: the bad link is the first row shown again, marked.
    assert 'id="e-links-0-url"' in resp.text and "https://" in resp.text
    assert 'value="javascript:alert(1)" aria-invalid="true"' in resp.text
    assert versions(demo) == {"header": 1, "footer": 1}


def test_preview_shows_the_text_escaped_without_saving_then_save(
    portal: TestClient,  # noqa: F811
    demo: Engine,
) -> None:
    token = sign_in(portal, "marketing@northwind.example")
    preview = portal.post(
        PAGE + "/footer", data=footer_form(token, legal_text=INJECTION, intent="preview")
    )
    assert preview.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in preview.text
    assert "<script>alert(1)</script>" not in preview.text
    assert "{{ 7*7 }} &lt;script&gt;" in preview.text  # the braces stay text
    assert versions(demo) == {"header": 1, "footer": 1}

    saved = portal.post(PAGE + "/footer", data=footer_form(token, legal_text=INJECTION))
    assert saved.status_code == 303 and saved.headers["location"] == PAGE + "?done=footer"
    assert versions(demo) == {"header": 1, "footer": 2}
    page = portal.get(saved.headers["location"])
    assert "Footer saved." in page.text and "version 2" in page.text
    assert "{{ 7*7 }} &lt;script&gt;" in page.text


def test_a_logo_from_outside_the_brand_library_is_refused(
    portal: TestClient,  # noqa: F811
    demo: Engine,
) -> None:
    token = sign_in(portal, "marketing@northwind.example")
    resp = portal.post(
        PAGE + "/header",
        data={"csrf_token": token, "brand_name": "Northwind", "logo_asset": "ast_amsclub01"},
    )
    assert resp.status_code == 422
    assert 'id="e-logo_asset"' in resp.text and "partner&#39;s own asset" in resp.text
    assert versions(demo) == {"header": 1, "footer": 1}


def test_reviewers_read_partners_and_other_brands_do_not(
    portal: TestClient,  # noqa: F811
    demo: Engine,
) -> None:
    token = sign_in(portal, "brand@northwind.example")
    page = portal.get(PAGE)
    assert page.status_code == 200 and '<form method="post" action="/settings/brand-blocks' not in (
        page.text
    )
    assert "Registered at Amtsgericht" in page.text
    assert portal.post(PAGE + "/footer", data=footer_form(token)).status_code == 403

    portal.cookies.clear()
    token = sign_in(portal, "editor.amsterdam@northwind.example")
    assert portal.get(PAGE).status_code == 403
    assert portal.post(PAGE + "/footer", data=footer_form(token)).status_code == 403
    assert 'href="/settings/brand-blocks"' not in portal.get("/settings").text

    portal.cookies.clear()
    sign_in(portal, "admin@contoso.example")
    page = portal.get(PAGE)
    assert page.status_code == 200 and "Registered at Amtsgericht" not in page.text
    assert "brand-footer" not in page.text and "ast_logo0001" not in page.text
    assert versions(demo) == {"header": 1, "footer": 1}
