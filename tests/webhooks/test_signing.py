"""Standard Webhooks signatures: what a receiver's verify accepts and refuses."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest

from services.webhooks.signing import (
    WebhookVerificationError,
    new_secret,
    sign_headers,
    verify,
)

BODY = b'{"type":"webhook.test","data":{"message":"ping"}}'


def test_the_signature_is_the_standard_webhooks_hmac_and_verifies() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    now = int(time.time())
    headers = sign_headers([secret], "msg_1", now, BODY)
    # Computed independently, as a receiver's library would.
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"msg_1.{now}.".encode() + BODY, hashlib.sha256).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(mac).decode()
    verify(secret, headers, BODY)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h, b: (h, b + b" "),  # body changed
        lambda h, b: ({**h, "webhook-id": "msg_2"}, b),  # id changed
        lambda h, b: ({**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) + 1)}, b),
        lambda h, b: ({**h, "webhook-signature": "v1,AAAA"}, b),
        lambda h, b: ({**h, "webhook-signature": h["webhook-signature"].replace("v1", "v2")}, b),
        lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b),
        lambda h, b: ({**h, "webhook-timestamp": "soon"}, b),
    ],
)
def test_tampered_messages_are_refused(tamper: object) -> None:
    secret = new_secret()
    headers, body = tamper(sign_headers([secret], "msg_1", int(time.time()), BODY), BODY)  # type: ignore[operator]
    with pytest.raises(WebhookVerificationError):
        verify(secret, headers, body)


def test_timestamps_outside_the_tolerance_are_refused_as_replays() -> None:
    secret = new_secret()
    now = int(time.time())
    old = sign_headers([secret], "msg_1", now - 301, BODY)
    future = sign_headers([secret], "msg_1", now + 301, BODY)
    for headers in (old, future):
        with pytest.raises(WebhookVerificationError, match="tolerance"):
            verify(secret, headers, BODY, now=now)
    verify(secret, old, BODY, now=now, tolerance_seconds=600)


def test_during_a_rotation_both_secrets_sign_and_either_verifies() -> None:
    old, new = new_secret(), new_secret()
    headers = sign_headers([new, old], "msg_1", int(time.time()), BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    verify(old, headers, BODY)
    verify(new, headers, BODY)
    with pytest.raises(WebhookVerificationError):
        verify(new_secret(), headers, BODY)
