"""The asset library through the HTTP API, against the local store and against S3 (moto's server
over HTTP): upload, thumbnails, tag search, signed downloads, review, tenancy, bad input."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select
from temporalio.exceptions import ApplicationError

from activities.assets import AssetActivities, check_assets_before_send
from api.app import create_app
from core.settings import Settings
from core.temporal import LazyTemporalClient
from models.assets import Asset
from models.audit import AuditEvent
from models.org import Partner, Region
from models.templates import Template, TemplateVersion
from models.workflow_io import AssetCheck
from storage.base import BlobStore
from storage.local import LocalBlobStore
from storage.s3 import S3BlobStore
from tests.moto_fixture import MOTO_ACCESS_KEY_ID, MOTO_SECRET_ACCESS_KEY, moto_s3  # noqa: F401

Login = Callable[[str], dict[str, str]]
MARKETING = "marketing@northwind.example"
REVIEWER = "brand@northwind.example"
EDITOR_AMS = "editor.amsterdam@northwind.example"
GM_BERLIN = "gm.berlin@northwind.example"


def png(size: tuple[int, int] = (1000, 500), colour: str = "#0B3D91") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


class Library:
    """One API app over one blob store, with helpers in the words of the tests."""

    def __init__(self, client: TestClient, store: BlobStore, login: Login) -> None:
        self.client, self.store, self.login = client, store, login

    def upload(self, who: str, data: bytes, name: str = "hero.png", **form: Any) -> httpx.Response:
        fields = {"title": "Spring hero", "tags": "Hero, Spring", **form}
        return self.client.post(
            "/api/v1/assets",
            data=fields,
            files={"file": (name, data, "image/png")},
            headers=self.login(who),
        )

    def fetch(self, url: str) -> httpx.Response:
        """Follow a signed URL: through the API for the local store, over HTTP for S3."""
        if url.startswith("/"):  # the local store's redirects are site-relative
            return self.client.get(url)
        return httpx.get(url)

    def download(self, who: str, asset_id: int, **params: Any) -> httpx.Response:
        redirect = self.client.get(
            f"/api/v1/assets/{asset_id}/download",
            params=params,
            headers=self.login(who),
            follow_redirects=False,
        )
        assert redirect.status_code == 307, redirect.text
        return self.fetch(redirect.headers["location"])


@pytest.fixture(params=["local", "s3"])
def library(
    request: pytest.FixtureRequest,
    settings: Settings,
    demo: Engine,
    blob_store: LocalBlobStore,
    login: Login,
) -> Iterator[Library]:
    store: BlobStore = blob_store
    if request.param == "s3":
        endpoint = request.getfixturevalue("moto_s3")
        s3 = S3BlobStore(
            f"assets-{uuid.uuid4().hex[:12]}",
            region="eu-west-1",
            endpoint_url=endpoint,
            access_key_id=MOTO_ACCESS_KEY_ID,
            secret_access_key=MOTO_SECRET_ACCESS_KEY,
            sse="AES256",
        )
        s3.ensure_bucket()
        store = s3
    app = create_app(settings, engine=demo, temporal=LazyTemporalClient(settings), blob_store=store)
    with TestClient(app) as client:
        yield Library(client, store, login)


def test_upload_thumbnail_search_and_signed_download(library: Library) -> None:
    data = png((1000, 500))
    resp = library.upload(
        MARKETING, data, name="../../Spring Hero.PNG", description="Rooftop session"
    )
    assert resp.status_code == 201, resp.text
    asset = resp.json()
    assert asset["state"] == "approved"  # HQ uploads are approved on upload
    assert asset["tags"] == ["hero", "spring"]
    assert (asset["content_type"], asset["width"], asset["height"]) == ("image/png", 1000, 500)
    assert asset["uid"].startswith("ast_") and asset["renditions"] == ["thumb", "web"]

    versions = library.client.get(
        f"/api/v1/assets/{asset['id']}/versions", headers=library.login(MARKETING)
    ).json()
    assert versions[0]["filename"] == "Spring-Hero.png"
    assert versions[0]["renditions"]["thumb"]["width"] == 320

    original = library.download(EDITOR_AMS, asset["id"])  # a partner uses brand assets
    assert original.status_code == 200
    assert original.content == data
    thumb = library.download(EDITOR_AMS, asset["id"], rendition="thumb")
    assert Image.open(io.BytesIO(thumb.content)).size == (320, 160)

    found = library.client.get(
        "/api/v1/assets", params={"tag": ["spring", "hero"]}, headers=library.login(GM_BERLIN)
    ).json()
    assert [a["id"] for a in found["items"]] == [asset["id"]]
    by_text = library.client.get(
        "/api/v1/assets", params={"q": "ROOFTOP"}, headers=library.login(MARKETING)
    ).json()
    assert [a["id"] for a in by_text["items"]] == [asset["id"]]
    heroes = library.client.get(
        "/api/v1/assets", params={"tag": "hero"}, headers=library.login(MARKETING)
    ).json()
    assert {"ast_openday01", "ast_winter01", asset["uid"]} <= {a["uid"] for a in heroes["items"]}


def test_new_version_keeps_the_old_one(library: Library) -> None:
    first = library.upload(MARKETING, png(colour="#0B3D91")).json()
    newer = png((600, 600), colour="#F2A900")
    resp = library.client.post(
        f"/api/v1/assets/{first['id']}/versions",
        files={"file": ("hero-v2.png", newer, "image/png")},
        headers=library.login(MARKETING),
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["current_version"] == 2 and resp.json()["width"] == 600
    assert library.download(MARKETING, first["id"]).content == newer
    assert library.download(MARKETING, first["id"], version=1).content != newer
    assert len(library.store.keys(f"brand-{first['brand_id']}/assets/{first['uid']}/")) == 6


def _object_count(engine: Engine) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(Asset)).one()


BAD_UPLOADS = [
    ("html.png", b"<!doctype html><script>alert(1)</script>", "expected PNG"),
    ("empty.png", b"", "empty"),
    ("setup.png", b"MZ\x90\x00" + b"\x00" * 200, "expected PNG"),
    ("cut.png", png()[:200], "file"),
]


@pytest.mark.parametrize(("name", "data", "message"), BAD_UPLOADS)
def test_bad_files_are_refused_and_nothing_is_stored(
    library: Library, demo: Engine, name: str, data: bytes, message: str
) -> None:
    before_rows, before_keys = _object_count(demo), library.store.keys("brand-")
    resp = library.upload(MARKETING, data, name=name)
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert body["errors"][0]["field"] == "file"
    assert message.lower() in body["detail"].lower()
    assert _object_count(demo) == before_rows
    assert library.store.keys("brand-") == before_keys


def test_decompression_bomb_is_refused(library: Library) -> None:
    # 30000 x 30000 of one colour compresses to a small file but would need ~2.7 GB decoded.
    image = Image.new("1", (30000, 30000))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    resp = library.upload(MARKETING, out.getvalue(), name="bomb.png")
    assert resp.status_code == 422
    assert "pixels" in resp.json()["detail"]


def test_size_limit_is_checked_before_parsing(
    settings: Settings, demo: Engine, blob_store: LocalBlobStore, login: Login
) -> None:
    small = settings.model_copy(update={"asset_max_bytes": 2048})
    app = create_app(small, engine=demo, temporal=LazyTemporalClient(small), blob_store=blob_store)
    with TestClient(app) as client:
        resp = Library(client, blob_store, login).upload(MARKETING, b"\x89PNG" + b"x" * 5000)
    assert resp.status_code == 422
    assert "limit" in resp.json()["detail"]


def test_svg_is_stored_without_scripts(library: Library) -> None:
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" onload="alert(1)">'
        b"<script>alert(2)</script>"
        b'<a href="javascript:alert(3)"><rect width="5" height="5"/></a>'
        b'<image href="https://evil.example/x.png"/>'
        b'<circle r="4" fill="#0B3D91"/></svg>'
    )
    resp = library.upload(MARKETING, svg, name="logo.svg", title="Logo")
    assert resp.status_code == 201, resp.text
    stored = library.download(MARKETING, resp.json()["id"]).content
    assert b"circle" in stored
    for bad in (b"script", b"onload", b"javascript", b"evil.example"):
        assert bad not in stored


def test_a_failed_upload_leaves_no_blobs(
    library: Library, demo: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The blobs are written before the row; when the database step fails they go again."""

    def broken_audit(*_: Any, **__: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr("services.assets.record", broken_audit)
    before = library.store.keys("brand-")
    with pytest.raises(RuntimeError):
        library.client.post(
            "/api/v1/assets",
            data={"title": "x"},
            files={"file": ("x.png", png(), "image/png")},
            headers=library.login(MARKETING),
        )
    assert library.store.keys("brand-") == before
    assert _object_count(demo) == 6  # the demo library only


def test_partner_upload_is_reviewed_and_private(library: Library, demo: Engine) -> None:
    resp = library.upload(EDITOR_AMS, png(), title="Our club", tags="club")
    assert resp.status_code == 201, resp.text
    asset = resp.json()
    assert asset["state"] == "pending" and asset["partner_id"] is not None
    url = f"/api/v1/assets/{asset['id']}"

    # Another partner never sees it: not by id, not in lists, not as a download.
    assert library.client.get(url, headers=library.login(GM_BERLIN)).status_code == 404
    listed = library.client.get("/api/v1/assets", headers=library.login(GM_BERLIN)).json()
    assert asset["id"] not in [a["id"] for a in listed["items"]]
    download = library.client.get(
        f"{url}/download", headers=library.login(GM_BERLIN), follow_redirects=False
    )
    assert download.status_code == 404
    other_brand = library.client.get(url, headers=library.login("admin@contoso.example"))
    assert other_brand.status_code == 404

    # The partner cannot approve its own upload; a rejection needs a reason.
    decide = f"{url}/decision"
    own = library.client.post(
        decide, json={"decision": "approve"}, headers=library.login(EDITOR_AMS)
    )
    assert own.status_code == 403
    no_reason = library.client.post(
        decide, json={"decision": "reject"}, headers=library.login(REVIEWER)
    )
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "comment"
    approved = library.client.post(
        decide, json={"decision": "approve"}, headers=library.login(REVIEWER)
    )
    assert approved.json()["state"] == "approved"
    with Session(demo) as s:
        events = s.exec(
            select(AuditEvent)
            .where(AuditEvent.entity_type == "asset", AuditEvent.entity_id == str(asset["id"]))
            .order_by(col(AuditEvent.id))
        ).all()
    assert [e.action for e in events] == ["asset.uploaded", "asset.approved"]
    assert events[1].partner_id == asset["partner_id"]

    # A new file from the partner is a new thing to review.
    again = library.client.post(
        f"{url}/versions",
        files={"file": ("club2.png", png(colour="#2E7D32"), "image/png")},
        headers=library.login(EDITOR_AMS),
    )
    assert again.json()["state"] == "pending"


def test_signed_local_links_expire_and_cannot_be_altered(
    settings: Settings, demo: Engine, blob_store: LocalBlobStore, login: Login
) -> None:
    app = create_app(
        settings, engine=demo, temporal=LazyTemporalClient(settings), blob_store=blob_store
    )
    with TestClient(app) as client:
        lib = Library(client, blob_store, login)
        aid = lib.upload(MARKETING, png()).json()["id"]
        location = client.get(
            f"/api/v1/assets/{aid}/download",
            headers=login(MARKETING),
            follow_redirects=False,
        ).headers["location"]
        path = location.removeprefix("http://test")
        assert client.get(path).status_code == 200
        assert client.get(path.replace("original.png", "thumb.jpg")).status_code == 403
        expires = int(path.split("expires=")[1].split("&")[0])
        later = path.replace(f"expires={expires}", f"expires={expires + 3600}")
        assert client.get(later).status_code == 403
        assert client.get(path.split("?")[0]).status_code == 422  # no signature at all
        expired = blob_store.signed_url("brand-1/x.png", expires_in=1)
        key, query = expired.removeprefix("http://test/files/").split("?")
        params = dict(p.split("=") for p in query.split("&"))
        expires_at = int(params["expires"])
        assert blob_store.verify(key, expires_at, params["sig"], None, now=expires_at - 1)
        assert not blob_store.verify(key, expires_at, params["sig"], None, now=expires_at + 1)


# Validation: asset slots accept only usable library assets -------------------------------------


def validate(lib: Library, who: str, values: dict[str, Any], **extra: Any) -> dict[str, Any]:
    with Session(lib.client.app.state.engine) as s:
        template = s.exec(select(Template).where(Template.name == "Open day")).one()
        vid = s.exec(
            select(TemplateVersion.id).where(TemplateVersion.template_id == template.id)
        ).one()
    resp = lib.client.post(
        f"/api/v1/versions/{vid}/validate",
        json={"values": {"event_date": "2027-05-01", **values}, **extra},
        headers=lib.login(who),
    )
    assert resp.status_code == 200, resp.text
    return {e["field"]: e for e in resp.json()["errors"]}


@pytest.fixture
def local_library(
    settings: Settings, demo: Engine, blob_store: LocalBlobStore, login: Login
) -> Iterator[Library]:
    app = create_app(
        settings, engine=demo, temporal=LazyTemporalClient(settings), blob_store=blob_store
    )
    with TestClient(app) as client:
        yield Library(client, blob_store, login)


def test_asset_slot_rules_name_what_failed(local_library: Library, demo: Engine) -> None:
    lib = local_library
    assert validate(lib, MARKETING, {}) == {}  # HQ's default hero is usable
    expired = validate(lib, MARKETING, {"hero_image": "ast_winter01"})["hero_image"]
    assert expired["code"] == "asset_expired"
    assert "expired on 2025-12-31" in expired["message"]
    wrong_tags = validate(lib, MARKETING, {"hero_image": "ast_logo0001"})["hero_image"]
    assert wrong_tags["code"] == "asset_wrong_tags"
    assert "not tagged hero, open-day" in wrong_tags["message"]
    pending = validate(lib, MARKETING, {"hero_image": "ast_amsclub01"})["hero_image"]
    assert pending["code"] == "asset_not_approved"
    assert "waiting for approval" in pending["message"]
    unknown = validate(lib, MARKETING, {"hero_image": "ast_doesnotexist"})["hero_image"]
    assert unknown["code"] == "unknown_asset"

    with Session(demo) as s:
        south = s.exec(select(Region).where(Region.name == "South")).one()
        berlin = s.exec(select(col(Asset.id)).where(Asset.uid == "ast_openday01")).one()
    patched = lib.client.patch(
        f"/api/v1/assets/{berlin}",
        json={"allowed_region_ids": [south.id]},
        headers=lib.login(MARKETING),
    )
    assert patched.status_code == 200, patched.text
    region = validate(lib, MARKETING, {})["hero_image"]  # the default, for Amsterdam (North)
    assert region["code"] == "asset_region"


def test_another_partners_asset_is_unknown_to_validation(
    local_library: Library, demo: Engine
) -> None:
    lib = local_library
    with Session(demo) as s:
        ams = s.exec(select(Asset).where(Asset.uid == "ast_amsclub01")).one()
        ams.state = "approved"
        ams.tags = ["hero", "open-day"]
        s.add(ams)
        s.commit()
        partner_ids = {p.slug: p.id for p in s.exec(select(Partner)).all()}
    for_ams = validate(
        lib, MARKETING, {"hero_image": "ast_amsclub01"}, partner_id=partner_ids["amsterdam"]
    )
    assert for_ams == {}
    for_berlin = validate(
        lib, MARKETING, {"hero_image": "ast_amsclub01"}, partner_id=partner_ids["berlin"]
    )
    assert for_berlin["hero_image"]["code"] == "unknown_asset"


def test_licence_expiring_after_approval_blocks_the_send(
    local_library: Library, demo: Engine
) -> None:
    """Checked again before sending: content approved while the licence was valid."""
    lib = local_library
    today = date.today()
    with Session(demo) as s:
        hero = s.exec(select(Asset).where(Asset.uid == "ast_openday01")).one()
        hero.licence_expires_on = today + timedelta(days=10)
        s.add(hero)
        template = s.exec(select(Template).where(Template.name == "Open day")).one()
        version = s.exec(
            select(TemplateVersion).where(TemplateVersion.template_id == template.id)
        ).one()
        amsterdam = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one()
        s.commit()
        assert version.id and amsterdam.id
        check = AssetCheck(
            version_id=version.id,
            partner_id=amsterdam.id,
            values={"event_date": "2027-05-01"},
            on=today,
        )
    assert validate(lib, MARKETING, {}, partner_id=amsterdam.id) == {}
    assert check_assets_before_send(demo, check) == []

    later = check.model_copy(update={"on": today + timedelta(days=11)})
    blocked = check_assets_before_send(demo, later)
    assert [(e.field, e.code) for e in blocked] == [("hero_image", "asset_expired")]
    assert '"Open day hero"' in blocked[0].message

    with pytest.raises(ApplicationError) as err:
        AssetActivities(demo).check_assets_before_send(later)
    assert err.value.type == "asset_blocked" and err.value.non_retryable
    assert err.value.message.startswith("Sending is blocked: Hero image: the licence of")
    assert "expired on" in str(err.value)


def test_archived_asset_stays_downloadable_but_is_refused_for_new_content(
    local_library: Library,
) -> None:
    lib = local_library
    listed = lib.client.get(
        "/api/v1/assets", params={"tag": "summer"}, headers=lib.login(MARKETING)
    ).json()
    summer = listed["items"][0]
    archived = lib.client.delete(f"/api/v1/assets/{summer['id']}", headers=lib.login(MARKETING))
    assert archived.status_code == 200 and archived.json()["state"] == "archived"
    assert lib.download(EDITOR_AMS, summer["id"]).status_code == 200
    error = validate(lib, MARKETING, {"hero_image": "ast_summer01"})["hero_image"]
    assert error["code"] == "asset_not_approved"
    assert "has been archived" in error["message"]
