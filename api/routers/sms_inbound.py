"""Inbound SMS (AWS two-way SMS through SNS): a STOP reply suppresses the number at once.

No user authentication: the SNS signature is the credential, checked exactly as for SES
feedback (api.sns_endpoint, whose test hooks on app.state apply here too), with topics
from SMS_INBOUND_TOPIC_ARNS. Unsigned or forged: 403; malformed: 400 naming the field;
anything genuine, STOP or not: 200 (SNS retries whatever it sees fail).
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from api.deps import SessionDep, SettingsDep
from api.security import PublicRoute
from api.sns_endpoint import confirm, problem, raw_body, signature_checks
from mail.sms_inbound import parse_inbound
from mail.sns import SnsError
from services import audit
from services.sms import inbound as sms_inbound

router = APIRouter(prefix="/api/v1", tags=["delivery"])
log = logging.getLogger(__name__)


@router.post("/sms/inbound", status_code=200, summary="Receive inbound SMS (STOP) through SNS")
def receive_inbound_sms(
    _: PublicRoute,
    request: Request,
    body: Annotated[bytes, Depends(raw_body)],
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    try:
        sms = parse_inbound(
            body, topic_arns=settings.sms_inbound_topic_arns, **signature_checks(request)
        )
        if sms.kind == "subscription_confirmation" and sms.subscribe_url:
            confirm(request, sms.subscribe_url)
            return Response(status_code=200)
    except SnsError as err:
        log.info("inbound sms refused (%s): %s", err.field, err)
        raise problem(err) from err
    if sms.is_stop:
        audit.begin_write(session)
        rows = sms_inbound.apply_stop(session, sms)
        log.info("inbound STOP: %d brand(s) suppress the number", len(rows))
    return Response(status_code=200)
