"""The SMS transports: the outbox writes one row per message id; SNS publishes to moto's server
over real HTTP, asks the opt-out list first, and classifies what the provider refuses."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import boto3  # type: ignore[import-untyped]
import pytest
from botocore.config import Config  # type: ignore[import-untyped]
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends
from sqlalchemy import Engine
from sqlmodel import Session, select

from core.settings import Settings, SmsType
from mail.errors import (
    PermanentSendError,
    ThrottledError,
    TransportPausedError,
    TransportUnavailableError,
)
from mail.sms import INVALID_NUMBER, OPTED_OUT, SmsMessage
from mail.sms_transport import (
    OutboxSmsTransport,
    SnsSmsTransport,
    make_sms_transport,
)
from mail.tags import make_tags
from models.outbox import OutboxSms
from tests.moto_fixture import MOTO_ACCESS_KEY_ID, MOTO_SECRET_ACCESS_KEY
from tests.sms.conftest import REGION

# Outbox -----------------------------------------------------------------------------------------


def test_outbox_writes_one_row_per_message_id(db: Engine) -> None:
    outbox = OutboxSmsTransport(db)
    msg = SmsMessage(
        to="+31612345678", body="Open day Saturday €5", message_id="d-7-1", sender_id="AjaxAmst"
    )
    tags = make_tags(brand=3, partner_campaign=7, delivery="d-7-1")
    assert outbox.send_sms(msg, tags=tags) == "d-7-1"
    again = SmsMessage(to="+31612345678", body="changed", message_id="d-7-1")
    assert outbox.send_sms(again, tags=tags) == "d-7-1", "a second hand-over returns the first id"
    with Session(db) as s:
        rows = s.exec(select(OutboxSms)).all()
    assert len(rows) == 1
    row = rows[0]
    assert (row.to, row.sender_id, row.body, row.brand_id, row.partner_campaign_id) == (
        "+31612345678",
        "AjaxAmst",
        "Open day Saturday €5",
        3,
        7,
    )
    assert (row.delivery_id, row.is_test) == ("d-7-1", False)
    assert (row.encoding, row.segments) == ("GSM-7", 1)  # € is in GSM-7's extension table


def test_outbox_measures_ucs2_and_segments(db: Engine) -> None:
    outbox = OutboxSmsTransport(db)
    body = "Welkom 👋 " + "x" * 80  # an emoji forces UCS-2: 70 per single, 67 per part
    outbox.send_sms(SmsMessage(to="+31612345678", body=body, message_id="m-ucs"))
    with Session(db) as s:
        row = s.exec(select(OutboxSms)).one()
    assert (row.encoding, row.segments) == ("UCS-2", 2)


def test_outbox_database_fault_is_transport_unavailable(tmp_path: Any) -> None:
    from core.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'no-tables.db'}")  # no outboxsms table
    with pytest.raises(TransportUnavailableError) as caught:
        OutboxSmsTransport(engine).send_sms(
            SmsMessage(to="+31612345678", body="hi", message_id="x")
        )
    assert caught.value.code == "sms_outbox.record"


def test_make_sms_transport_defaults_to_the_outbox(settings: Settings, db: Engine) -> None:
    transport = make_sms_transport(settings, db)
    assert isinstance(transport, OutboxSmsTransport)
    assert transport.max_send_rate() == 1000.0
    faster = settings.model_copy(update={"sms_rate_per_second": 5.0})
    assert make_sms_transport(faster, db).max_send_rate() == 5.0


# SNS on moto ------------------------------------------------------------------------------------


def _wire(transport: SnsSmsTransport) -> list[dict[str, list[str]]]:
    """The Publish requests as they leave the client (moto keeps only number and text)."""
    bodies: list[dict[str, list[str]]] = []

    def capture(request: Any, **_: Any) -> None:
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        bodies.append(parse_qs(body))

    transport._client.meta.events.register("before-send.sns.Publish", capture)
    return bodies


def _published() -> dict[str, tuple[str, str]]:
    return dict(sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages)


def test_publishes_to_the_number_with_type_and_sender_id(sns_settings: Settings) -> None:
    transport = make_sms_transport(sns_settings)
    assert isinstance(transport, SnsSmsTransport)
    assert transport.max_send_rate() == 20.0
    wire = _wire(transport)
    msg = SmsMessage(to="+31612340001", body="Open day at Ajax", message_id="d-1", sender_id="Ajax")
    provider_id = transport.send_sms(msg, tags=make_tags(brand=1, delivery="d-1"))
    assert _published()[provider_id] == ("+31612340001", "Open day at Ajax")
    sent = wire[-1]
    names = {sent[k][0]: k for k in sent if k.endswith(".Name")}
    value = {n: sent[k.replace(".Name", ".Value.StringValue")][0] for n, k in names.items()}
    assert value == {"AWS.SNS.SMS.SMSType": "Transactional", "AWS.SNS.SMS.SenderID": "Ajax"}


def test_promotional_type_and_no_sender_id(sns_settings: Settings) -> None:
    promo = sns_settings.model_copy(update={"sms_type": SmsType.promotional})
    transport = SnsSmsTransport(promo)
    wire = _wire(transport)
    transport.send_sms(
        SmsMessage(to="+4915112345678", body="Tag der offenen Tür", message_id="d-2")
    )
    sent = wire[-1]
    names = [sent[k][0] for k in sent if k.endswith(".Name")]
    assert names == ["AWS.SNS.SMS.SMSType"]
    assert "Promotional" in json.dumps(sent)


def test_opted_out_number_is_refused_before_publishing(sns_settings: Settings) -> None:
    transport = SnsSmsTransport(sns_settings)
    wire = _wire(transport)
    before = len(_published())
    with pytest.raises(PermanentSendError) as caught:  # moto: numbers ending in 99 opted out
        transport.send_sms(SmsMessage(to="+31612345699", body="hi", message_id="d-3"))
    assert caught.value.code == OPTED_OUT
    assert not isinstance(caught.value, TransportPausedError)
    assert wire == [] and len(_published()) == before


def test_invalid_number_is_permanent(sns_settings: Settings) -> None:
    transport = SnsSmsTransport(sns_settings)
    with pytest.raises(PermanentSendError) as caught:
        transport.send_sms(SmsMessage(to="0612345678", body="hi", message_id="d-4"))
    assert caught.value.code == INVALID_NUMBER


# Provider faults, from a stand-in answering as SNS does -----------------------------------------


class _Answers(BaseHTTPRequestHandler):
    status = 400
    code = "Throttling"
    headers_out: dict[str, str] = {}

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        if "CheckIfPhoneNumberIsOptedOut" in body:
            self._reply(
                200,
                "<CheckIfPhoneNumberIsOptedOutResponse><CheckIfPhoneNumberIsOptedOutResult>"
                "<isOptedOut>false</isOptedOut></CheckIfPhoneNumberIsOptedOutResult>"
                "</CheckIfPhoneNumberIsOptedOutResponse>",
            )
            return
        self._reply(
            type(self).status,
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{type(self).code}</Code>"
            "<Message>refused here</Message></Error></ErrorResponse>",
            type(self).headers_out,
        )

    def _reply(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def faulty() -> Iterator[tuple[str, type[_Answers]]]:
    handler = type("Handler", (_Answers,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def _client(endpoint: str) -> Any:
    return boto3.session.Session().client(
        "sns",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id=MOTO_ACCESS_KEY_ID,
        aws_secret_access_key=MOTO_SECRET_ACCESS_KEY,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=2),
    )


@pytest.mark.parametrize(
    ("status", "code", "headers", "cls", "retry_after"),
    [
        (400, "Throttling", {"Retry-After": "3"}, ThrottledError, 3.0),
        (400, "ThrottledException", {}, ThrottledError, None),
        (400, "Throttled", {}, ThrottledError, None),
        (400, "InvalidParameter", {}, PermanentSendError, None),
        (429, "TooManyRequests", {}, ThrottledError, None),
        (500, "InternalError", {}, TransportUnavailableError, None),
        (503, "ServiceUnavailable", {}, TransportUnavailableError, None),
        (403, "AuthorizationError", {}, TransportPausedError, None),
    ],
)
def test_provider_faults_are_classified(
    settings: Settings,
    faulty: tuple[str, type[_Answers]],
    status: int,
    code: str,
    headers: dict[str, str],
    cls: type[Exception],
    retry_after: float | None,
) -> None:
    endpoint, handler = faulty
    handler.status, handler.code, handler.headers_out = status, code, headers
    transport = SnsSmsTransport(settings, client=_client(endpoint))
    with pytest.raises(cls) as caught:
        transport.send_sms(SmsMessage(to="+31612345678", body="hi", message_id="d-5"))
    assert caught.value.code == f"sns.{code}"  # type: ignore[attr-defined]
    if retry_after is not None:
        assert caught.value.retry_after == retry_after  # type: ignore[attr-defined]


def test_unreachable_provider_is_transport_unavailable(settings: Settings) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    port = server.server_address[1]
    server.server_close()  # nothing listens there now
    transport = SnsSmsTransport(settings, client=_client(f"http://127.0.0.1:{port}"))
    with pytest.raises(TransportUnavailableError):
        transport.send_sms(SmsMessage(to="+31612345678", body="hi", message_id="d-6"))


def test_missing_credentials_pause_and_our_own_bugs_surface() -> None:
    from botocore.exceptions import NoCredentialsError, ParamValidationError

    from mail.sms_transport import classify_sns_error

    paused = classify_sns_error(NoCredentialsError())
    assert isinstance(paused, TransportPausedError) and paused.code == "sns.credentials"
    bug = ParamValidationError(report="PhoneNumber: wrong type")
    assert classify_sns_error(bug) is bug
