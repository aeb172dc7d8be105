"""Errors the services raise; the API renders them as problem+json with their status.

A detail may be a `core.said.Said`: English for the API, the reader's language on the portal's
error page (api/portal/web.py). `NotFound` always is, naming its resource with a noun from
`RESOURCES` (translated too; a resource not listed is named in English)."""

from __future__ import annotations

from typing import Any

from core.said import Said, said


class Problem(Exception):
    status: int = 400
    title: str = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        title: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title
        self.errors = errors
        self.headers = headers


# The resources services name in NotFound (and access.load's model names), as the portal
# says them; tests/i18n/test_service_messages.py checks every NotFound in the code is here.
NOUNS = (
    said("api token"),
    said("approval policy"),
    said("asset"),
    said("asset version"),
    said("brand"),
    said("brand block"),
    said("campaign"),
    said("campaign series"),
    said("campaign sheet"),
    said("catalogue item"),
    said("catalogue order"),
    said("claim"),
    said("contact"),
    said("delegation"),
    said("evidence"),
    said("file"),
    said("fund"),
    said("image"),
    said("journey"),
    said("journey activation"),
    said("journey version"),
    said("membership"),
    said("outbox message"),
    said("outbox message file"),
    said("partner"),
    said("partner campaign"),
    said("print order"),
    said("region"),
    said("segment"),
    said("standing approval of partner"),
    said("suppression"),
    said("template"),
    said("template version"),
    said("user"),
    said("webhook"),
    said("webhook event"),
)
RESOURCES: dict[str, Said] = {str(noun): noun for noun in NOUNS}


def resource_noun(resource: str) -> str:
    """The resource's noun, translatable where the portal shows it (else as written)."""
    return RESOURCES.get(resource, resource)


class NotFound(Problem):
    status = 404
    title = "Not found"

    def __init__(self, resource: str, ident: object) -> None:
        super().__init__(
            said("%(resource)s %(ident)s not found", resource=resource_noun(resource), ident=ident)
        )


class Forbidden(Problem):
    status = 403
    title = "Forbidden"


class Unauthorized(Problem):
    status = 401
    title = "Unauthorized"

    def __init__(self, detail: str = "Missing or invalid credentials") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Conflict(Problem):
    status = 409
    title = "Conflict"


class FieldError(Problem):
    """A 422 about one named field, for checks beyond the request schema."""

    status = 422
    title = "Invalid input"

    def __init__(self, field: str, message: str) -> None:
        # The same English "field: message" as ever; a said message stays translatable.
        detail = said("%(field)s: %(reason)s", field=field, reason=message)
        super().__init__(detail, errors=[{"field": field, "message": message}])
