"""The blob store contract shared by the embedded (local) and S3 implementations.

Keys are validated here, once, so that no implementation can be handed a key that escapes
its root or means different things on disk and in S3.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable
from urllib.parse import quote

_KEY_CHARS = re.compile(r"[A-Za-z0-9._/-]+")
# S3 refuses presigned URLs valid for longer than 7 days; the local store keeps the same limit
# so code written against one implementation does not break on the other.
MAX_SIGNED_URL_SECONDS = 7 * 24 * 3600


class StorageError(Exception):
    """The store failed (unreachable, denied, misconfigured); the operation may be retried."""


class BlobNotFound(StorageError):
    """No blob under this key; a 404 for the API, never a retry."""

    def __init__(self, key: str) -> None:
        super().__init__(f"blob not found: {key}")
        self.key = key


class BlobExists(StorageError):
    """A write-once key is taken; never overwritten."""

    def __init__(self, key: str) -> None:
        super().__init__(f"blob already exists: {key}")
        self.key = key


def validate_key(key: str) -> str:
    """Refuse keys that could escape a root or alias another key on a filesystem."""
    if not isinstance(key, str) or not _KEY_CHARS.fullmatch(key):
        raise ValueError(f"invalid blob key {key!r}: only [A-Za-z0-9._/-] allowed")
    if key.startswith("/") or key.endswith("/"):
        raise ValueError(f"invalid blob key {key!r}: must not start or end with '/'")
    if ".." in key or any(part in ("", ".") for part in key.split("/")):
        raise ValueError(f"invalid blob key {key!r}: empty, '.' or '..' path segment")
    return key


def validate_prefix(prefix: str) -> str:
    """A listing prefix: "" (everything) or a key's beginning, possibly ending with '/'."""
    if prefix == "":
        return prefix
    validate_key(prefix[:-1] if prefix.endswith("/") else prefix)
    return prefix


def validate_expires_in(expires_in: int) -> int:
    if isinstance(expires_in, bool) or not 0 < expires_in <= MAX_SIGNED_URL_SECONDS:
        raise ValueError(f"expires_in must be 1..{MAX_SIGNED_URL_SECONDS} seconds")
    return expires_in


def validate_content_type(content_type: str) -> str:
    """It is replayed as a response header, so nothing that could split or forge headers."""
    if not content_type or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in content_type):
        raise ValueError(f"invalid content type {content_type!r}")
    return content_type


def brand_key(brand_id: int, *parts: str) -> str:
    """Every brand's blobs live under their own prefix, so a brand can be listed or purged whole.

    With no parts the result is the brand's prefix (ending in '/'), for keys() and cleanup.
    """
    if isinstance(brand_id, bool) or not isinstance(brand_id, int) or brand_id <= 0:
        raise ValueError(f"invalid brand id {brand_id!r}")
    key = f"brand-{brand_id}/" + "/".join(parts)
    return validate_key(key) if parts else key


def content_disposition(filename: str) -> str:
    """An attachment header that old clients read (ASCII fallback) and new ones read in full
    (RFC 6266 filename*), with nothing that could break out of the quoted string."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    if not name:
        raise ValueError(f"invalid download filename {filename!r}")
    fallback = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    fallback = fallback.replace('"', "").strip() or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


@runtime_checkable
class BlobStore(Protocol):
    """What the asset library needs from a store; implementations take validated or raw keys
    and validate them again themselves."""

    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes:
        """Raises BlobNotFound."""
        ...

    def content_type(self, key: str) -> str:
        """The type given at put; raises BlobNotFound."""
        ...

    def delete(self, key: str) -> None:
        """Idempotent: deleting a missing key is not an error, so cleanup can be retried."""
        ...

    def exists(self, key: str) -> bool: ...

    def signed_url(self, key: str, *, expires_in: int, filename: str | None = None) -> str:
        """A time-limited GET URL; with filename the download is an attachment of that name."""
        ...

    def keys(self, prefix: str) -> list[str]:
        """All keys starting with prefix (plain string prefix, as in S3), sorted."""
        ...


@dataclass(frozen=True)
class Retention:
    """What keeps a write-once object from being changed or deleted, in words for a report.

    `mode` and `retain_until` are set only where the store itself enforces the retention
    (S3 Object Lock); `note` says what protects the object, or that nothing does.
    """

    mode: str | None
    retain_until: datetime | None
    note: str

    @property
    def locked(self) -> bool:
        return self.mode is not None


@runtime_checkable
class WriteOnceStore(Protocol):
    """Objects written once and kept (audit checkpoints): no overwrite, a retention lock where
    the store offers one."""

    def put_new(
        self, key: str, data: bytes, content_type: str, *, retain_until: datetime, mode: str
    ) -> Retention:
        """Raises BlobExists for a taken key (where the store can tell)."""
        ...

    def get(self, key: str) -> bytes: ...

    def keys(self, prefix: str, *, limit: int | None = None) -> list[str]:
        """The first `limit` keys starting with prefix, sorted."""
        ...

    def retention(self, key: str) -> Retention: ...

    def location(self, key: str) -> str:
        """Where the object lives, for people: s3://bucket/key or the store's local path."""
        ...
