"""Where composed messages go: the embedded outbox (default), an SMTP relay, or Amazon SES.

Every transport answers `send(msg) -> id`; callers never branch on which one is configured.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
import tempfile
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any, Protocol

from core.settings import EmailTransport, Settings
from mail.message import message_id

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._@-]+")


class MailTransport(Protocol):
    def send(self, msg: EmailMessage) -> str:
        """Hand the message over; the id the transport knows it by."""
        ...


class OutboxTransport:
    """Writes each message as an .eml file: the embedded default, so a fresh checkout sends
    nothing anywhere and a developer (or a test) can open every message that would have gone.

    File names start with a UTC timestamp, so a directory listing is in sending order."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, msg: EmailMessage) -> str:
        mid = message_id(msg)
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        name = f"{stamp}-{_UNSAFE_NAME.sub('_', mid.strip('<>'))[:150]}.eml"
        data = msg.as_bytes(policy=policy.SMTP)
        # Write aside, then rename: a reader never sees half a message.
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.directory / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return mid

    def paths(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob("*.eml"))

    def list_messages(self) -> list[EmailMessage]:
        """Every message in the outbox, oldest first (for tests and an outbox viewer)."""
        parser = BytesParser(policy=policy.default)
        out: list[EmailMessage] = []
        for path in self.paths():
            parsed = parser.parsebytes(path.read_bytes())
            assert isinstance(parsed, EmailMessage)
            out.append(parsed)
        return out


class SmtpTransport:
    """One connection per message: notifications are few, and a long-lived connection would
    need keep-alive and reconnect logic for no gain."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 30.0,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.starttls = starttls
        self.timeout = timeout

    def send(self, msg: EmailMessage) -> str:
        mid = message_id(msg)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(msg)
        return mid


class SesTransport:
    """SES v2 with the raw message, so the MIME structure we built is what is delivered.

    Returns SES's MessageId (SES replaces the Message-ID header; bounces and complaints name
    its id). boto3 ships no type information here, so the client is Any."""

    def __init__(self, client: Any, configuration_set: str | None = None) -> None:
        self._client = client
        self.configuration_set = configuration_set

    def send(self, msg: EmailMessage) -> str:
        message_id(msg)  # refuse messages not built by mail.compose
        kwargs: dict[str, Any] = {"Content": {"Raw": {"Data": msg.as_bytes(policy=policy.SMTP)}}}
        if self.configuration_set:
            kwargs["ConfigurationSetName"] = self.configuration_set
        response = self._client.send_email(**kwargs)
        return str(response["MessageId"])


def ses_client(settings: Settings) -> Any:
    import boto3  # type: ignore[import-untyped]  # only SES deployments pay the import

    secret = settings.aws_secret_access_key
    return boto3.session.Session().client(
        "sesv2",
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        aws_access_key_id=settings.aws_access_key_id,
        aws_secret_access_key=secret.get_secret_value() if secret else None,
    )


def outbox_dir(settings: Settings) -> Path:
    return settings.data_dir / "outbox"


def make_transport(settings: Settings) -> MailTransport:
    if settings.email_transport == EmailTransport.smtp:
        password = settings.smtp_password
        return SmtpTransport(
            settings.smtp_host,
            settings.smtp_port,
            username=settings.smtp_username,
            password=password.get_secret_value() if password else None,
            starttls=settings.smtp_starttls,
        )
    if settings.email_transport == EmailTransport.ses:
        return SesTransport(ses_client(settings), settings.ses_configuration_set)
    return OutboxTransport(outbox_dir(settings))
