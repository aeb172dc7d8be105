"""Where webhooks may not go, checked at registration and again at delivery."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from core.settings import Settings
from models.webhooks import WebhookEndpoint, WebhookEvent
from services.webhooks import delivery, ssrf
from services.webhooks.signing import new_secret

STRICT = {"allow_http": False, "allow_private": False}


@pytest.mark.parametrize(
    "url",
    [
        "http://93.184.215.14/hook",  # http in production settings
        "https://user:pw@93.184.215.14/hook",  # credentials
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://172.16.0.1/hook",
        "https://192.168.1.1/hook",
        "https://169.254.169.254/latest/meta-data",  # cloud metadata (link-local)
        "https://100.64.0.1/hook",  # shared address space
        "https://0.0.0.0/hook",
        "https://224.0.0.1/hook",  # multicast
        "https://240.0.0.1/hook",  # reserved
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",  # IPv4-mapped loopback
        "https://[fe80::1]/hook",
        "https://[fc00::1]/hook",
        "https://localhost/hook",
        "https://api.localhost/hook",
        "https://93.184.215.14:22/hook",  # odd port
        "ftp://93.184.215.14/hook",
        "https:///hook",
        "https://93.184.215.14:99999/hook",
        "https://93.184.215.14/hook#frag",
        "https://" + "a" * 2000 + ".example/",
    ],
)
def test_unsafe_urls_are_refused_at_registration(url: str) -> None:
    with pytest.raises(ssrf.UnsafeUrl):
        ssrf.check_registration(url, **STRICT)


def test_a_public_https_url_passes_and_development_settings_allow_local_ones() -> None:
    ssrf.check_registration("https://93.184.215.14/hook", **STRICT)
    ssrf.check_registration("https://93.184.215.14:8443/hook?x=1", **STRICT)
    ssrf.check_registration("http://127.0.0.1:9999/hook", allow_http=True, allow_private=True)


def _resolving_to(monkeypatch: pytest.MonkeyPatch, address: str) -> None:
    def fake(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake)


def test_a_name_that_resolves_to_a_private_address_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _resolving_to(monkeypatch, "10.0.0.5")
    with pytest.raises(ssrf.UnsafeUrl, match=r"10\.0\.0\.5"):
        ssrf.check_registration("https://hooks.example.com/x", **STRICT)


def test_dns_rebinding_after_registration_is_refused_at_delivery_without_a_request(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    _resolving_to(monkeypatch, "93.184.215.14")
    ssrf.check_registration("https://hooks.example.com/x", **STRICT)
    _resolving_to(monkeypatch, "127.0.0.1")  # the name now points inside

    def no_request(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("no request may be made")

    monkeypatch.setattr(delivery, "http_client", no_request)
    endpoint = WebhookEndpoint(brand_id=1, url="https://hooks.example.com/x", secret=new_secret())
    event = WebhookEvent(
        endpoint_id=1, brand_id=1, message_id="msg_x", source_key="k", event_type="t", subject="s"
    )
    answer = delivery.post(settings, endpoint, event)
    assert not answer.ok and answer.error is not None and "127.0.0.1" in answer.error


def test_the_request_goes_to_the_checked_address_with_the_name_in_host_and_sni(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    _resolving_to(monkeypatch, "93.184.215.14")
    seen: dict[str, Any] = {}

    def handler(request: Any) -> Any:
        seen.update(url=str(request.url), host=request.headers["host"], ext=request.extensions)
        return delivery.httpx.Response(302, headers={"location": "http://127.0.0.1/"})

    real = delivery.http_client(settings.webhook_timeout_seconds)
    assert real.follow_redirects is False

    def client(timeout: float) -> Any:
        return delivery.httpx.Client(
            transport=delivery.httpx.MockTransport(handler), follow_redirects=False
        )

    monkeypatch.setattr(delivery, "http_client", client)
    endpoint = WebhookEndpoint(brand_id=1, url="https://hooks.example.com/x", secret=new_secret())
    event = WebhookEvent(
        endpoint_id=1, brand_id=1, message_id="msg_x", source_key="k", event_type="t", subject="s"
    )
    answer = delivery.post(settings, endpoint, event)
    assert seen["url"] == "https://93.184.215.14/x" and seen["host"] == "hooks.example.com"
    assert seen["ext"]["sni_hostname"] == "hooks.example.com"
    assert not answer.ok and answer.error == "redirect not followed"
