"""The SES feedback webhook (SNS over HTTPS): only configured topics, only valid signatures.

No user authentication: the SNS signature is the credential. The certificate fetcher lives on
app.state so tests can sign with their own certificate."""

from __future__ import annotations

import logging
import urllib.request

from fastapi import APIRouter, Request, Response

from api.deps import SessionDep, SettingsDep
from api.security import PublicRoute
from core.errors import Problem
from mail.sns import SnsError, fetch_cert_https, is_sns_cert_url, parse_feedback
from services import feedback

router = APIRouter(prefix="/api/v1", tags=["delivery"])
log = logging.getLogger(__name__)


def confirm_subscription(url: str) -> None:
    """SNS waits for a GET on the SubscribeURL before it sends notifications."""
    if not is_sns_cert_url(url.split("?")[0].rsplit("/", 1)[0] + "/x.pem"):
        raise SnsError("refusing a subscribe URL outside SNS")
    with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - https on an SNS host
        resp.read(65536)


@router.post("/feedback/ses", status_code=200)
async def ses_feedback(
    _: PublicRoute, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    body = await request.body()
    state = request.app.state
    try:
        event = parse_feedback(
            body,
            topic_arns=settings.ses_sns_topic_arns,
            fetch_cert=getattr(state, "sns_fetch_cert", fetch_cert_https),
            cert_url_allowed=getattr(state, "sns_cert_url_allowed", is_sns_cert_url),
        )
    except SnsError as err:
        raise Problem(f"body: {err}", status=403 if "topic" in str(err) else 400) from err
    if event.kind == "subscription_confirmation" and event.subscribe_url:
        getattr(state, "sns_confirm", confirm_subscription)(event.subscribe_url)
        return Response(status_code=200)
    row = feedback.apply(session, event)
    log.info("ses %s for delivery %s", event.kind, row.id if row else "unknown")
    return Response(status_code=200)
