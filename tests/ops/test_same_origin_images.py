"""Thumbnails load at whatever host name the portal was opened with: the local store's
redirects are site-relative (the page's CSP allows only its own origin for images), a forged
Host header steers nothing, and links meant for emails stay absolute."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.app import create_app
from core.settings import Settings
from core.temporal import LazyTemporalClient
from models.assets import Asset
from storage.local import LocalBlobStore
from storage.redirects import same_origin
from tests.portal.test_portal import sign_in


@pytest.fixture
def at_loopback(
    settings: Settings, demo: Engine, blob_store: LocalBlobStore
) -> Iterator[TestClient]:
    """The portal opened at http://127.0.0.1:8000, not at PUBLIC_BASE_URL's host."""
    app = create_app(
        settings, engine=demo, temporal=LazyTemporalClient(settings), blob_store=blob_store
    )
    with TestClient(app, base_url="https://127.0.0.1:8000", follow_redirects=False) as c:
        yield c


def test_thumbnail_redirect_stays_on_the_pages_origin(
    at_loopback: TestClient, demo: Engine
) -> None:
    sign_in(at_loopback, "marketing@northwind.example")
    with Session(demo) as s:
        asset_id = s.exec(select(Asset.id)).first()
    page = at_loopback.get(f"/assets/{asset_id}")
    csp = page.headers["content-security-policy"]
    assert "img-src 'self'" in csp
    for host in ("127.0.0.1:8000", "evil.example"):  # whatever Host says, never an absolute URL
        moved = at_loopback.get(f"/assets/{asset_id}/thumb", headers={"host": host})
        assert moved.status_code == 307, moved.text
        location = moved.headers["location"]
        assert location.startswith("/files/") and "sig=" in location, location
        assert "localhost" not in location and "evil" not in location
        shown = at_loopback.get(location, headers={"host": host})
        assert shown.status_code == 200 and shown.headers["content-type"].startswith("image/")


def test_emails_keep_absolute_links_and_other_stores_are_untouched(
    blob_store: LocalBlobStore,
) -> None:
    url = blob_store.signed_url("brand-1/a.png", expires_in=60)
    assert url.startswith("http://test/files/")  # emails need the configured public URL
    assert same_origin(blob_store, url).startswith("/files/brand-1/a.png?")
    elsewhere = "https://bucket.s3.amazonaws.com/brand-1/a.png?X-Amz-Signature=1"
    assert same_origin(blob_store, elsewhere) == elsewhere
    assert same_origin(blob_store, "http://test.evil/files/x") == "http://test.evil/files/x"
