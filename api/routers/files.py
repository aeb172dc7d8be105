"""Files of the local asset store, served only through signed, expiring URLs.

The signature is the permission: the API signed the URL after checking the caller's access,
so this route needs no sign-in (an <img> in a preview or an email client cannot send one).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.deps import BlobStoreDep
from api.security import PublicRoute
from core.errors import NotFound, Problem
from storage.base import BlobNotFound, content_disposition
from storage.local import LocalBlobStore

router = APIRouter(tags=["files"])
# The one spelling of the signed expiry: another one ("0" + it, "+" + it) would otherwise parse
# to the same integer and keep the link valid under a different text.
CANONICAL_EXPIRES = r"^(0|[1-9][0-9]{0,15})$"


@router.get("/files/{key:path}", summary="Download a file through a signed URL")
def download_signed_file(
    _: PublicRoute,
    store: BlobStoreDep,
    key: str,
    expires: Annotated[str, Query(pattern=CANONICAL_EXPIRES)],
    sig: Annotated[str, Query(max_length=128)],
    filename: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    if not isinstance(store, LocalBlobStore):
        raise NotFound("file", key)
    try:
        valid = store.verify(key, int(expires), sig, filename)
    except ValueError:
        valid = False
    if not valid:
        raise Problem("this link is invalid or has expired", status=403, title="Forbidden")
    try:
        data = store.get(key)
        content_type = store.content_type(key)
    except BlobNotFound as err:
        raise NotFound("file", key) from err
    headers = {
        "Cache-Control": "private, max-age=60",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
    }
    if filename:
        headers["Content-Disposition"] = content_disposition(filename)
    return Response(data, media_type=content_type, headers=headers)
