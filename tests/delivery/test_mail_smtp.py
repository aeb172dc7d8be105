"""The SMTP transport against a real local SMTP server (aiosmtpd): plain relay, STARTTLS with
a certificate made here, AUTH, one connection per batch, refusals classified."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from core.settings import EmailTransport, Settings
from mail.errors import PermanentSendError, TransientSendError, TransportPausedError
from mail.message import compose
from mail.transport import SmtpTransport, make_transport

SENDER = "Northwind <news@northwind.example>"


@dataclass
class Received:
    peer: Any
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls: bool
    authenticated: bool


@dataclass
class Handler:
    """Keeps what arrives; refuses some recipients the way real servers do."""

    messages: list[Received] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address.startswith("unknown@"):
            return "550 5.1.1 No such user"
        if address.startswith("full@"):
            return "452 4.2.2 Mailbox full"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            Received(
                peer=session.peer,
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                content=envelope.original_content or envelope.content,
                tls=session.ssl is not None,
                authenticated=bool(session.authenticated),
            )
        )
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        b"mailer",
        b"s3cret",
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost / 127.0.0.1 and its key (PEM files)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _serve(handler: Handler, **smtp_options: Any) -> Iterator[int]:
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **smtp_options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture
def plain() -> Iterator[tuple[Handler, int]]:
    handler = Handler()
    for port in _serve(handler):
        yield handler, port


@pytest.fixture
def secured(cert: tuple[Path, Path]) -> Iterator[tuple[Handler, int]]:
    """STARTTLS required before anything else, AUTH required before MAIL."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*cert)
    handler = Handler()
    for port in _serve(
        handler,
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        authenticator=_authenticator,
    ):
        yield handler, port


def _msg(to: str = "ann@example.com", subject: str = "Open day") -> Any:
    return compose(sender=SENDER, to=[to], subject=subject, text="Come by.", html="<p>Hi</p>")


def test_plain_relay_delivers_the_message(plain: tuple[Handler, int]) -> None:
    handler, port = plain
    transport = SmtpTransport("127.0.0.1", port)
    msg = _msg()
    assert transport.send(msg, tags={"delivery": "d-1"}) == msg["Message-ID"]
    [got] = handler.messages
    assert got.mail_from == "news@northwind.example" and got.rcpt_tos == ["ann@example.com"]
    assert f"Message-ID: {msg['Message-ID']}".encode() in got.content
    assert b"multipart/alternative" in got.content
    assert b"d-1" not in got.content, "tags never travel in the message"
    assert not got.tls and not got.authenticated


def test_starttls_and_auth_from_settings(
    secured: tuple[Handler, int], cert: tuple[Path, Path], settings: Settings
) -> None:
    handler, port = secured
    smtp = settings.model_copy(
        update={
            "email_transport": EmailTransport.smtp,
            "smtp_host": "localhost",
            "smtp_port": port,
            "smtp_username": "mailer",
            "smtp_password": SecretStr("s3cret"),
            "smtp_starttls": True,
            "smtp_tls_ca": cert[0],
            "smtp_send_rate": 25.0,
        }
    )
    transport = make_transport(smtp)
    assert isinstance(transport, SmtpTransport)
    assert transport.rate_key == f"smtp:localhost:{port}" and transport.max_send_rate() == 25.0
    transport.send(_msg())
    [got] = handler.messages
    assert got.tls and got.authenticated

    wrong = make_transport(smtp.model_copy(update={"smtp_password": SecretStr("nope")}))
    with pytest.raises(TransportPausedError) as caught:
        wrong.send(_msg())
    assert caught.value.code.startswith("smtp.535")
    untrusted = make_transport(smtp.model_copy(update={"smtp_tls_ca": None}))
    with pytest.raises(TransportPausedError, match="tls_verify"):
        untrusted.send(_msg())
    no_tls = make_transport(smtp.model_copy(update={"smtp_starttls": False}))
    with pytest.raises(PermanentSendError):  # the server insists on STARTTLS first
        no_tls.send(_msg())
    assert len(handler.messages) == 1


def test_a_session_keeps_one_connection(plain: tuple[Handler, int]) -> None:
    handler, port = plain
    transport = SmtpTransport("127.0.0.1", port)
    with transport.session() as sender:
        for i in range(3):
            sender.send(_msg(subject=f"Batch {i}"))
    assert len({m.peer for m in handler.messages}) == 1
    for i in range(2):
        transport.send(_msg(subject=f"Alone {i}"))
    assert len({m.peer for m in handler.messages}) == 3, "one connection per lone send"


def test_refusals_are_classified_and_the_session_recovers(plain: tuple[Handler, int]) -> None:
    handler, port = plain
    transport = SmtpTransport("127.0.0.1", port)
    with transport.session() as sender:
        with pytest.raises(PermanentSendError) as unknown:
            sender.send(_msg("unknown@example.com"))
        assert unknown.value.code == "smtp.550.5.1.1"
        assert unknown.value.recipients == ("unknown@example.com",)
        with pytest.raises(TransientSendError) as full:
            sender.send(_msg("full@example.com"))
        assert full.value.code == "smtp.452.4.2.2"
        sender.send(_msg("ann@example.com"))
    assert [m.rcpt_tos for m in handler.messages] == [["ann@example.com"]]


def test_nobody_listening_is_transient() -> None:
    transport = SmtpTransport("127.0.0.1", _free_port(), timeout=2)
    with pytest.raises(TransientSendError) as caught:
        transport.send(_msg())
    assert caught.value.code == "smtp.connection"
