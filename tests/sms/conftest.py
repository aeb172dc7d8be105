"""The SMS tests drive the same SendWorkflow worker as the delivery tests, and SNS on a moto
server over real HTTP (one per test module, so each module reads only its own published SMS)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer
from pydantic import SecretStr

from core.settings import Settings, SmsTransportKind
from tests.delivery.conftest import delivery_worker
from tests.moto_fixture import MOTO_ACCESS_KEY_ID, MOTO_SECRET_ACCESS_KEY

__all__ = ["delivery_worker"]
REGION = "eu-west-1"


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
def sns_settings(settings: Settings, moto_endpoint: str) -> Settings:
    """SMS through SNS on the module's moto server."""
    return settings.model_copy(
        update={
            "sms_transport": SmsTransportKind.sns,
            "aws_region": REGION,
            "aws_endpoint_url": moto_endpoint,
            "aws_access_key_id": MOTO_ACCESS_KEY_ID,
            "aws_secret_access_key": SecretStr(MOTO_SECRET_ACCESS_KEY),
        }
    )
