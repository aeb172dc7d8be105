"""Where composed messages go: the embedded outbox (default), an SMTP relay, or Amazon SES.

Every transport answers `send(msg, *, tags=None) -> id` and raises only the classes of
mail.errors, so callers never branch on which one is configured. `session()` is for batches:
it yields a sender that may keep one connection open for many messages (SMTP does; SES and the
outbox have nothing to keep). `rate_key` and `max_send_rate()` feed mail.rate_limit, the send
rate every worker shares.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import re
import smtplib
import ssl
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine
from sqlmodel import Session, select

from core.settings import EmailTransport, Settings
from mail import tags as mail_tags
from mail.errors import TransportUnavailableError, classify_ses_error, classify_smtp_error
from mail.message import message_id
from mail.tags import Tags
from models.outbox import OutboxMessage

log = logging.getLogger(__name__)
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._@-]+")
# A brand's SES parameters travel with its message (services.sender) and are taken out of it
# before it goes: SesTransport passes them as SendEmail parameters.
SES_CONFIGURATION_SET_HEADER = "X-SES-CONFIGURATION-SET"
SES_FROM_ARN_HEADER = "X-SES-FROM-ARN"


class MessageSender(Protocol):
    def send(self, msg: EmailMessage, *, tags: Tags | None = None) -> str:
        """Hand the message over; the id the transport knows it by. Raises mail.errors."""
        ...


class MailTransport(MessageSender, Protocol):
    rate_key: str

    def session(self) -> AbstractContextManager[MessageSender]:
        """A sender for a batch of messages (one connection where the transport has one)."""
        ...

    def max_send_rate(self) -> float:
        """Messages per second this transport may send, across all workers."""
        ...


def open_session(transport: MessageSender) -> AbstractContextManager[MessageSender]:
    """transport.session() where it has one, else the transport itself (test doubles)."""
    session: Callable[[], AbstractContextManager[MessageSender]] | None = getattr(
        transport, "session", None
    )
    if session is None:

        @contextmanager
        def itself() -> Iterator[MessageSender]:
            yield transport

        return itself()
    return session()


class _SelfSession:
    """session() for transports without a connection to keep."""

    @contextmanager
    def session(self) -> Iterator[MessageSender]:
        yield self  # type: ignore[misc]


def _recipients(msg: EmailMessage) -> str:
    to = msg["To"]
    addresses = getattr(to, "addresses", ())
    return ", ".join(a.addr_spec for a in addresses) if addresses else str(to or "")


class OutboxTransport(_SelfSession):
    """Writes each message as an .eml file: the embedded default, so a fresh checkout sends
    nothing anywhere and a developer (or a test) can open every message that would have gone.

    Exactly once per Message-ID: the file name is derived from the Message-ID alone and the
    file is linked into place only if no file of that name exists, so a message sent again
    after a crash (a delivery row caught between hand-over and "sent" carries the same
    Message-ID) finds itself already there and is not written twice. With an engine it also
    records an OutboxMessage row (the portal's outbox viewer lists them); the file is removed
    again when the row cannot be written, so files and rows agree, and a file that lost its
    row in a crash gets it on the next attempt. Storage and database faults raise
    TransportUnavailableError: the send pauses instead of blaming a recipient."""

    rate_key = "outbox"

    def __init__(
        self, directory: Path, engine: Engine | None = None, *, rate: float = 1000.0
    ) -> None:
        self.directory = directory
        self.engine = engine
        self.rate = rate

    def max_send_rate(self) -> float:
        return self.rate

    def path_for(self, mid: str) -> Path:
        """One name per Message-ID (readable part plus a digest, so two ids that read the
        same once unsafe characters are replaced still differ)."""
        readable = _UNSAFE_NAME.sub("_", mid.strip("<>"))[:120]
        digest = hashlib.sha256(mid.encode()).hexdigest()[:16]
        return self.directory / f"{readable}-{digest}.eml"

    def send(self, msg: EmailMessage, *, tags: Tags | None = None) -> str:
        mid = message_id(msg)
        checked = mail_tags.check(tags)
        final = self.path_for(mid)
        try:
            written = self._write_once(final, msg.as_bytes(policy=policy.SMTP))
        except OSError as err:  # unwritable, disk full, not a directory: may pass, probe later
            # The OS's words without the paths: the reason is shown to partners too.
            reason = err.strerror or type(err).__name__
            raise TransportUnavailableError("outbox.write", reason) from err
        if self.engine is not None:
            try:
                self._record(msg, mid, final.name, checked)
            except Exception as err:
                if written:
                    final.unlink(missing_ok=True)
                raise TransportUnavailableError("outbox.record", str(err)) from err
        return mid

    def _write_once(self, final: Path, data: bytes) -> bool:
        """Write aside, then link into place (a reader never sees half a message); False when
        the message is already there."""
        if final.exists():
            return False
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, final)  # fails when it exists: two writers never both win
            except FileExistsError:
                return False
            return True
        finally:
            Path(tmp).unlink(missing_ok=True)

    def _record(self, msg: EmailMessage, mid: str, name: str, tags: dict[str, str]) -> None:
        assert self.engine is not None
        with Session(self.engine) as session:
            known = session.exec(
                select(OutboxMessage.id).where(OutboxMessage.message_id == mid[:300])
            ).first()
            if known is not None:
                return
            session.add(
                OutboxMessage(
                    message_id=mid[:300],
                    to=_recipients(msg)[:2000],
                    subject=str(msg["Subject"] or "")[:1000],
                    brand_id=mail_tags.int_tag(tags, mail_tags.BRAND),
                    partner_campaign_id=mail_tags.int_tag(tags, mail_tags.PARTNER_CAMPAIGN),
                    delivery_id=tags.get(mail_tags.DELIVERY),
                    path=name,
                    is_test=tags.get(mail_tags.TEST) == "yes",
                )
            )
            session.commit()

    def paths(self) -> list[Path]:
        """The messages in the order they were written."""
        if not self.directory.is_dir():
            return []
        found = [(p.stat().st_mtime_ns, p.name, p) for p in self.directory.glob("*.eml")]
        return [p for _, _, p in sorted(found)]

    def list_messages(self) -> list[EmailMessage]:
        """Every message in the outbox, oldest first (for tests and an outbox viewer)."""
        parser = BytesParser(policy=policy.default)
        out: list[EmailMessage] = []
        for path in self.paths():
            parsed = parser.parsebytes(path.read_bytes())
            assert isinstance(parsed, EmailMessage)
            out.append(parsed)
        return out


class _SmtpConnection:
    """One relay connection, opened on the first message and reopened after a failure."""

    def __init__(self, transport: SmtpTransport) -> None:
        self._transport = transport
        self._smtp: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        t = self._transport
        smtp = smtplib.SMTP(t.host, t.port, timeout=t.timeout)
        try:
            if t.starttls:
                smtp.starttls(context=t.tls_context or ssl.create_default_context())
            if t.username:
                smtp.login(t.username, t.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, msg: EmailMessage, *, tags: Tags | None = None) -> str:
        mid = message_id(msg)
        try:
            if self._smtp is None:
                self._smtp = self._open()
            refused = self._smtp.send_message(msg)
        except Exception as err:
            self.close()  # the session state is unknown: start afresh next time
            raise classify_smtp_error(err) from err
        if refused:  # some recipients accepted: the message went, retrying would duplicate it
            log.warning("smtp: %s accepted, but refused for %s", mid, sorted(refused))
        return mid

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


class SmtpTransport:
    """Any SMTP relay, with optional STARTTLS and AUTH.

    `send` opens a connection per message (connect, EHLO, STARTTLS, AUTH: several round trips,
    tens of milliseconds on a LAN, more with TLS); batches use `session()`, which keeps one
    connection for all their messages and reconnects after an error."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 30.0,
        tls_context: ssl.SSLContext | None = None,
        rate: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.starttls = starttls
        self.timeout = timeout
        self.tls_context = tls_context
        self.rate = rate
        self.rate_key = f"smtp:{host}:{port}"

    def max_send_rate(self) -> float:
        return self.rate

    @contextmanager
    def session(self) -> Iterator[MessageSender]:
        conn = _SmtpConnection(self)
        try:
            yield conn
        finally:
            conn.close()

    def send(self, msg: EmailMessage, *, tags: Tags | None = None) -> str:
        with self.session() as conn:
            return conn.send(msg, tags=tags)


class SesTransport(_SelfSession):
    """SES v2 with the raw message, so the MIME structure and headers we built (Message-ID,
    List-Unsubscribe) are what is delivered; tags become SES message tags on its events.

    Returns SES's MessageId, which bounces and complaints name (they also carry our headers).
    boto3 ships no type information here, so the client is Any."""

    def __init__(
        self,
        client: Any,
        configuration_set: str | None = None,
        *,
        fallback_rate: float = 14.0,
        rate: float | None = None,
    ) -> None:
        self._client = client
        self.configuration_set = configuration_set
        self.fallback_rate = fallback_rate
        self._rate = rate
        region = getattr(getattr(client, "meta", None), "region_name", None) or "default"
        self.rate_key = f"ses:{region}"

    def send(self, msg: EmailMessage, *, tags: Tags | None = None) -> str:
        message_id(msg)  # refuse messages not built by mail.compose
        msg, config_set, from_arn = _ses_parameters(msg)
        kwargs: dict[str, Any] = {"Content": {"Raw": {"Data": msg.as_bytes(policy=policy.SMTP)}}}
        if config_set or self.configuration_set:
            kwargs["ConfigurationSetName"] = config_set or self.configuration_set
        if from_arn:
            kwargs["FromEmailAddressIdentityArn"] = from_arn
        checked = mail_tags.check(tags)
        if checked:
            kwargs["EmailTags"] = [{"Name": k, "Value": v} for k, v in checked.items()]
        try:
            response = self._client.send_email(**kwargs)
        except Exception as err:
            raise classify_ses_error(err) from err
        return str(response["MessageId"])

    def max_send_rate(self) -> float:
        """The account's SendQuota.MaxSendRate (asked once), else the fallback setting (14/s,
        a production account's starting quota): an endpoint without GetAccount (moto, some
        SES-compatible services) or a role without ses:GetAccount must not stop sending."""
        if self._rate is None:
            try:
                quota = self._client.get_account().get("SendQuota", {})
                self._rate = float(quota["MaxSendRate"])
            except Exception as err:  # any refusal: fall back, and say so once
                log.warning("ses: GetAccount failed (%s); using %s/s", err, self.fallback_rate)
                self._rate = self.fallback_rate
        return self._rate


def _ses_parameters(msg: EmailMessage) -> tuple[EmailMessage, str | None, str | None]:
    """The brand's configuration set and sending identity (services.sender puts them in
    X-SES-* headers): taken out of a copy of the message, so recipients never see them, and
    passed as SendEmail parameters instead."""
    config_set = msg.get(SES_CONFIGURATION_SET_HEADER)
    from_arn = msg.get(SES_FROM_ARN_HEADER)
    if config_set is None and from_arn is None:
        return msg, None, None
    msg = copy.copy(msg)  # deleting replaces the header list: the caller's message keeps its
    del msg[SES_CONFIGURATION_SET_HEADER]
    del msg[SES_FROM_ARN_HEADER]
    return msg, str(config_set) if config_set else None, str(from_arn) if from_arn else None


def ses_client(settings: Settings) -> Any:
    import boto3  # type: ignore[import-untyped]  # only SES deployments pay the import
    from botocore.config import Config  # type: ignore[import-untyped]

    secret = settings.aws_secret_access_key
    return boto3.session.Session().client(
        "sesv2",
        # One pooled connection per message in flight (the client is thread-safe; its pool
        # of 10 would make the 11th concurrent hand-over wait or open and drop connections).
        config=Config(max_pool_connections=max(10, settings.send_concurrency)),
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        aws_access_key_id=settings.aws_access_key_id,
        aws_secret_access_key=secret.get_secret_value() if secret else None,
    )


def outbox_dir(settings: Settings) -> Path:
    return settings.data_dir / "outbox"


def check_outbox_writable(directory: Path) -> None:
    """Raise OSError unless a message could be written now (created, flushed to disk and
    removed again, as the transport does)."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".ready-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(b"ready\n")
            fh.flush()
            os.fsync(fh.fileno())
    finally:
        Path(tmp).unlink(missing_ok=True)


def smtp_tls_context(settings: Settings) -> ssl.SSLContext | None:
    """Verify the relay against SMTP_TLS_CA when set (a private relay), else the system CAs."""
    if settings.smtp_tls_ca is None:
        return None
    return ssl.create_default_context(cafile=str(settings.smtp_tls_ca))


def make_transport(settings: Settings, engine: Engine | None = None) -> MailTransport:
    """The configured transport. `engine` lets the outbox record its rows (the worker passes
    it); without one the outbox writes files only."""
    override = settings.send_rate_per_second
    if settings.email_transport == EmailTransport.smtp:
        password = settings.smtp_password
        return SmtpTransport(
            settings.smtp_host,
            settings.smtp_port,
            username=settings.smtp_username,
            password=password.get_secret_value() if password else None,
            starttls=settings.smtp_starttls,
            tls_context=smtp_tls_context(settings),
            rate=override or settings.smtp_send_rate,
        )
    if settings.email_transport == EmailTransport.ses:
        return SesTransport(
            ses_client(settings),
            settings.ses_configuration_set,
            fallback_rate=settings.ses_fallback_send_rate,
            rate=override,
        )
    return OutboxTransport(outbox_dir(settings), engine, rate=override or settings.outbox_send_rate)
