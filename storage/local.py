"""The embedded blob store: files under a directory, served by the API through signed links.

Blobs live in <root>/blobs/<key> and their content types in <root>/meta/<key>: two parallel
trees rather than sidecar files, so no key (e.g. "x.meta") can collide with metadata.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

from core import signing
from storage.base import (
    BlobExists,
    BlobNotFound,
    Retention,
    StorageError,
    content_disposition,
    validate_content_type,
    validate_expires_in,
    validate_key,
    validate_prefix,
)

DEFAULT_CONTENT_TYPE = "application/octet-stream"
# Reading a "key" whose path runs into a file or a directory means there is no such blob.
_MISSING = (FileNotFoundError, NotADirectoryError, IsADirectoryError)


def _atomic_write(path: Path, data: bytes) -> None:
    """Temp file in the same directory then os.replace: readers see the old or the new
    content, never a partial file, and a failed write leaves nothing behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # "~" cannot occur in a key, so temp files are never mistaken for blobs by keys().
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix="~")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _exclusive_write(path: Path, data: bytes) -> None:
    """Like _atomic_write, but the final step is a hard link, which refuses a taken name: a
    write-once object is never replaced, even by a racing writer."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix="~")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o444)
        os.link(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


_LOCAL_RETENTION = Retention(
    None, None, "local file, no retention lock (whoever can write the data directory can change it)"
)


class LocalBlobStore:
    """Needs nothing but a disk, so dev and single-host installs run without S3."""

    def __init__(self, root: Path, secret: str, base_url: str) -> None:
        if not secret:
            raise ValueError("LocalBlobStore needs a non-empty secret to sign URLs")
        self.root = root
        self._blobs = (root / "blobs").resolve()
        self._meta = (root / "meta").resolve()
        self._secret = secret
        self._base_url = base_url.rstrip("/")

    @property
    def base_url(self) -> str:
        """Where signed links point (PUBLIC_BASE_URL): absolute, for emails."""
        return self._base_url

    def _path(self, tree: Path, key: str) -> Path:
        """Resolving catches symlinks planted inside the root that point outside it."""
        path = (tree / validate_key(key)).resolve()
        if not path.is_relative_to(tree):
            raise ValueError(f"blob key {key!r} resolves outside the store root")
        return path

    def file_path(self, key: str) -> Path:
        """For streaming responses (FileResponse) instead of loading the blob into memory."""
        path = self._path(self._blobs, key)
        if not path.is_file():
            raise BlobNotFound(key)
        return path

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(self._blobs, key)
        meta = self._path(self._meta, key)
        validate_content_type(content_type)
        try:
            previous_meta = meta.read_bytes() if meta.is_file() else None
            # Metadata first: once the blob is visible its content type is already there.
            _atomic_write(meta, json.dumps({"content_type": content_type}).encode())
            try:
                _atomic_write(path, data)
            except BaseException:
                self._restore_meta(meta, previous_meta)
                raise
        except OSError as exc:
            raise StorageError(f"local blob store: cannot write {key!r}: {exc}") from exc

    @staticmethod
    def _restore_meta(meta: Path, previous: bytes | None) -> None:
        """Best effort: a failed put should not leave the old blob with the new content type."""
        with contextlib.suppress(OSError):
            if previous is None:
                meta.unlink(missing_ok=True)
            else:
                _atomic_write(meta, previous)

    def get(self, key: str) -> bytes:
        path = self._path(self._blobs, key)
        try:
            return path.read_bytes()
        except _MISSING:
            raise BlobNotFound(key) from None
        except OSError as exc:
            raise StorageError(f"local blob store: cannot read {key!r}: {exc}") from exc

    def content_type(self, key: str) -> str:
        meta = self._path(self._meta, key)
        if not self.exists(key):
            raise BlobNotFound(key)
        try:
            value = json.loads(meta.read_bytes())["content_type"]
        except _MISSING:
            return DEFAULT_CONTENT_TYPE  # the blob outlived a crash between the two writes
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StorageError(f"local blob store: bad metadata for {key!r}: {exc}") from exc
        if not isinstance(value, str):
            raise StorageError(f"local blob store: bad metadata for {key!r}")
        return value

    def delete(self, key: str) -> None:
        path = self._path(self._blobs, key)
        meta = self._path(self._meta, key)
        try:
            for target in (path, meta):  # blob first: exists() turns false before meta goes
                with contextlib.suppress(*_MISSING):
                    target.unlink()
        except OSError as exc:
            raise StorageError(f"local blob store: cannot delete {key!r}: {exc}") from exc

    def exists(self, key: str) -> bool:
        return self._path(self._blobs, key).is_file()

    def put_new(
        self, key: str, data: bytes, content_type: str, *, retain_until: datetime, mode: str
    ) -> Retention:
        """Write-once: the file is created read-only and never replaced. A local disk has no
        retention lock, which the answer says."""
        path = self._path(self._blobs, key)
        meta = self._path(self._meta, key)
        validate_content_type(content_type)
        try:
            if path.exists():
                raise BlobExists(key)
            _atomic_write(meta, json.dumps({"content_type": content_type}).encode())
            _exclusive_write(path, data)
        except FileExistsError:
            raise BlobExists(key) from None
        except OSError as exc:
            raise StorageError(f"local blob store: cannot write {key!r}: {exc}") from exc
        return _LOCAL_RETENTION

    def retention(self, key: str) -> Retention:
        if not self.exists(key):
            raise BlobNotFound(key)
        return _LOCAL_RETENTION

    def location(self, key: str) -> str:
        return f"local:{self.root.name}/blobs/{validate_key(key)}"

    def keys(self, prefix: str, *, limit: int | None = None) -> list[str]:
        validate_prefix(prefix)
        directory = prefix.rpartition("/")[0]
        start = self._path(self._blobs, directory) if directory else self._blobs
        found: list[str] = []
        for dirpath, _dirnames, filenames in os.walk(start):
            for name in filenames:
                key = (Path(dirpath) / name).relative_to(self._blobs).as_posix()
                if key.startswith(prefix) and "~" not in name:
                    found.append(key)
        return sorted(found)[:limit]

    @staticmethod
    def _message(key: str, expires: int, filename: str | None) -> bytes:
        """JSON keeps the fields unambiguous (no key/filename split makes the same message);
        the purpose label inside it separates these MACs from every other use of SECRET_KEY."""
        label = signing.FILE_URL.label.decode()
        return json.dumps([label, key, expires, filename], separators=(",", ":")).encode()

    def signed_url(self, key: str, *, expires_in: int, filename: str | None = None) -> str:
        validate_key(key)
        validate_expires_in(expires_in)
        if filename is not None:
            content_disposition(filename)  # refuse now what the download route could not serve
        expires = int(time.time()) + expires_in
        message = self._message(key, expires, filename)
        params: dict[str, str | int] = {
            "expires": expires,
            "sig": signing.mac(self._secret, signing.FILE_URL, message),
        }
        if filename is not None:
            params["filename"] = filename
        return f"{self._base_url}/files/{key}?{urlencode(params)}"

    def verify(
        self, key: str, expires: int, sig: str, filename: str | None, now: float | None = None
    ) -> bool:
        """Checks a download link's parameters; all inputs are untrusted, so never raises. The
        signature must be the canonical lower-case hex; `expires` arrives as an integer, so the
        route must refuse other spellings of it (leading zeros, a sign)."""
        try:
            validate_key(key)
        except ValueError:
            return False
        if (time.time() if now is None else now) > expires:
            return False
        message = self._message(key, expires, filename)
        return signing.mac_ok(self._secret, signing.FILE_URL, message, sig)
