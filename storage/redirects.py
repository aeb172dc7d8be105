"""Redirects to stored files stay on the origin the page was opened with.

The local store signs links under PUBLIC_BASE_URL (emails need an absolute address). A browser
that opened the portal at another host name (127.0.0.1, a LAN name) would be sent to that fixed
host, which the page's CSP (img-src 'self') blocks, so redirects strip the store's own base and
answer with a path: the browser resolves it against the origin it is on. No Host header is read,
so a forged one cannot steer a redirect. S3's presigned URLs are another origin and stay
absolute.
"""

from __future__ import annotations

from storage.base import BlobStore
from storage.local import LocalBlobStore


def same_origin(store: BlobStore, url: str) -> str:
    """`url` as a site-relative path when the local store signed it, else unchanged."""
    if not isinstance(store, LocalBlobStore):
        return url
    base = store.base_url
    if base and url.startswith(base + "/"):
        return url[len(base) :]
    return url
