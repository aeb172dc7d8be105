"""What every route that SNS posts to shares: the raw body (the signature covers its bytes),
the certificate fetcher and URL check (with the test hooks on app.state), the subscription
confirmation, and the problem+json that names the field at fault.

Test hooks on app.state: `sns_fetch_cert(url) -> bytes` replaces the HTTPS fetch (still behind
the certificate cache, `sns_certificates`), `sns_cert_url_allowed(url) -> bool` replaces the
certificate URL's shape check, `sns_confirm(url)` replaces the confirmation GET.
"""

from __future__ import annotations

import http
from collections.abc import Callable
from typing import Any

from fastapi import Request

from core.errors import Problem
from mail.sns import SnsError
from mail.sns_http import CertificateCache, confirm_subscription, fetch_cert_https


async def raw_body(request: Request) -> bytes:
    return await request.body()


def signature_checks(request: Request) -> dict[str, Any]:
    """The `fetch_cert` and `cert_url_allowed` arguments of mail.sns's parsers."""
    state = request.app.state
    certificates: CertificateCache = state.sns_certificates
    return {
        "fetch_cert": certificates.fetcher(getattr(state, "sns_fetch_cert", fetch_cert_https)),
        "cert_url_allowed": getattr(state, "sns_cert_url_allowed", None),
    }


def confirm(request: Request, subscribe_url: str) -> None:
    """Confirm a topic subscription (a GET of the URL SNS sent, checked by the parser)."""
    confirmer: Callable[[str], Any] = getattr(
        request.app.state, "sns_confirm", confirm_subscription
    )
    confirmer(subscribe_url)


def problem(err: SnsError) -> Problem:
    message = str(err)
    return Problem(
        f"{err.field}: {message}",
        status=err.status,
        title=http.HTTPStatus(err.status).phrase,
        errors=[{"field": err.field, "message": message}],
    )
