"""The SES feedback webhook (SNS over HTTPS): only configured topics, only valid signatures.

No user authentication: the SNS signature is the credential. A refusal is a problem+json
naming the field at fault (SigningCertURL, SubscribeURL, Signature, TopicArn, ...).

The route is a plain (sync) function on purpose: after the body is read every step blocks
(fetching the certificate, the confirmation GET, the database writes), so FastAPI runs the
whole of it in its thread pool and the event loop stays free. Wrapping each call in
`asyncio.to_thread` would leave the database work on the loop or need wrapping too.

The SNS plumbing (raw body, certificate checks and their test hooks, confirmation, problems)
is api.sns_endpoint's, shared with the inbound SMS route.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from api.deps import SessionDep, SettingsDep
from api.security import PublicRoute
from api.sns_endpoint import confirm, problem, raw_body, signature_checks
from mail.sns import SnsError, parse_feedback
from services.engagement import feedback

router = APIRouter(prefix="/api/v1", tags=["delivery"])
log = logging.getLogger(__name__)


@router.post("/feedback/ses", status_code=200, summary="Receive SES feedback through SNS")
def receive_ses_feedback(
    _: PublicRoute,
    request: Request,
    body: Annotated[bytes, Depends(raw_body)],
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    try:
        event = parse_feedback(
            body, topic_arns=settings.ses_sns_topic_arns, **signature_checks(request)
        )
        if event.kind == "subscription_confirmation" and event.subscribe_url:
            confirm(request, event.subscribe_url)
            return Response(status_code=200)
    except SnsError as err:
        log.info("ses feedback refused (%s): %s", err.field, err)
        raise problem(err) from err
    row = feedback.apply(session, event)
    log.info("ses %s for delivery %s", event.kind, row.id if row else "unknown")
    return Response(status_code=200)
