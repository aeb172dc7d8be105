"""The SES feedback webhook (SNS over HTTPS): only configured topics, only valid signatures.

No user authentication: the SNS signature is the credential. A refusal is a problem+json
naming the field at fault (SigningCertURL, SubscribeURL, Signature, TopicArn, ...).

The route is a plain (sync) function on purpose: after the body is read every step blocks
(fetching the certificate, the confirmation GET, the database writes), so FastAPI runs the
whole of it in its thread pool and the event loop stays free. Wrapping each call in
`asyncio.to_thread` would leave the database work on the loop or need wrapping too.

Test hooks on app.state: `sns_fetch_cert(url) -> bytes` replaces the HTTPS fetch (still
behind the certificate cache, `sns_certificates`), `sns_cert_url_allowed(url) -> bool`
replaces the certificate URL's shape check, `sns_confirm(url)` replaces the confirmation GET.
"""

from __future__ import annotations

import http
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from api.deps import SessionDep, SettingsDep
from api.security import PublicRoute
from core.errors import Problem
from mail.sns import SnsError, parse_feedback
from mail.sns_http import CertificateCache, confirm_subscription, fetch_cert_https
from services.engagement import feedback

router = APIRouter(prefix="/api/v1", tags=["delivery"])
log = logging.getLogger(__name__)


async def _raw_body(request: Request) -> bytes:
    return await request.body()


def _problem(err: SnsError) -> Problem:
    message = str(err)
    return Problem(
        f"{err.field}: {message}",
        status=err.status,
        title=http.HTTPStatus(err.status).phrase,
        errors=[{"field": err.field, "message": message}],
    )


@router.post("/feedback/ses", status_code=200, summary="Receive SES feedback through SNS")
def receive_ses_feedback(
    _: PublicRoute,
    request: Request,
    body: Annotated[bytes, Depends(_raw_body)],
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    state = request.app.state
    certificates: CertificateCache = state.sns_certificates
    try:
        event = parse_feedback(
            body,
            topic_arns=settings.ses_sns_topic_arns,
            fetch_cert=certificates.fetcher(getattr(state, "sns_fetch_cert", fetch_cert_https)),
            cert_url_allowed=getattr(state, "sns_cert_url_allowed", None),
        )
        if event.kind == "subscription_confirmation" and event.subscribe_url:
            getattr(state, "sns_confirm", confirm_subscription)(event.subscribe_url)
            return Response(status_code=200)
    except SnsError as err:
        log.info("ses feedback refused (%s): %s", err.field, err)
        raise _problem(err) from err
    row = feedback.apply(session, event)
    log.info("ses %s for delivery %s", event.kind, row.id if row else "unknown")
    return Response(status_code=200)
