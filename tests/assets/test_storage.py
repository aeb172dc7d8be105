"""The blob stores: one contract checked against both implementations (local files, and S3
through a moto server over HTTP), plus what is specific to each."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3  # type: ignore[import-untyped]
import httpx
import pytest
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from core.settings import Settings
from storage import (
    BlobExists,
    BlobNotFound,
    BlobStore,
    LocalBlobStore,
    S3BlobStore,
    StorageError,
    WriteOnceStore,
    brand_key,
    content_disposition,
    make_blob_store,
    make_checkpoint_store,
)
from tests.moto_fixture import (
    MOTO_ACCESS_KEY_ID,
    MOTO_SECRET_ACCESS_KEY,
    moto_s3,  # noqa: F401 - the fixture
)

SECRET = "test-secret-key-for-signing-blob-urls"
BASE_URL = "https://brandrelay.test/api"
REGION = "eu-west-1"
KEY = "brand-3/assets/17/v2/original.png"

BAD_KEYS = [
    "",
    "/brand-3/a.png",
    "brand-3/../brand-4/a.png",
    "..",
    "brand-3/..",
    "brand-3/a..png",
    "brand-3\\a.png",
    "brand-3/a b.png",
    "brand-3//a.png",
    "brand-3/./a.png",
    "brand-3/",
    "brand-3/ä.png",
    "brand-3/a.png\n",
    "brand-3/a.png?x=1",
]


def new_bucket() -> str:
    return f"test-{uuid.uuid4().hex[:24]}"


def s3_store(endpoint: str, bucket: str, **overrides: Any) -> S3BlobStore:
    options: dict[str, Any] = {
        "region": REGION,
        "endpoint_url": endpoint,
        "access_key_id": MOTO_ACCESS_KEY_ID,
        "secret_access_key": MOTO_SECRET_ACCESS_KEY,
        "sse": "AES256",
    }
    options.update(overrides)
    return S3BlobStore(bucket, **options)


def raw_client(endpoint: str, region: str = REGION) -> Any:
    """A client independent of the store, so assertions do not trust the code under test."""
    return boto3.session.Session().client(
        "s3",
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=MOTO_ACCESS_KEY_ID,
        aws_secret_access_key=MOTO_SECRET_ACCESS_KEY,
        config=Config(s3={"addressing_style": "path"}),
    )


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return LocalBlobStore(tmp_path / "assets", SECRET, BASE_URL)
    s3 = s3_store(request.getfixturevalue("moto_s3"), new_bucket())
    s3.ensure_bucket()
    return s3


@pytest.fixture
def local(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "assets", SECRET, BASE_URL)


# --- the contract, both implementations ---------------------------------------------------


def test_put_get_exists_delete_roundtrip(store: BlobStore) -> None:
    data = bytes(range(256)) * 10
    assert not store.exists(KEY)
    store.put(KEY, data, "image/png")
    assert store.exists(KEY)
    assert store.get(KEY) == data
    store.delete(KEY)
    assert not store.exists(KEY)
    with pytest.raises(BlobNotFound):
        store.get(KEY)
    store.delete(KEY)  # idempotent


def test_put_overwrites_content_and_type(store: BlobStore) -> None:
    store.put(KEY, b"first", "image/png")
    store.put(KEY, b"second", "image/webp")
    assert store.get(KEY) == b"second"
    assert store.content_type(KEY) == "image/webp"


def test_content_type_is_kept(store: BlobStore) -> None:
    store.put(KEY, b"%PDF-1.7", "application/pdf")
    store.put("brand-3/assets/18/v1/logo.svg", b"<svg/>", "image/svg+xml")
    assert store.content_type(KEY) == "application/pdf"
    assert store.content_type("brand-3/assets/18/v1/logo.svg") == "image/svg+xml"


def test_empty_blob_roundtrips(store: BlobStore) -> None:
    store.put(KEY, b"", "text/plain")
    assert store.exists(KEY)
    assert store.get(KEY) == b""


def test_missing_blob_raises_blob_not_found(store: BlobStore) -> None:
    with pytest.raises(BlobNotFound) as info:
        store.get("brand-3/assets/404/missing.png")
    assert info.value.key == "brand-3/assets/404/missing.png"
    assert isinstance(info.value, StorageError)
    with pytest.raises(BlobNotFound):
        store.content_type("brand-3/assets/404/missing.png")


def test_a_directory_like_key_is_not_a_blob(store: BlobStore) -> None:
    store.put(KEY, b"x", "image/png")
    assert not store.exists("brand-3/assets/17")
    with pytest.raises(BlobNotFound):
        store.get("brand-3/assets/17")


@pytest.mark.parametrize("bad", BAD_KEYS)
def test_bad_keys_are_refused(store: BlobStore, bad: str) -> None:
    calls: list[Callable[[], object]] = [
        lambda: store.put(bad, b"x", "text/plain"),
        lambda: store.get(bad),
        lambda: store.exists(bad),
        lambda: store.delete(bad),
        lambda: store.content_type(bad),
        lambda: store.signed_url(bad, expires_in=60),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="invalid blob key"):
            call()
    if bad and not bad.endswith("/"):  # "brand-3/" is a valid listing prefix
        with pytest.raises(ValueError):
            store.keys(bad)


@pytest.mark.parametrize("content_type", ["", "text/plain\r\nX-Evil: 1"])
def test_bad_content_types_are_refused(store: BlobStore, content_type: str) -> None:
    with pytest.raises(ValueError, match="content type"):
        store.put(KEY, b"x", content_type)
    assert not store.exists(KEY)


def test_keys_lists_by_prefix(store: BlobStore) -> None:
    for key in ["brand-1/a.png", "brand-1/b/c.png", "brand-1/b/d.png", "brand-10/a.png"]:
        store.put(key, b"x", "image/png")
    assert store.keys("brand-1/") == ["brand-1/a.png", "brand-1/b/c.png", "brand-1/b/d.png"]
    assert store.keys("brand-1/b/") == ["brand-1/b/c.png", "brand-1/b/d.png"]
    assert store.keys("brand-1/b/c") == ["brand-1/b/c.png"]
    assert store.keys("brand-1") == [
        "brand-1/a.png",
        "brand-1/b/c.png",
        "brand-1/b/d.png",
        "brand-10/a.png",
    ]
    assert store.keys("brand-9/") == []
    assert len(store.keys("")) == 4
    store.delete("brand-1/a.png")
    assert store.keys("brand-1/") == ["brand-1/b/c.png", "brand-1/b/d.png"]


@pytest.mark.parametrize("expires_in", [0, -5, 7 * 24 * 3600 + 1])
def test_signed_url_lifetime_is_bounded(store: BlobStore, expires_in: int) -> None:
    with pytest.raises(ValueError, match="expires_in"):
        store.signed_url(KEY, expires_in=expires_in)


# --- helpers ------------------------------------------------------------------------------


def test_brand_key() -> None:
    assert brand_key(3, "assets", "17", "v2", "original.png") == KEY
    assert brand_key(3) == "brand-3/"
    for bad_id in (0, -1, True):
        with pytest.raises(ValueError, match="brand id"):
            brand_key(bad_id, "a.png")
    with pytest.raises(ValueError, match="invalid blob key"):
        brand_key(3, "..", "brand-4", "a.png")
    with pytest.raises(ValueError, match="invalid blob key"):
        brand_key(3, "assets", "", "a.png")


def test_content_disposition_cannot_break_out() -> None:
    assert content_disposition("report.pdf") == (
        "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
    )
    header = content_disposition('../evil"\r\nSet-Cookie: x.pdf')
    assert "\r" not in header and "\n" not in header
    assert header.startswith('attachment; filename="evilSet-Cookie: x.pdf";')
    assert content_disposition("Präsentation.pdf").endswith("UTF-8''Pr%C3%A4sentation.pdf")
    with pytest.raises(ValueError):
        content_disposition("dir/")


# --- local ---------------------------------------------------------------------------------


def signed_params(url: str) -> tuple[str, int, str, str | None]:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert parts.path.startswith("/api/files/")
    key = parts.path.removeprefix("/api/files/")
    filename = query["filename"][0] if "filename" in query else None
    return key, int(query["expires"][0]), query["sig"][0], filename


def test_local_signed_url_verifies(local: LocalBlobStore) -> None:
    before = int(time.time())
    url = local.signed_url(KEY, expires_in=300, filename="Logo final.png")
    assert url.startswith(f"{BASE_URL}/files/{KEY}?")
    assert "filename=Logo+final.png" in url
    key, expires, sig, filename = signed_params(url)
    assert (key, filename) == (KEY, "Logo final.png")
    assert before + 300 <= expires <= int(time.time()) + 300
    assert local.verify(key, expires, sig, filename)
    assert local.verify(key, expires, sig, filename, now=expires)


def test_local_verify_rejects_tampering_and_expiry(local: LocalBlobStore) -> None:
    key, expires, sig, filename = signed_params(
        local.signed_url(KEY, expires_in=300, filename="logo.png")
    )
    assert local.verify(key, expires, sig, filename)
    assert not local.verify("brand-4/assets/17/v2/original.png", expires, sig, filename)
    assert not local.verify(key, expires + 3600, sig, filename)
    assert not local.verify(key, expires, sig, "invoice.exe")
    assert not local.verify(key, expires, sig, None)
    assert not local.verify(key, expires, sig, filename, now=expires + 1)
    assert not local.verify(key, expires, sig[:-1] + ("0" if sig[-1] != "0" else "1"), filename)
    assert not local.verify(key, expires, "", filename)
    assert not local.verify(key, expires, "é" * 64, filename)  # non-ASCII must not raise
    assert not local.verify("../etc/passwd", expires, sig, filename)
    other = LocalBlobStore(local.root, "another-secret", BASE_URL)
    assert not other.verify(key, expires, sig, filename)


def test_local_signed_url_without_filename(local: LocalBlobStore) -> None:
    key, expires, sig, filename = signed_params(local.signed_url(KEY, expires_in=60))
    assert filename is None
    assert local.verify(key, expires, sig, None)
    assert not local.verify(key, expires, sig, "original.png")


def test_local_failed_put_leaves_nothing(
    local: LocalBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    local.put(KEY, b"old", "image/png")
    real_replace = os.replace
    meta_tree = (local.root / "meta").resolve()

    def failing_replace(src: str, dst: Path) -> None:
        if not Path(dst).is_relative_to(meta_tree):  # let the metadata through, fail the blob
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(StorageError, match="disk full"):
        local.put(KEY, b"new", "image/webp")
    with pytest.raises(StorageError, match="disk full"):
        local.put("brand-3/assets/99/new.png", b"new", "image/png")
    monkeypatch.undo()
    assert local.get(KEY) == b"old"
    assert local.content_type(KEY) == "image/png"
    assert not local.exists("brand-3/assets/99/new.png")
    assert not (local.root / "meta" / "brand-3/assets/99/new.png").exists()
    leftovers = [p.name for p in local.root.rglob("*") if p.is_file() and "~" in p.name]
    assert leftovers == []
    assert local.keys("") == [KEY]


def test_local_files_stay_under_root(tmp_path: Path) -> None:
    root = tmp_path / "assets"
    store = LocalBlobStore(root, SECRET, BASE_URL)
    store.put(KEY, b"png", "image/png")
    assert (root / "blobs" / KEY).read_bytes() == b"png"
    assert json.loads((root / "meta" / KEY).read_text()) == {"content_type": "image/png"}
    assert store.file_path(KEY) == (root / "blobs" / KEY).resolve()
    with pytest.raises(BlobNotFound):
        store.file_path("brand-3/missing.png")


def test_local_refuses_symlink_escaping_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    store = LocalBlobStore(tmp_path / "assets", SECRET, BASE_URL)
    (tmp_path / "assets" / "blobs").mkdir(parents=True)
    (tmp_path / "assets" / "blobs" / "brand-5").symlink_to(outside)
    with pytest.raises(ValueError, match="outside the store root"):
        store.get("brand-5/secret.txt")
    with pytest.raises(ValueError, match="outside the store root"):
        store.put("brand-5/new.txt", b"x", "text/plain")
    assert not (outside / "new.txt").exists()


def test_local_needs_a_secret(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="secret"):
        LocalBlobStore(tmp_path, "", BASE_URL)


# --- S3 (moto over HTTP) -------------------------------------------------------------------


@pytest.fixture
def s3(moto_s3: str) -> S3BlobStore:  # noqa: F811 - pytest injects the imported fixture
    store = s3_store(moto_s3, new_bucket())
    store.ensure_bucket()
    return store


def test_s3_signed_url_downloads_with_filename(s3: S3BlobStore) -> None:
    data = b"\x89PNG\r\n\x1a\n" + os.urandom(64)
    s3.put(KEY, data, "image/png")
    response = httpx.get(s3.signed_url(KEY, expires_in=60, filename="Logo final.png"))
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "image/png"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="Logo final.png"')
    assert "filename*=UTF-8''Logo%20final.png" in disposition


def test_s3_signed_url_without_filename_is_inline(s3: S3BlobStore) -> None:
    s3.put(KEY, b"data", "image/png")
    url = s3.signed_url(KEY, expires_in=60)
    assert "X-Amz-Expires=60" in url
    response = httpx.get(url)
    assert response.status_code == 200
    assert response.content == b"data"
    assert "content-disposition" not in response.headers


def test_s3_put_applies_sse(s3: S3BlobStore, moto_s3: str) -> None:  # noqa: F811
    s3.put(KEY, b"secret", "image/png")
    head = raw_client(moto_s3).head_object(Bucket=s3.bucket, Key=KEY)
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ContentType"] == "image/png"


def test_s3_prefix_is_applied_and_hidden(moto_s3: str) -> None:  # noqa: F811
    store = s3_store(moto_s3, new_bucket(), prefix="tenant-a")
    store.ensure_bucket()
    store.put(KEY, b"x", "image/png")
    listed = raw_client(moto_s3).list_objects_v2(Bucket=store.bucket)["Contents"]
    assert [item["Key"] for item in listed] == [f"tenant-a/{KEY}"]
    assert store.keys("brand-3/") == [KEY]
    assert store.get(KEY) == b"x"


def test_s3_missing_bucket_is_a_storage_error_not_a_missing_blob(moto_s3: str) -> None:  # noqa: F811
    store = s3_store(moto_s3, new_bucket())
    with pytest.raises(StorageError, match="NoSuchBucket") as info:
        store.get(KEY)
    assert not isinstance(info.value, BlobNotFound)
    assert store.bucket in str(info.value)


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-1"])
def test_s3_ensure_bucket_is_region_aware_and_idempotent(
    moto_s3: str,  # noqa: F811
    region: str,
) -> None:
    store = s3_store(moto_s3, new_bucket(), region=region)
    store.ensure_bucket()
    store.ensure_bucket()
    location = raw_client(moto_s3, region).get_bucket_location(Bucket=store.bucket)
    assert location.get("LocationConstraint") == (None if region == "us-east-1" else region)


# --- factory -------------------------------------------------------------------------------


def settings(tmp_path: Path, **values: Any) -> Settings:
    base: dict[str, Any] = {
        "data_dir": tmp_path,
        "secret_key": SECRET,
        "public_base_url": BASE_URL,
        "aws_region": REGION,
        "aws_endpoint_url": None,
        "aws_access_key_id": None,
        "aws_secret_access_key": None,
        "s3_sse": None,
    }
    base.update(values)
    return Settings(_env_file=None, **base)


def test_factory_local(tmp_path: Path) -> None:
    store = make_blob_store(settings(tmp_path, asset_store="local"))
    assert isinstance(store, LocalBlobStore)
    assert store.root == tmp_path / "assets"
    store.put(KEY, b"x", "image/png")
    assert (tmp_path / "assets" / "blobs" / KEY).is_file()
    key, expires, sig, _ = signed_params(store.signed_url(KEY, expires_in=60))
    assert LocalBlobStore(tmp_path / "assets", SECRET, BASE_URL).verify(key, expires, sig, None)


def test_factory_s3(tmp_path: Path, moto_s3: str) -> None:  # noqa: F811
    bucket = new_bucket()
    store = make_blob_store(
        settings(
            tmp_path,
            asset_store="s3",
            s3_bucket=bucket,
            s3_sse="AES256",
            aws_endpoint_url=moto_s3,
            aws_access_key_id=MOTO_ACCESS_KEY_ID,
            aws_secret_access_key=MOTO_SECRET_ACCESS_KEY,
        )
    )
    assert isinstance(store, S3BlobStore)
    assert (store.bucket, store.region, store.sse) == (bucket, REGION, "AES256")
    store.ensure_bucket()
    store.put(KEY, b"x", "image/png")
    head = raw_client(moto_s3).head_object(Bucket=bucket, Key=KEY)
    assert head["ServerSideEncryption"] == "AES256"


# --- write-once objects (audit checkpoints) ---------------------------------------------------

CHECKPOINT = "brand-3/cp-999999999957-seq-42-20261202T101500000000Z.json"


def _until(days: int = 30) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


@pytest.fixture(params=["local", "s3-locked", "s3-unlocked"])
def write_once(request: pytest.FixtureRequest, tmp_path: Path) -> WriteOnceStore:
    if request.param == "local":
        return LocalBlobStore(tmp_path / "audit-checkpoints", SECRET, BASE_URL)
    s3 = s3_store(request.getfixturevalue("moto_s3"), new_bucket(), prefix="audit-checkpoints/")
    s3.ensure_bucket(object_lock=request.param == "s3-locked")
    return s3


def test_write_once_objects_are_listed_newest_seq_first(write_once: WriteOnceStore) -> None:
    for seq in (7, 42, 3):
        name = f"brand-3/cp-{10**12 - 1 - seq:012d}-seq-{seq}-x.json"
        write_once.put_new(
            name, b"{}", "application/json", retain_until=_until(), mode="GOVERNANCE"
        )
    write_once.put_new(
        "brand-4/cp-1.json", b"{}", "application/json", retain_until=_until(), mode="GOVERNANCE"
    )
    listed = write_once.keys("brand-3/")
    assert [k.split("-seq-")[1] for k in listed] == ["42-x.json", "7-x.json", "3-x.json"]
    assert write_once.keys("brand-3/", limit=1) == listed[:1]
    assert write_once.get(listed[0]) == b"{}"


def test_local_write_once_never_replaces_an_object(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "audit-checkpoints", SECRET, BASE_URL)
    retention = store.put_new(
        CHECKPOINT, b"first", "application/json", retain_until=_until(), mode="GOVERNANCE"
    )
    with pytest.raises(BlobExists):
        store.put_new(
            CHECKPOINT, b"second", "application/json", retain_until=_until(), mode="GOVERNANCE"
        )
    assert store.get(CHECKPOINT) == b"first"
    path = tmp_path / "audit-checkpoints" / "blobs" / CHECKPOINT
    assert path.stat().st_mode & 0o222 == 0
    # A disk has no retention lock, and the store says so rather than pretending.
    assert (retention.locked, retention.retain_until) == (False, None)
    assert "no retention lock" in retention.note
    assert store.retention(CHECKPOINT) == retention
    assert store.location(CHECKPOINT) == f"local:audit-checkpoints/blobs/{CHECKPOINT}"


def test_s3_write_once_objects_carry_an_object_lock_retention(moto_s3: str) -> None:  # noqa: F811
    bucket = new_bucket()
    store = s3_store(moto_s3, bucket, prefix="audit-checkpoints/")
    store.ensure_bucket(object_lock=True)
    until = _until(365)
    retention = store.put_new(
        CHECKPOINT, b"{}", "application/json", retain_until=until, mode="COMPLIANCE"
    )
    assert (retention.mode, retention.retain_until) == ("COMPLIANCE", until)
    full_key = f"audit-checkpoints/{CHECKPOINT}"
    # Read back with a client of its own, not through the code under test.
    client = raw_client(moto_s3)
    head = client.head_object(Bucket=bucket, Key=full_key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert abs(head["ObjectLockRetainUntilDate"] - until) < timedelta(seconds=1)
    assert store.retention(CHECKPOINT).mode == "COMPLIANCE"
    assert store.location(CHECKPOINT) == f"s3://{bucket}/{full_key}"
    # The locked version cannot be removed, not even by the store's own credentials.
    version = client.list_object_versions(Bucket=bucket)["Versions"][0]["VersionId"]
    with pytest.raises(ClientError, match="AccessDenied"):
        client.delete_object(Bucket=bucket, Key=full_key, VersionId=version)
    assert store.get(CHECKPOINT) == b"{}"


def test_s3_without_object_lock_still_writes_and_says_so(moto_s3: str) -> None:  # noqa: F811
    bucket = new_bucket()
    store = s3_store(moto_s3, bucket)
    store.ensure_bucket()
    retention = store.put_new(
        CHECKPOINT, b"{}", "application/json", retain_until=_until(), mode="GOVERNANCE"
    )
    assert store.get(CHECKPOINT) == b"{}"
    assert (retention.locked, retention.retain_until) == (False, None)
    assert f"bucket {bucket} has no Object Lock" in retention.note
    assert store.retention(CHECKPOINT) == retention
    assert "ObjectLockMode" not in raw_client(moto_s3).head_object(Bucket=bucket, Key=CHECKPOINT)


def test_factory_checkpoint_store(tmp_path: Path, moto_s3: str) -> None:  # noqa: F811
    local = make_checkpoint_store(settings(tmp_path, asset_store="local"))
    assert isinstance(local, LocalBlobStore)
    assert local.root == tmp_path / "audit-checkpoints"
    s3 = make_checkpoint_store(
        settings(
            tmp_path,
            asset_store="s3",
            s3_bucket="assets",
            audit_checkpoint_bucket="audit",
            aws_endpoint_url=moto_s3,
        )
    )
    assert isinstance(s3, S3BlobStore)
    assert (s3.bucket, s3.prefix) == ("audit", "audit-checkpoints/")
    shared = make_checkpoint_store(
        settings(tmp_path, asset_store="s3", s3_bucket="assets", aws_endpoint_url=moto_s3)
    )
    assert isinstance(shared, S3BlobStore) and shared.bucket == "assets"
