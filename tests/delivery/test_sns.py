"""SES feedback over SNS: signed fixtures made here (a self-signed key standing in for SNS's),
parsed into typed events; wrong topics, foreign certificates and tampering are refused."""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import io
import json
import threading
import urllib.error
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.message import Message
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from mail import sns_http, sns_urls
from mail.sns import SnsError, canonical_string, parse_feedback

TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-feedback"
CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc123.pem"
OUR_ID = "<20261123.abc@northwind.example>"


@pytest.fixture(scope="module")
def signer() -> tuple[rsa.RSAPrivateKey, bytes]:
    return make_signer()


def make_signer() -> tuple[rsa.RSAPrivateKey, bytes]:
    """A key and a self-signed certificate standing in for SNS's."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


def _signed(
    key: rsa.RSAPrivateKey, fields: dict[str, str], version: str = "1", url: str = CERT_URL
) -> dict[str, str]:
    envelope = {**fields, "SignatureVersion": version, "SigningCertURL": url}
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
    sig = key.sign(canonical_string(envelope), padding.PKCS1v15(), algorithm)
    envelope["Signature"] = base64.b64encode(sig).decode()
    return envelope


def _notification(event: dict[str, Any], topic: str = TOPIC) -> dict[str, str]:
    return {
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": topic,
        "Message": json.dumps(event),
        "Timestamp": "2026-11-23T12:00:00.000Z",
        "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
    }


def _mail(ses_id: str = "0102018f-ses-id") -> dict[str, Any]:
    return {
        "timestamp": "2026-11-23T11:59:00.000Z",
        "messageId": ses_id,
        "source": "news@northwind.example",
        "headers": [
            {"name": "From", "value": "news@northwind.example"},
            {"name": "Message-ID", "value": OUR_ID},
        ],
        "commonHeaders": {"messageId": ses_id},
        "tags": {"delivery": ["d-12-99"], "partner_campaign": ["12"]},
    }


BOUNCE = {
    "notificationType": "Bounce",
    "mail": _mail(),
    "bounce": {
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "bouncedRecipients": [{"emailAddress": "gone@example.com", "status": "5.1.1"}],
        "timestamp": "2026-11-23T11:59:30.000Z",
    },
}


def _parse(body: dict[str, str] | str, cert: bytes, **kw: Any) -> Any:
    text = body if isinstance(body, str) else json.dumps(body)
    return parse_feedback(text, topic_arns=[TOPIC], fetch_cert=lambda url: cert, **kw)


def test_bounce_signature_v1(signer: tuple[rsa.RSAPrivateKey, bytes]) -> None:
    key, cert = signer
    event = _parse(_signed(key, _notification(BOUNCE), "1"), cert)
    assert event.kind == "bounce"
    assert event.recipients == ("gone@example.com",)
    assert (event.bounce_type, event.bounce_subtype) == ("Permanent", "General")
    assert event.ses_message_id == "0102018f-ses-id" and event.message_id == OUR_ID
    assert event.timestamp == dt.datetime(2026, 11, 23, 11, 59, 30, tzinfo=dt.UTC)
    assert event.tags == {"delivery": "d-12-99", "partner_campaign": "12"}
    assert event.topic_arn == TOPIC


def test_complaint_and_delivery_signature_v2(signer: tuple[rsa.RSAPrivateKey, bytes]) -> None:
    key, cert = signer
    complaint = {
        "eventType": "Complaint",  # configuration-set event publishing
        "mail": _mail("c-1"),
        "complaint": {
            "complainedRecipients": [{"emailAddress": "angry@example.com"}],
            "timestamp": "2026-11-23T12:01:00.000Z",
        },
    }
    got = _parse(_signed(key, _notification(complaint) | {"Subject": "Complaint"}, "2"), cert)
    assert (got.kind, got.recipients, got.bounce_type) == (
        "complaint",
        ("angry@example.com",),
        None,
    )
    delivery = {
        "notificationType": "Delivery",
        "mail": {"messageId": "d-1", "commonHeaders": {"messageId": "<ours@x>"}},
        "delivery": {"recipients": ["ann@example.com"], "timestamp": "2026-11-23T12:02:00Z"},
    }
    got = _parse(_signed(key, _notification(delivery), "2"), cert)
    assert (got.kind, got.recipients, got.message_id) == (
        "delivery",
        ("ann@example.com",),
        "<ours@x>",
    )


def test_subscription_confirmation(signer: tuple[rsa.RSAPrivateKey, bytes]) -> None:
    key, cert = signer
    fields = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "165545c9",
        "Token": "2336412f37f",
        "TopicArn": TOPIC,
        "Message": "You have chosen to subscribe to the topic ...",
        "SubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=x",
        "Timestamp": "2026-11-23T12:00:00.000Z",
    }
    got = _parse(_signed(key, fields, "1"), cert)
    assert got.kind == "subscription_confirmation"
    assert got.subscribe_url == fields["SubscribeURL"]


def test_refusals(signer: tuple[rsa.RSAPrivateKey, bytes]) -> None:
    key, cert = signer
    good = _signed(key, _notification(BOUNCE))

    fetched: list[str] = []
    other_topic = _signed(key, _notification(BOUNCE, topic=TOPIC + "-other"))
    with pytest.raises(SnsError, match="not configured") as refused:
        parse_feedback(
            json.dumps(other_topic),
            topic_arns=[TOPIC],
            fetch_cert=lambda url: fetched.append(url) or cert,
        )
    assert fetched == [], "an unknown topic is refused before any certificate is fetched"
    assert (refused.value.field, refused.value.status) == ("TopicArn", 403)

    tampered = dict(good)
    tampered["Message"] = json.dumps(
        {**BOUNCE, "bounce": {**BOUNCE["bounce"], "bounceType": "Transient"}}
    )  # type: ignore[dict-item]
    with pytest.raises(SnsError, match="does not verify"):
        _parse(tampered, cert)

    for url in (
        "http://sns.eu-west-1.amazonaws.com/cert.pem",
        "https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem",
        "https://evil.example/sns.eu-west-1.amazonaws.com/cert.pem",
    ):
        with pytest.raises(SnsError, match="must be https://sns") as refused:
            _parse(_signed(key, _notification(BOUNCE), url=url), cert)
        assert (refused.value.field, refused.value.status) == ("SigningCertURL", 400)

    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(SnsError, match="does not verify"):
        _parse(_signed(other_key, _notification(BOUNCE)), cert)
    with pytest.raises(SnsError, match="SignatureVersion"):
        _parse(good | {"SignatureVersion": "3"}, cert)
    with pytest.raises(SnsError, match="missing fields"):
        _parse({k: v for k, v in good.items() if k != "Signature"}, cert)
    for junk in ("not json", "[]", json.dumps({"Type": "Other"})):
        with pytest.raises(SnsError):
            _parse(junk, cert)


def test_a_test_allow_list_hook_replaces_the_host_check(
    signer: tuple[rsa.RSAPrivateKey, bytes],
) -> None:
    key, cert = signer
    local = "https://127.0.0.1:8443/test-cert.pem"
    body = _signed(key, _notification(BOUNCE), url=local)
    with pytest.raises(SnsError):
        _parse(body, cert)
    assert _parse(body, cert, cert_url_allowed=lambda url: url == local).kind == "bounce"


HOST = "sns.eu-west-1.amazonaws.com"
CONFIRM_URL = (
    f"https://{HOST}/?Action=ConfirmSubscription"
    "&TopicArn=arn:aws:sns:eu-west-1:123456789012:ses-feedback&Token=2336412f37fb687f5d51e6e2"
)
GOOD_CERT_URLS = [
    CERT_URL,
    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd2301463.pem",
    "https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-x.pem",
    "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-x.pem",
]
# Each is refused with 400 on SigningCertURL. Before the strict check, those marked 500 made
# Python's urlsplit raise, and those marked "accepted" passed the host check.
HOSTILE_CERT_URLS = [
    f"https://{HOST}:99999/x.pem",  # 500: port out of range
    f"https://{HOST}:abc/x.pem",  # 500: port not a number
    f"https://{HOST}:+443/x.pem",  # 500
    f"https://[{HOST}]/x.pem",  # 500: brackets around a name
    f"https://{HOST}\uff20evil.example/x.pem",  # 500: full-width @ (NFKC)
    f"https://user@{HOST}/x.pem",  # accepted: userinfo
    f"https://user:pw@{HOST}/x.pem",  # accepted
    f"https://[::1]@{HOST}/x.pem",  # accepted
    f"https://evil.example\\@{HOST}/x.pem",  # accepted: a browser's host is evil.example
    f"https://{HOST}:443/x.pem",  # accepted: explicit ports are refused, even 443
    f"https://{HOST}:/x.pem",  # accepted: empty port
    f"https://{HOST}:0443/x.pem",  # accepted
    f"https://{HOST}:8443/x.pem",
    f" https://{HOST}/x.pem",  # accepted: leading space stripped by urlsplit
    "https://sns.eu-west-1.amazon\taws.com/x.pem",  # accepted: tab dropped by urlsplit
    f"https://{HOST}/x.pem\n",  # accepted
    f"https://{HOST}/x .pem",
    f"https://{HOST}/a\\b.pem",  # accepted
    f"https://{HOST}/\uff58.pem",  # accepted: non-ASCII path
    "https://\uff53ns.eu-west-1.amazonaws.com/x.pem",
    f"https://{HOST}/x.pem?a=1",  # accepted: query
    f"https://{HOST}/x.pem#f",  # accepted: fragment
    f"https://{HOST}/../x.pem",  # accepted
    f"https://{HOST}//evil.example/x.pem",  # accepted
    f"https://{HOST}/x%2epem",
    f"https://{HOST}/.pem",
    f"https://{HOST}/x.txt",
    f"HTTPS://{HOST.upper()}/X.pem",  # accepted: SNS writes lower case
    f"https://{HOST}./x.pem",
    f"https://{HOST}.evil.example/x.pem",
    f"https://evil.example/{HOST}/x.pem",
    f"https://evil.example%40{HOST}/x.pem",
    "https://sns..amazonaws.com/x.pem",
    "https://s3.amazonaws.com/x.pem",
    "https://[::1]/x.pem",
    "https:///x.pem",  # empty host
    "https://:443/x.pem",
    f"http://{HOST}/x.pem",
    f"https:{HOST}/x.pem",
    f"//{HOST}/x.pem",
    "",
    f"https://{HOST}/{'a' * 5000}.pem",  # accepted: very long
]
GOOD_SUBSCRIBE_URLS = [
    CONFIRM_URL,
    f"https://{HOST}/?Action=ConfirmSubscription&Token=x",
    "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription"
    "&TopicArn=arn%3Aaws%3Asns%3Aeu-west-1%3A123456789012%3Ases-feedback.fifo&Token=abc",
]
HOSTILE_SUBSCRIBE_URLS = [
    CONFIRM_URL.replace("https://", "http://"),
    CONFIRM_URL.replace(HOST, f"{HOST}:99999"),  # 500 with the old confirmation check
    CONFIRM_URL.replace(HOST, f"{HOST}:443"),
    CONFIRM_URL.replace(HOST, f"user@{HOST}"),
    CONFIRM_URL.replace(HOST, f"evil.example\\@{HOST}"),
    CONFIRM_URL.replace(HOST, f"{HOST}.evil.example"),
    CONFIRM_URL.replace(HOST, "[::1]"),
    CONFIRM_URL.replace(HOST, f"[{HOST}]"),
    CONFIRM_URL.replace("/?", "/x?"),
    CONFIRM_URL + "#f",
    CONFIRM_URL + " ",
    CONFIRM_URL + "&x=\\",
    CONFIRM_URL + "&x=\uff58",
    CONFIRM_URL.replace("ConfirmSubscription", "Unsubscribe"),
    CONFIRM_URL + "&Action=Unsubscribe",
    f"https://{HOST}/?Token=x",
    f"https://{HOST}/",
    CONFIRM_URL + "&x=" + "a" * 5000,
]


@pytest.mark.parametrize("url", GOOD_CERT_URLS)
def test_sns_certificate_urls_are_accepted(url: str) -> None:
    assert sns_urls.cert_url_problem(url) is None


@pytest.mark.parametrize("url", HOSTILE_CERT_URLS)
def test_hostile_certificate_urls_are_refused_before_any_fetch(
    signer: tuple[rsa.RSAPrivateKey, bytes], url: str
) -> None:
    key, cert = signer
    fetched: list[str] = []
    with pytest.raises(SnsError) as refused:
        parse_feedback(
            json.dumps(_signed(key, _notification(BOUNCE), url=url)),
            topic_arns=[TOPIC],
            fetch_cert=lambda u: fetched.append(u) or cert,
        )
    assert (refused.value.field, refused.value.status) == ("SigningCertURL", 400)
    assert fetched == []
    assert not sns_urls.is_sns_cert_url(url)


@pytest.mark.parametrize("url", GOOD_SUBSCRIBE_URLS)
def test_sns_subscribe_urls_are_accepted(url: str) -> None:
    assert sns_urls.subscribe_url_problem(url) is None


def _confirmation(url: str) -> dict[str, str]:
    return {
        "Type": "SubscriptionConfirmation",
        "MessageId": "165545c9",
        "Token": "2336412f37f",
        "TopicArn": TOPIC,
        "Message": "You have chosen to subscribe to the topic ...",
        "SubscribeURL": url,
        "Timestamp": "2026-11-23T12:00:00.000Z",
    }


@pytest.mark.parametrize("url", HOSTILE_SUBSCRIBE_URLS)
def test_hostile_subscribe_urls_are_refused(
    signer: tuple[rsa.RSAPrivateKey, bytes], url: str
) -> None:
    key, cert = signer
    with pytest.raises(SnsError) as refused:
        _parse(_signed(key, _confirmation(url)), cert)
    assert (refused.value.field, refused.value.status) == ("SubscribeURL", 400)
    opened: list[str] = []
    with pytest.raises(SnsError):  # the confirmation GET checks again on its own
        sns_http.confirm_subscription(url, open_url=lambda u, t: opened.append(u) or _Body(b""))
    assert opened == []


# The GETs: bounded, no redirects, errors as SnsError naming the field ------------------------


class _Body(io.BytesIO):
    """A stand-in HTTP response: a body and its headers."""

    def __init__(self, data: bytes, headers: dict[str, str] | None = None) -> None:
        super().__init__(data)
        self.headers = headers or {}
        self.asked: list[int] = []

    def read(self, size: int | None = -1) -> bytes:
        self.asked.append(-1 if size is None else size)
        return super().read(size)


def _serving(body: _Body) -> sns_http.Opener:
    return lambda url, timeout: body


def test_a_certificate_up_to_the_limit_is_read_whole() -> None:
    pem = b"x" * sns_http.CERT_MAX_BYTES
    assert sns_http.fetch_cert_https(CERT_URL, open_url=_serving(_Body(pem))) == pem


@pytest.mark.parametrize("declared", [True, False])
def test_a_larger_certificate_is_refused_not_cut_short(declared: bool) -> None:
    size = sns_http.CERT_MAX_BYTES + 1
    body = _Body(b"x" * 10 * size, {"Content-Length": str(10 * size)} if declared else {})
    with pytest.raises(SnsError, match="larger than 65536 bytes") as refused:
        sns_http.fetch_cert_https(CERT_URL, open_url=_serving(body))
    assert (refused.value.field, refused.value.status) == ("SigningCertURL", 400)
    assert sum(body.asked) <= size  # it stopped one byte past the limit
    if declared:
        assert body.asked == []  # the declared length was enough


def test_fetch_failures_name_the_field_and_say_whether_to_retry() -> None:
    def failing(err: Exception) -> sns_http.Opener:
        def open_url(url: str, timeout: float) -> _Body:
            raise err

        return open_url

    missing = urllib.error.HTTPError(CERT_URL, 404, "Not Found", Message(), None)
    down = urllib.error.HTTPError(CERT_URL, 503, "Unavailable", Message(), None)
    for err, status in [
        (missing, 400),
        (down, 503),
        (urllib.error.URLError("unreachable"), 503),
        (TimeoutError("timed out"), 503),
    ]:
        with pytest.raises(SnsError) as refused:
            sns_http.fetch_cert_https(CERT_URL, open_url=failing(err))
        assert (refused.value.field, refused.value.status) == ("SigningCertURL", status)


@pytest.fixture
def local_http() -> Iterator[str]:
    """A plain HTTP server: /redirect answers 302 to /cert, /big streams 70 KB unannounced."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "/cert")
                self.end_headers()
            elif self.path == "/big":
                self.send_response(200)
                self.end_headers()  # no Content-Length: the size shows only while reading
                self.wfile.write(b"x" * 70_000)
            else:
                self.send_response(200)
                self.send_header("Content-Length", "4")
                self.end_headers()
                self.wfile.write(b"cert")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_fetch_follows_no_redirect_and_stops_at_the_limit(local_http: str) -> None:
    def to(path: str) -> sns_http.Opener:
        return lambda url, timeout: sns_http.open_no_redirect(local_http + path, timeout)

    assert sns_http.fetch_cert_https(CERT_URL, open_url=to("/cert")) == b"cert"
    with pytest.raises(SnsError, match="HTTP 302") as refused:
        sns_http.fetch_cert_https(CERT_URL, open_url=to("/redirect"))
    assert refused.value.status == 400
    with pytest.raises(SnsError, match="larger than"):
        sns_http.fetch_cert_https(CERT_URL, open_url=to("/big"))


# The certificate cache ------------------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_cache_keeps_a_certificate_for_its_ttl() -> None:
    clock = _Clock()
    cache = sns_http.CertificateCache(ttl=60, clock=clock)
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return f"pem {len(fetched)}".encode()

    assert {cache.get(CERT_URL, fetch) for _ in range(50)} == {b"pem 1"}
    clock.now += 59
    assert cache.get(CERT_URL, fetch) == b"pem 1"
    clock.now += 1
    assert cache.get(CERT_URL, fetch) == b"pem 2"
    assert fetched == [CERT_URL, CERT_URL]


def test_the_cache_is_bounded_and_keeps_no_failures() -> None:
    cache = sns_http.CertificateCache(max_entries=2)
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        if url.endswith("fails.pem"):
            raise SnsError("could not be fetched", field="SigningCertURL", status=503)
        return url.encode()

    a, b, c = (f"https://{HOST}/{name}.pem" for name in "abc")
    for url in (a, b, a, c):  # a used again, so b is the least recently used when c comes
        cache.get(url, fetch)
    assert fetched == [a, b, c]
    cache.get(a, fetch)
    cache.get(b, fetch)
    assert fetched == [a, b, c, b]
    failing = f"https://{HOST}/fails.pem"
    for _ in range(2):
        with pytest.raises(SnsError):
            cache.get(failing, fetch)
    assert fetched.count(failing) == 2


def test_the_cache_refuses_an_oversized_certificate_from_any_fetcher() -> None:
    cache = sns_http.CertificateCache(max_bytes=10)
    with pytest.raises(SnsError, match="larger than 10 bytes") as refused:
        cache.get(CERT_URL, lambda url: b"x" * 11)
    assert refused.value.field == "SigningCertURL"
    assert cache.get(CERT_URL, lambda url: b"x" * 10) == b"x" * 10


def test_callers_missing_at_once_wait_for_one_fetch() -> None:
    cache = sns_http.CertificateCache()
    started, release = threading.Event(), threading.Event()
    fetched: list[str] = []
    arrived = threading.Semaphore(0)

    def slow(url: str) -> bytes:
        fetched.append(url)
        started.set()
        assert release.wait(10)
        return b"pem"

    def caller() -> bytes:
        arrived.release()
        return cache.get(CERT_URL, slow)

    with ThreadPoolExecutor(8) as pool:
        results = [pool.submit(caller) for _ in range(8)]
        assert started.wait(10)
        for _ in range(8):
            assert arrived.acquire(timeout=10)
        release.set()
        assert [r.result(timeout=10) for r in results] == [b"pem"] * 8
    assert fetched == [CERT_URL]
