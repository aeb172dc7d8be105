"""Who a partner's email is sent as, and who may change it.

A brand lists the domains its provider has verified (SPF and DKIM pass only there); a partner
sends from an address on one of them, under its own name, with replies going to the club.
Everything a caller types is checked here and refused with the field named: a From address
outside the verified domains, an address the one address rule refuses, and line breaks (a CR/LF
in a display name is how input would add headers of its own).

`identity_for` is the one place the composed email gets From, Reply-To, the Message-ID domain
and the SES configuration set from. With no verified domain configured (a fresh dev checkout)
the message goes from EMAIL_FROM, as before, under the partner's name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.headerregistry import Address
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from core.errors import FieldError, Forbidden
from core.policy import Permission, Principal, Target, allows
from core.settings import EmailTransport, Settings
from mail.message import parse_address
from mail.transport import SES_CONFIGURATION_SET_HEADER, SES_FROM_ARN_HEADER
from models.base import utcnow
from models.org import Partner
from models.sender import BrandSender, PartnerSender
from services import audit
from services.access import load, target_of
from services.org import Actor, record_about

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_LOCAL = re.compile(r"^[a-z0-9][a-z0-9._+-]{0,63}$")
_CONFIG_SET = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ARN = re.compile(r"^arn:aws[a-z-]*:ses:[a-z0-9-]+:\d{12}:identity/[^\s]{1,200}$")
# Control characters (CR, LF, NUL, tab...) and the Unicode line separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
MAX_DOMAINS = 20


class BrandSenderBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    domains: list[str] | None = Field(None, max_length=MAX_DOMAINS)
    default_local_part: str | None = Field(None, max_length=64)
    ses_identity_arn: str | None = Field(None, max_length=300)
    ses_configuration_set: str | None = Field(None, max_length=64)


class BrandSenderRead(BaseModel):
    domains: list[str]
    default_local_part: str
    ses_identity_arn: str
    ses_configuration_set: str


class PartnerSenderBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_name: str | None = Field(None, max_length=100)
    from_address: str | None = Field(None, max_length=254, description="on a verified domain")
    reply_to: str | None = Field(None, max_length=254)


class PartnerSenderRead(BaseModel):
    partner_id: int
    from_name: str
    from_address: str
    reply_to: str
    verified_domains: list[str]
    effective_from: str = Field(description="the From header the partner's email carries now")
    effective_reply_to: str


@dataclass(frozen=True)
class SenderIdentity:
    """What the composed message takes from the sender settings."""

    sender: Address
    reply_to: Address | None
    ses_configuration_set: str | None = None
    ses_identity_arn: str | None = None

    @property
    def domain(self) -> str:
        """The Message-ID's domain: the From address's, so ids match the signed domain."""
        return self.sender.domain

    def headers(self, settings: Settings) -> dict[str, str]:
        """SES's per-message parameters, only when SES sends (the transport removes them)."""
        if settings.email_transport != EmailTransport.ses:
            return {}
        out: dict[str, str] = {}
        if self.ses_configuration_set:
            out[SES_CONFIGURATION_SET_HEADER] = self.ses_configuration_set
        if self.ses_identity_arn:
            out[SES_FROM_ARN_HEADER] = self.ses_identity_arn
        return out


# Reading -----------------------------------------------------------------------------------


def brand_sender(session: Session, brand_id: int) -> BrandSender:
    """The brand's row, or an unsaved empty one (nothing verified yet)."""
    return session.get(BrandSender, brand_id) or BrandSender(brand_id=brand_id)


def partner_sender(session: Session, partner: Partner) -> PartnerSender:
    assert partner.id is not None
    found = session.get(PartnerSender, partner.id)
    return found or PartnerSender(partner_id=partner.id, brand_id=partner.brand_id)


def _one_line(text: str) -> str:
    """A stored name as a header value: whitespace collapsed, control characters dropped."""
    return " ".join(_CONTROL.sub(" ", text).split())


def _address_or_none(value: str) -> Address | None:
    if not value:
        return None
    try:
        return parse_address(value, "reply_to")
    except ValueError:  # a profile e-mail stored before it was checked: no Reply-To then
        return None


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


def resolve(
    settings: Settings, brand: BrandSender, partner: Partner, own: PartnerSender
) -> SenderIdentity:
    """From, Reply-To and the SES parameters for `partner`, from rows already loaded.

    From: the partner's address while its domain is still verified, else the brand's default
    local part on its first verified domain, else EMAIL_FROM (nothing configured). The name:
    the partner's From name, else its display name. Reply-To: the partner's, else the club's
    profile e-mail."""
    fallback = parse_address(settings.email_from, "email_from")
    name = _one_line(own.from_name) or _one_line(partner.display_name) or fallback.display_name
    domains = [d.lower() for d in brand.domains]
    if own.from_address and domain_of(own.from_address) in domains:
        addr = own.from_address
    elif domains:
        addr = f"{brand.default_local_part or 'news'}@{domains[0]}"
    else:
        addr = fallback.addr_spec
    sender = parse_address(Address(display_name=name, addr_spec=addr), "from")
    reply_to = _address_or_none(own.reply_to) or _address_or_none(partner.email)
    return SenderIdentity(
        sender=sender,
        reply_to=reply_to,
        ses_configuration_set=brand.ses_configuration_set or None,
        ses_identity_arn=brand.ses_identity_arn or None,
    )


def identity_for(session: Session, settings: Settings, partner: Partner) -> SenderIdentity:
    return resolve(
        settings,
        brand_sender(session, partner.brand_id),
        partner,
        partner_sender(session, partner),
    )


# Validation ----------------------------------------------------------------------------------


def _no_control(field: str, value: str) -> str:
    if _CONTROL.search(value):
        raise FieldError(field, "line breaks and control characters are not allowed")
    return value.strip()


def check_domain(field: str, value: str) -> str:
    domain = _no_control(field, value).lower().rstrip(".")
    if not _DOMAIN.match(domain):
        raise FieldError(field, f"{value!r} is not a domain name (e.g. mail.example.com)")
    return domain


def check_address(field: str, value: str) -> str:
    """A bare address (no display name) that the one address rule accepts."""
    text = _no_control(field, value)
    if "<" in text or ">" in text or "," in text:
        raise FieldError(field, "give the address alone, e.g. club@example.com")
    try:
        return parse_address(text, field).addr_spec
    except ValueError:
        raise FieldError(field, f"{text!r} is not an email address") from None


def check_from_name(value: str) -> str:
    name = _no_control("from_name", value)
    if not name:
        return ""
    if any(ch in name for ch in '<>"@'):
        raise FieldError("from_name", "a name only: no address, quotes or angle brackets")
    return " ".join(name.split())


def _checked_brand(body: BrandSenderBody) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if body.domains is not None:
        domains: list[str] = []
        for i, raw in enumerate(body.domains):
            domain = check_domain(f"domains[{i}]", raw)
            if domain not in domains:
                domains.append(domain)
        changes["domains"] = domains
    if body.default_local_part is not None:
        local = _no_control("default_local_part", body.default_local_part).lower()
        if not _LOCAL.match(local):
            raise FieldError("default_local_part", "letters, digits, . _ + - (e.g. news)")
        changes["default_local_part"] = local
    if body.ses_identity_arn is not None:
        arn = _no_control("ses_identity_arn", body.ses_identity_arn)
        if arn and not _ARN.match(arn):
            raise FieldError(
                "ses_identity_arn", "an SES identity ARN: arn:aws:ses:REGION:ACCOUNT:identity/..."
            )
        changes["ses_identity_arn"] = arn
    if body.ses_configuration_set is not None:
        name = _no_control("ses_configuration_set", body.ses_configuration_set)
        if name and not _CONFIG_SET.match(name):
            raise FieldError("ses_configuration_set", "letters, digits, _ and - (1-64)")
        changes["ses_configuration_set"] = name
    return changes


def check_from_address(value: str, domains: list[str]) -> str:
    if not value.strip():
        return ""
    addr = check_address("from_address", value)
    if not domains:
        raise FieldError(
            "from_address", "the brand has no verified sending domain yet; ask HQ to add one"
        )
    if domain_of(addr) not in domains:
        raise FieldError(
            "from_address", f"must be on a verified domain of the brand: {', '.join(domains)}"
        )
    return addr


# Changing ----------------------------------------------------------------------------------


def _brand_dump(row: BrandSender) -> dict[str, Any]:
    return BrandSenderRead.model_validate(row, from_attributes=True).model_dump()


def may_manage_brand(principal: Principal) -> bool:
    """Brand admins: the verified domains are the brand's reputation, not a partner's."""
    return allows(principal, Permission.partner_manage, Target(principal.brand_id))


def read_brand(session: Session, principal: Principal) -> BrandSenderRead:
    return BrandSenderRead.model_validate(
        brand_sender(session, principal.brand_id), from_attributes=True
    )


def update_brand(session: Session, actor: Actor, body: BrandSenderBody) -> BrandSenderRead:
    principal = actor.principal
    if not may_manage_brand(principal):
        raise Forbidden("Only the brand's admins change its sending domains")
    row = brand_sender(session, principal.brand_id)
    before = _brand_dump(row)
    for name, value in _checked_brand(body).items():
        setattr(row, name, value)
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    record_about(
        session,
        actor,
        "brand.sender_updated",
        Target(principal.brand_id),
        "brand",
        str(principal.brand_id),
        audit.json_safe(before),
        audit.json_safe(_brand_dump(row)),
    )
    return BrandSenderRead.model_validate(row, from_attributes=True)


def _partner_dump(row: PartnerSender) -> dict[str, Any]:
    return {"from_name": row.from_name, "from_address": row.from_address, "reply_to": row.reply_to}


def _partner_read(session: Session, settings: Settings, partner: Partner) -> PartnerSenderRead:
    own = partner_sender(session, partner)
    brand = brand_sender(session, partner.brand_id)
    identity = resolve(settings, brand, partner, own)
    assert partner.id is not None
    return PartnerSenderRead(
        partner_id=partner.id,
        from_name=own.from_name,
        from_address=own.from_address,
        reply_to=own.reply_to,
        verified_domains=list(brand.domains),
        effective_from=str(identity.sender),
        effective_reply_to=str(identity.reply_to or ""),
    )


def read_partner(
    session: Session, settings: Settings, principal: Principal, partner_id: int
) -> PartnerSenderRead:
    partner = load(session, principal, Partner, partner_id)
    return _partner_read(session, settings, partner)


def update_partner(
    session: Session,
    settings: Settings,
    actor: Actor,
    partner_id: int,
    body: PartnerSenderBody,
) -> PartnerSenderRead:
    """The partner's GM or a brand admin (partner.profile.edit on this partner); a GM of
    another partner gets 404, as for the profile."""
    partner = load(session, actor.principal, Partner, partner_id, Permission.partner_profile_edit)
    row = partner_sender(session, partner)
    domains = list(brand_sender(session, partner.brand_id).domains)
    before = _partner_dump(row)
    if body.from_name is not None:
        row.from_name = check_from_name(body.from_name)
    if body.from_address is not None:
        row.from_address = check_from_address(body.from_address, domains)
    if body.reply_to is not None:
        row.reply_to = check_address("reply_to", body.reply_to) if body.reply_to.strip() else ""
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    record_about(
        session,
        actor,
        "partner.sender_updated",
        target_of(partner),
        "partner",
        str(partner_id),
        audit.json_safe(before),
        audit.json_safe(_partner_dump(row)),
    )
    return _partner_read(session, settings, partner)
