"""Images in emails and print: the demo send shows its hero image from the public route,
publication (only approved sends, idempotent, unpublished on archive and licence expiry, S3
public copies), previews that publish nothing, alt text (required, escaped), the print PDF
with the embedded original."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, func, select

from api.app import create_app
from content.images import ImageRef
from content.validate import validate_values
from core.settings import AssetStore, Settings
from core.temporal import LazyTemporalClient
from models.assets import Asset, AssetPublication, AssetVersion
from models.templates import Template, TemplateVersion
from services import asset_publication as publication
from services.templates import content_of
from storage.local import LocalBlobStore
from tests.assets.test_storage import new_bucket, raw_client, s3_store
from tests.delivery.test_delivery import (
    MARKETING,
    ScriptedTransport,
    add_contacts,
    approved_row,
    good_values,
    make_segment,
    send_all,
    snapshot,
)
from tests.moto_fixture import moto_s3  # noqa: F401

Login = Callable[[str], dict[str, str]]
IMG = re.compile(r'<img src="([^"]+)"([^>]*)>')
CONTOSO_ADMIN = "admin@contoso.example"


def _asset(engine: Engine, uid: str) -> Asset:
    with Session(engine) as s:
        return s.exec(select(Asset).where(Asset.uid == uid)).one()


def _publications(engine: Engine) -> list[AssetPublication]:
    """The hero's publications (the brand header's logo is published too, by the same rules)."""
    with Session(engine) as s:
        hero = s.exec(select(Asset).where(Asset.uid == "ast_openday01")).one()
        return list(
            s.exec(select(AssetPublication).where(AssetPublication.asset_id == hero.id)).all()
        )


def _heroes(html: str) -> list[tuple[str, str]]:
    """The hero slot's <img> tags (src, other attributes); the header's logo left out."""
    return [found for found in IMG.findall(html) if "open day banner" in found[1]]


def _sent_html(demo: Engine, settings: Settings, tag: str, **values: str) -> str:
    add_contacts(demo, "amsterdam", 1, tag=tag)
    pcid = approved_row(demo, good_values(**values), make_segment(demo, "amsterdam", tag))
    snapshot(demo, pcid)
    transport = ScriptedTransport()
    send_all(demo, settings, transport, pcid)
    [msg] = transport.sent
    part = msg.get_body(("html",))
    assert part is not None
    html = part.get_content()
    assert isinstance(html, str)
    return html


class Tags(HTMLParser):
    """The elements a browser would build from the HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.starts: list[tuple[str, list[tuple[str, str | None]]]] = []

    @property
    def names(self) -> set[str]:
        return {name for name, _ in self.starts}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.starts.append((tag, attrs))


def _token(url: str) -> str:
    return url.rsplit("/i/", 1)[1]


def test_the_demo_email_shows_its_hero_image_from_the_public_route(
    demo: Engine, settings: Settings, client: TestClient, blob_store: LocalBlobStore
) -> None:
    html = _sent_html(demo, settings, "hero")
    # The brand header's logo comes first, published the same way; then the hero.
    [(src, attributes)] = _heroes(html)
    assert src.startswith(f"{settings.public_base_url}/i/")
    [(logo, _)] = [found for found in IMG.findall(html) if 'alt="Northwind Fitness"' in found[1]]
    assert logo.startswith(f"{settings.public_base_url}/i/") and logo != src
    assert client.get("/i/" + _token(logo)).status_code == 200
    probe = client.head("/i/" + _token(src))
    assert probe.status_code == 200 and probe.content == b""
    assert probe.headers["content-type"] == "image/jpeg"
    assert 'alt="Northwind Fitness open day banner in blue and gold"' in attributes
    # The 1200 px wide web rendition shows 600 CSS pixels wide (sharp on 2x screens).
    assert 'width="600"' in attributes and 'height="315"' in attributes
    assert 'data-asset="ast_openday01"' in html  # approved templates print the id as before

    resp = client.get("/i/" + _token(src))
    assert resp.status_code == 200
    hero = _asset(demo, "ast_openday01")
    with Session(demo) as s:
        version = s.exec(select(AssetVersion).where(AssetVersion.asset_id == hero.id)).one()
    web = version.renditions["web"]
    assert resp.content == blob_store.get(web["key"])
    assert (web["width"], web["height"]) == (1200, 630)
    assert resp.headers["content-type"] == "image/jpeg"
    assert resp.headers["cache-control"] == "public, max-age=86400"
    assert resp.headers["x-content-type-options"] == "nosniff"
    etag = resp.headers["etag"]
    again = client.get("/i/" + _token(src), headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""


def test_publication_is_idempotent_across_sends_and_campaigns(
    demo: Engine, settings: Settings
) -> None:
    first = _heroes(_sent_html(demo, settings, "first"))[0][0]
    second = _heroes(_sent_html(demo, settings, "second"))[0][0]
    assert first == second
    [row] = _publications(demo)
    assert row.rendition == "web" and row.unpublished_at is None
    assert len(row.token) >= 32  # 192 random bits, URL-safe


def test_only_approved_partner_campaigns_publish(
    demo: Engine, settings: Settings, login: Login, client: TestClient
) -> None:
    """A campaign not yet approved (a test send), the API preview and the print proof render
    the image from short-lived signed links and publish nothing."""
    with Session(demo) as s:
        template = s.exec(select(Template).where(Template.name == "Open day")).one()
        version = s.exec(
            select(TemplateVersion).where(TemplateVersion.template_id == template.id)
        ).one()
        content = content_of(version)
        refs = publication.for_send(
            s,
            settings,
            content,
            {"hero_image": "ast_openday01"},
            brand_id=template.brand_id,
            state="pending_approval",
        )
    draft = refs["hero_image"]
    assert isinstance(draft, ImageRef) and "/files/" in draft.url and "expires=" in draft.url
    preview = client.post(
        f"/api/v1/versions/{version.id}/preview",
        json={"values": good_values(), "locale": "en"},
        headers=login(MARKETING),
    )
    assert preview.status_code == 200, preview.text
    [(src, _)] = _heroes(preview.text)
    assert "/files/" in src and "/i/" not in src
    signed = client.get(unescape(src).replace(settings.public_base_url, ""))
    assert signed.status_code == 200 and signed.headers["content-type"] == "image/jpeg"
    assert _publications(demo) == []


def test_unknown_tokens_and_the_route_prefix_list_nothing(client: TestClient) -> None:
    assert client.get("/i/" + "A" * 32).status_code == 404
    assert client.get("/i/").status_code == 404
    assert client.get("/i").status_code == 404
    assert client.get("/i/short").status_code in (404, 422)


def test_archiving_unpublishes_and_the_route_answers_gone(
    demo: Engine, settings: Settings, client: TestClient, login: Login
) -> None:
    src = _heroes(_sent_html(demo, settings, "archive"))[0][0]
    hero = _asset(demo, "ast_openday01")
    resp = client.delete(f"/api/v1/assets/{hero.id}", headers=login(MARKETING))
    assert resp.status_code == 200, resp.text
    assert client.get("/i/" + _token(src)).status_code == 410
    [row] = _publications(demo)
    assert row.unpublished_at is not None and row.unpublished_reason == "archived"


def test_an_expired_licence_is_not_served_and_is_unpublished(
    demo: Engine, settings: Settings, client: TestClient, blob_store: LocalBlobStore
) -> None:
    src = _heroes(_sent_html(demo, settings, "licence"))[0][0]
    yesterday = date.today() - timedelta(days=1)
    with Session(demo) as s:
        hero = s.exec(select(Asset).where(Asset.uid == "ast_openday01")).one()
        hero.licence_expires_on = yesterday
        s.add(hero)
        s.commit()
    # Refused at serve time already, before anything unpublished it.
    assert client.get("/i/" + _token(src)).status_code == 410
    with Session(demo) as s:
        assert publication.unpublish_expired(s, blob_store, date.today()) == 1
        s.commit()
        assert publication.unpublish_expired(s, blob_store, date.today()) == 0
    [row] = _publications(demo)
    assert row.unpublished_reason == "licence expired"


def test_a_send_does_not_publish_an_image_that_is_no_longer_usable(
    demo: Engine, settings: Settings
) -> None:
    """The pre-send check stops such sends; should one get this far, no URL is made."""
    with Session(demo) as s:
        hero = s.exec(select(Asset).where(Asset.uid == "ast_openday01")).one()
        hero.licence_expires_on = date.today() - timedelta(days=1)
        s.add(hero)
        s.commit()
    html = _sent_html(demo, settings, "expired")
    assert _heroes(html) == []
    assert _publications(demo) == []


def test_alt_text_is_required_for_images_in_email_and_names_the_field(
    demo: Engine, client: TestClient, login: Login
) -> None:
    with Session(demo) as s:
        hero = s.exec(select(Asset).where(Asset.uid == "ast_openday01")).one()
        hero.alt_text = ""
        s.add(hero)
        s.commit()
        hero_id = hero.id
        template = s.exec(select(Template).where(Template.name == "Open day")).one()
        vid = s.exec(
            select(TemplateVersion.id).where(TemplateVersion.template_id == template.id)
        ).one()

    def errors() -> dict[str, Any]:
        resp = client.post(
            f"/api/v1/versions/{vid}/validate",
            json={"values": {"event_date": "2027-05-01"}},
            headers=login(MARKETING),
        )
        assert resp.status_code == 200, resp.text
        return {e["field"]: e for e in resp.json()["errors"]}

    missing = errors()["hero_image"]
    assert missing["code"] == "asset_no_alt_text" and "alt text" in missing["message"]
    refused = client.patch(
        f"/api/v1/assets/{hero_id}", json={"alt_text": "x\x00y"}, headers=login(MARKETING)
    )
    assert refused.status_code == 422 and "alt_text" in refused.text
    long = client.patch(
        f"/api/v1/assets/{hero_id}", json={"alt_text": "x" * 301}, headers=login(MARKETING)
    )
    assert long.status_code == 422 and "alt_text" in long.text
    fixed = client.patch(
        f"/api/v1/assets/{hero_id}",
        json={"alt_text": "  Open day\nbanner  "},
        headers=login(MARKETING),
    )
    assert fixed.status_code == 200 and fixed.json()["alt_text"] == "Open day banner"
    assert errors() == {}


def test_print_templates_do_not_need_alt_text(demo: Engine) -> None:
    """Alt text is asked for email; a flyer is paper."""
    with Session(demo) as s:
        template = s.exec(select(Template).where(Template.name == "Open day flyer (A5)")).one()
        version = s.exec(
            select(TemplateVersion).where(TemplateVersion.template_id == template.id)
        ).one()
        hero = s.exec(select(Asset).where(Asset.uid == "ast_openday01")).one()
        hero.alt_text = ""
        s.add(hero)
        s.commit()
        from models.org import Partner
        from services.templates import validation_context

        partner = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one()
        content = content_of(version)
        values = {"event_date": "2027-05-01"}
        ctx = validation_context(
            s,
            template.brand_id,
            partner,
            "en",
            None,
            None,
            content=content,
            values=values,
            today=date.today(),
        )
    assert validate_values(content, values, ctx) == []


def test_alt_text_stays_text_in_the_sent_email(demo: Engine, settings: Settings) -> None:
    payload = '"><script>alert(1)</script>{{7*7}}'
    with Session(demo) as s:
        hero = s.exec(select(Asset).where(Asset.uid == "ast_openday01")).one()
        hero.alt_text = payload
        s.add(hero)
        s.commit()
    html = _sent_html(demo, settings, "alt")
    tags = Tags()
    tags.feed(html)
    assert "script" not in tags.names  # the payload never became an element
    alts = [dict(attrs)["alt"] for name, attrs in tags.starts if name == "img"]
    assert payload in alts  # the exact text, {{7*7}} unevaluated


def test_the_print_pdf_embeds_the_full_resolution_image(
    demo: Engine, client: TestClient, login: Login
) -> None:
    with Session(demo) as s:
        template = s.exec(select(Template).where(Template.name == "Open day flyer (A5)")).one()
        vid = s.exec(
            select(TemplateVersion.id).where(TemplateVersion.template_id == template.id)
        ).one()
    resp = client.post(
        f"/api/v1/versions/{vid}/preview?format=pdf",
        json={"values": {"event_date": "2027-05-01"}, "locale": "en"},
        headers=login(MARKETING),
    )
    assert resp.status_code == 200, resp.text
    pdf = resp.content
    assert pdf.startswith(b"%PDF")
    assert b"/Subtype /Image" in pdf
    assert b"/Width 1200" in pdf and b"/Height 630" in pdf  # the original, not a rendition
    assert _publications(demo) == []


def test_the_print_pdf_without_an_image_has_none(
    demo: Engine, client: TestClient, login: Login
) -> None:
    """The test above would pass for any PDF with an image; this one shows the image is the
    hero's: without a hero there is none."""
    with Session(demo) as s:
        template = s.exec(select(Template).where(Template.name == "Open day flyer (A5)")).one()
        version = s.exec(
            select(TemplateVersion).where(TemplateVersion.template_id == template.id)
        ).one()
        content = content_of(version)
        slot = content.slot("hero_image")
        assert slot is not None
        slot.default = {}
        version.content = content.model_dump(mode="json")
        s.add(version)
        s.commit()
        vid = version.id
    resp = client.post(
        f"/api/v1/versions/{vid}/preview?format=pdf",
        json={"values": {"event_date": "2027-05-01"}, "locale": "en"},
        headers=login(MARKETING),
    )
    assert resp.status_code == 200, resp.text
    assert b"/Subtype /Image" not in resp.content


def test_s3_with_a_public_base_url_copies_to_the_public_prefix_and_unpublish_deletes(
    demo: Engine,
    settings: Settings,
    blob_store: LocalBlobStore,
    moto_s3: str,  # noqa: F811
) -> None:
    bucket = new_bucket()
    s3 = s3_store(moto_s3, bucket)
    s3.ensure_bucket()
    s3_settings = settings.model_copy(
        update={"asset_store": AssetStore.s3, "asset_public_base_url": "https://cdn.example/"}
    )
    with Session(demo) as s:
        hero = s.exec(select(Asset).where(Asset.uid == "ast_openday01")).one()
        version = s.exec(select(AssetVersion).where(AssetVersion.asset_id == hero.id)).one()
        web = version.renditions["web"]
        s3.put(web["key"], blob_store.get(web["key"]), web["content_type"])
        first = publication.publish(s, s3_settings, s3, hero, version)
        again = publication.publish(s, s3_settings, s3, hero, version)
    assert first is not None and again is not None and first.token == again.token
    assert first.public_key == f"public/i/{first.token}.jpg"
    url = publication.public_url(s3_settings, first)
    assert url == f"https://cdn.example/public/i/{first.token}.jpg"
    raw = raw_client(moto_s3)
    copied = raw.get_object(Bucket=bucket, Key=first.public_key)
    assert copied["Body"].read() == blob_store.get(web["key"])
    assert copied["ContentType"] == "image/jpeg"
    with Session(demo) as s:
        hero = s.exec(select(Asset).where(Asset.uid == "ast_openday01")).one()
        assert publication.unpublish_asset(s, s3, hero, "archived") == 1
        s.commit()
    with pytest.raises(ClientError):
        raw.head_object(Bucket=bucket, Key=first.public_key)


def test_tokens_are_the_only_key_and_say_nothing_of_the_tenant(
    demo: Engine, settings: Settings, client: TestClient, login: Login
) -> None:
    """Tokens are public by design (whoever holds the email holds its image); the API never
    lists them, and another brand cannot read or change the asset behind one."""
    src = _heroes(_sent_html(demo, settings, "tenant"))[0][0]
    token = _token(src)
    assert "ast_" not in token and "brand" not in token
    hero = _asset(demo, "ast_openday01")
    contoso = login(CONTOSO_ADMIN)
    assert client.get(f"/api/v1/assets/{hero.id}", headers=contoso).status_code == 404
    patched = client.patch(f"/api/v1/assets/{hero.id}", json={"alt_text": "mine"}, headers=contoso)
    assert patched.status_code == 404
    assert client.delete(f"/api/v1/assets/{hero.id}", headers=contoso).status_code == 404
    assert client.get("/i/" + token).status_code == 200  # still published


@pytest.fixture
def portal(settings: Settings, demo: Engine, blob_store: LocalBlobStore) -> Iterator[TestClient]:
    app = create_app(
        settings, engine=demo, temporal=LazyTemporalClient(settings), blob_store=blob_store
    )
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as c:
        yield c


def test_the_portal_asset_page_edits_alt_text(portal: TestClient, demo: Engine) -> None:
    from tests.portal.test_portal import sign_in, token_of

    hero = _asset(demo, "ast_openday01")
    sign_in(portal, MARKETING)
    page = portal.get(f"/assets/{hero.id}")
    assert page.status_code == 200
    assert 'name="alt_text"' in page.text and "Northwind Fitness open day banner" in page.text
    csrf = token_of(page.text)
    bad = portal.post(
        f"/assets/{hero.id}",
        data={"title": "Open day hero", "alt_text": "x" * 301, "csrf_token": csrf},
    )
    assert bad.status_code == 422 and 'id="alt-error"' in bad.text
    payload = '"><script>alert(1)</script>{{7*7}}'
    saved = portal.post(
        f"/assets/{hero.id}",
        data={"title": "Open day hero", "alt_text": payload, "csrf_token": csrf},
    )
    assert saved.status_code == 303, saved.text
    shown = portal.get(saved.headers["location"])
    assert "<script>alert(1)</script>" not in shown.text and "{{7*7}}" in shown.text
    assert _asset(demo, "ast_openday01").alt_text == payload


def test_another_brands_portal_user_cannot_see_the_asset_page(
    portal: TestClient, demo: Engine
) -> None:
    from tests.portal.test_portal import sign_in

    hero = _asset(demo, "ast_openday01")
    sign_in(portal, "gm.rotterdam@contoso.example")
    assert portal.get(f"/assets/{hero.id}").status_code in (403, 404)


def test_a_partner_sees_a_brand_asset_but_cannot_change_its_alt_text(
    portal: TestClient, demo: Engine
) -> None:
    from tests.portal.test_portal import sign_in

    hero = _asset(demo, "ast_openday01")
    csrf = sign_in(portal, "editor.amsterdam@northwind.example")
    page = portal.get(f"/assets/{hero.id}")
    assert page.status_code == 200 and 'name="alt_text"' not in page.text
    refused = portal.post(
        f"/assets/{hero.id}", data={"title": "x", "alt_text": "mine", "csrf_token": csrf}
    )
    assert refused.status_code == 403
    assert _asset(demo, "ast_openday01").alt_text != "mine"


def test_the_demo_seed_stays_idempotent_and_fills_missing_alt_text(
    demo: Engine, blob_store: LocalBlobStore
) -> None:
    from scripts.demo.assets import seed_demo_assets

    with Session(demo) as s:
        hero = s.exec(select(Asset).where(Asset.uid == "ast_openday01")).one()
        hero.alt_text = ""
        s.add(hero)
        s.commit()
        before = s.exec(select(func.count()).select_from(Asset)).one()
        assert seed_demo_assets(s, blob_store) == 0
        s.commit()
        assert s.exec(select(func.count()).select_from(Asset)).one() == before
    assert _asset(demo, "ast_openday01").alt_text.startswith("Northwind Fitness open day")


def test_the_outbox_eml_of_the_demo_send_loads_its_image_from_the_public_route(
    demo: Engine, settings: Settings, client: TestClient, tmp_path: Path
) -> None:
    """What a person opening the outbox's .eml in a browser sees: the hero's <img> points at
    the public route, which answers with the image."""
    from email import message_from_bytes, policy

    from mail.transport import OutboxTransport
    from services import delivery

    add_contacts(demo, "amsterdam", 1, tag="eml")
    pcid = approved_row(demo, good_values(), make_segment(demo, "amsterdam", "eml"))
    snapshot(demo, pcid)
    outbox = OutboxTransport(tmp_path / "outbox", demo)
    result = delivery.send_batch(demo, settings, outbox, pcid, 10)
    assert result.sent == 1
    with Session(demo) as s:
        from models.delivery import Delivery

        row = s.exec(select(Delivery).where(Delivery.partner_campaign_id == pcid)).one()
    eml = outbox.path_for(str(row.message_id)).read_bytes()
    msg = message_from_bytes(eml, policy=policy.default)
    part = msg.get_body(("html",))  # type: ignore[attr-defined]
    assert part is not None
    [(src, _)] = _heroes(part.get_content())
    image = client.get(src.replace(settings.public_base_url, ""))
    assert image.status_code == 200 and image.content[:2] == b"\xff\xd8"  # a JPEG


def test_missing_alt_text_does_not_stop_an_approved_send(demo: Engine, settings: Settings) -> None:
    """Refused at submission; content approved before the rule (or alt text cleared since)
    still goes out, with the asset's title as alt text."""
    from activities.assets import check_assets_before_send
    from models.org import Partner
    from models.workflow_io import AssetCheck

    with Session(demo) as s:
        hero = s.exec(select(Asset).where(Asset.uid == "ast_openday01")).one()
        hero.alt_text = ""
        s.add(hero)
        s.commit()
        template = s.exec(select(Template).where(Template.name == "Open day")).one()
        version = s.exec(
            select(TemplateVersion).where(TemplateVersion.template_id == template.id)
        ).one()
        amsterdam = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one()
        assert version.id and amsterdam.id
        check = AssetCheck(
            version_id=version.id,
            partner_id=amsterdam.id,
            values={"event_date": "2027-05-01"},
            on=date.today(),
        )
    assert check_assets_before_send(demo, check) == []
    html = _sent_html(demo, settings, "noalt")
    tags = Tags()
    tags.feed(html)
    alts = [dict(attrs)["alt"] for name, attrs in tags.starts if name == "img"]
    assert alts == ["Northwind Fitness", "Open day hero"]  # the header's logo, then the hero
