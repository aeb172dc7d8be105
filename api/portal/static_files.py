"""The portal's own CSS and JavaScript and the vendored htmx, served from the package: no CDN
and no build step."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from api.portal.web import HERE, PortalOpen, PortalRoute
from core.errors import NotFound

router = APIRouter(route_class=PortalRoute, include_in_schema=False, tags=["portal"])
STATIC = HERE / "static"
TYPES = {".css": "text/css", ".js": "text/javascript"}
# Fixed at start-up: a request can only name one of these files.
FILES = {
    p.relative_to(STATIC).as_posix(): p
    for p in STATIC.rglob("*")
    if p.is_file() and p.suffix in TYPES
}


@router.get("/static/{name:path}")
def static_file(_: PortalOpen, name: str) -> FileResponse:
    path = FILES.get(name)
    if path is None:
        raise NotFound("file", name)
    return FileResponse(
        path,
        media_type=TYPES[path.suffix],
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
