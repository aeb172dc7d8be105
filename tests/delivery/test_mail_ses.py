"""The SES transport against moto's server over real HTTP: raw message, configuration set and
tags on the wire, errors classified, and the send rate."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.server import ThreadedMotoServer
from moto.ses.models import ses_backends
from pydantic import SecretStr

from core.settings import EmailTransport, Settings
from mail.errors import PermanentSendError
from mail.message import compose
from mail.tags import make_tags
from mail.transport import SesTransport, make_transport
from tests.moto_fixture import MOTO_ACCESS_KEY_ID, MOTO_SECRET_ACCESS_KEY

REGION = "eu-west-1"
SENDER = "Northwind <news@northwind.example>"


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def ses_settings(settings: Settings, moto_endpoint: str) -> Settings:
    return settings.model_copy(
        update={
            "email_transport": EmailTransport.ses,
            "aws_region": REGION,
            "aws_endpoint_url": moto_endpoint,
            "aws_access_key_id": MOTO_ACCESS_KEY_ID,
            "aws_secret_access_key": SecretStr(MOTO_SECRET_ACCESS_KEY),
            "ses_configuration_set": "brandrelay-events",
            "ses_fallback_send_rate": 3.0,
        }
    )


def _wire(transport: SesTransport) -> list[dict[str, Any]]:
    """The JSON bodies of SendEmail requests as they leave the client (moto does not keep
    tags or the configuration set, so they are checked on the wire)."""
    bodies: list[dict[str, Any]] = []

    def capture(request: Any, **_: Any) -> None:
        bodies.append(json.loads(request.body))

    transport._client.meta.events.register("before-send.sesv2.SendEmail", capture)
    return bodies


def _sent(message_id: str) -> Any:
    backend = ses_backends[DEFAULT_ACCOUNT_ID][REGION]
    return next(m for m in backend.sent_messages if m.id == message_id)


def test_sends_the_raw_message_with_configuration_set_and_tags(ses_settings: Settings) -> None:
    transport = make_transport(ses_settings)
    assert isinstance(transport, SesTransport)
    transport._client.create_email_identity(EmailIdentity="northwind.example")
    wire = _wire(transport)
    msg = compose(
        sender=SENDER,
        to=["Ann <ann@example.com>"],
        subject="Open day",
        text="Come by.",
        html="<p>Come by.</p>",
        headers={
            "List-Unsubscribe": "<https://brandrelay.example/u/tok>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    tags = make_tags(brand=1, campaign=7, partner=3, partner_campaign=12, delivery="d-12-99")
    ses_id = transport.send(msg, tags=tags)

    assert ses_id and ses_id != msg["Message-ID"]  # SES's id, which its events name
    raw = _sent(ses_id).raw_data
    assert f"Message-ID: {msg['Message-ID']}" in raw
    assert "List-Unsubscribe: <https://brandrelay.example/u/tok>" in raw
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in raw
    assert "multipart/alternative" in raw
    [body] = wire
    assert body["ConfigurationSetName"] == "brandrelay-events"
    assert {t["Name"]: t["Value"] for t in body["EmailTags"]} == {
        "brand": "1",
        "campaign": "7",
        "partner": "3",
        "partner_campaign": "12",
        "delivery": "d-12-99",
    }
    assert b"Subject: Open day\r\n" in base64.b64decode(body["Content"]["Raw"]["Data"])
    # Existing callers: no tags, the same return value.
    assert transport.send(compose(sender=SENDER, to=["b@example.com"], subject="s", text="t"))
    assert "EmailTags" not in wire[-1]


def test_unverified_sender_is_a_permanent_error(ses_settings: Settings) -> None:
    transport = make_transport(ses_settings)
    msg = compose(sender="x@unverified.example", to=["a@example.com"], subject="s", text="t")
    with pytest.raises(PermanentSendError) as caught:
        transport.send(msg)
    assert caught.value.code == "ses.MessageRejected"
    assert "unverified.example" in caught.value.reason


def test_bad_tags_are_refused_before_sending(ses_settings: Settings) -> None:
    transport = make_transport(ses_settings)
    msg = compose(sender=SENDER, to=["a@example.com"], subject="s", text="t")
    with pytest.raises(ValueError, match="tag delivery"):
        transport.send(msg, tags={"delivery": "has space"})


def test_max_send_rate_falls_back_when_get_account_is_unavailable(
    ses_settings: Settings,
) -> None:
    transport = make_transport(ses_settings)
    assert transport.rate_key == f"ses:{REGION}"
    assert transport.max_send_rate() == 3.0  # moto has no GetAccount: the fallback setting
    pinned = make_transport(ses_settings.model_copy(update={"send_rate_per_second": 20.0}))
    assert pinned.max_send_rate() == 20.0

    class Account:
        meta = None

        def get_account(self) -> dict[str, Any]:
            return {"SendQuota": {"MaxSendRate": 14.0, "Max24HourSend": 50000.0}}

    assert SesTransport(Account()).max_send_rate() == 14.0


def test_moto_backend_is_reached_over_http(ses_settings: Settings) -> None:
    """An identity made through the transport's client is visible to a second client: the
    calls went through the server, not an in-process mock."""
    make_transport(ses_settings)._client.create_email_identity(EmailIdentity="seen.example")  # type: ignore[attr-defined]
    other = boto3.client(
        "sesv2",
        region_name=REGION,
        endpoint_url=ses_settings.aws_endpoint_url,
        aws_access_key_id=MOTO_ACCESS_KEY_ID,
        aws_secret_access_key=MOTO_SECRET_ACCESS_KEY,
    )
    names = [i["IdentityName"] for i in other.list_email_identities()["EmailIdentities"]]
    assert "seen.example" in names
