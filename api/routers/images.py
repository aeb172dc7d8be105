"""Email images at stable public URLs: GET /i/{token}, no sign-in, no listing.

An email client fetches images without credentials, months after the send, so the token is the
only key (see services.asset_publication). Unknown tokens are 404, images no longer published
(archived, licence expired) 410; nothing under /i/ lists anything. Only JPEG and PNG renditions
are ever published, served with nosniff and a CSP that forbids everything, so a served file can
never run as a page.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Response

from api.deps import BlobStoreDep, SessionDep
from api.security import PublicRoute
from core.errors import NotFound, Problem
from models.base import utcnow
from services import asset_publication as publication
from storage.base import BlobNotFound

router = APIRouter(tags=["images"])
TOKEN_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"  # noqa: S105 - a URL shape, not a secret
# A day: mail proxies and browsers keep the image, and an unpublished image leaves their caches
# within a day (the entity tag lets them revalidate cheaply).
CACHE_CONTROL = "public, max-age=86400"
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Referrer-Policy": "no-referrer",
}


# HEAD answers as GET does (mail clients and proxies probe with it); documented once, as GET.
@router.api_route(
    "/i/{token}", methods=["HEAD"], include_in_schema=False, summary="Read an image of a sent email"
)
@router.get("/i/{token}", summary="Read an image of a sent email")
def read_public_image(
    _: PublicRoute,
    session: SessionDep,
    store: BlobStoreDep,
    token: Annotated[str, Path(pattern=TOKEN_PATTERN)],
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """An image published for emails: 200 with the bytes, 304 when the client has them, 404
    for an unknown token, 410 once unpublished."""
    try:
        served = publication.serve(session, store, token, utcnow().date())
    except publication.Gone as err:
        raise Problem("this image is no longer available", status=410, title="Gone") from err
    except BlobNotFound as err:
        raise NotFound("image", token) from err
    if served is None:
        raise NotFound("image", token)
    headers = {**HEADERS, "Cache-Control": CACHE_CONTROL, "ETag": served.etag}
    if if_none_match is not None and served.etag in [t.strip() for t in if_none_match.split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(served.data, media_type=served.content_type, headers=headers)
