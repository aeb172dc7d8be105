"""A GM's invoice for local spend, added to a draft claim before confirming: the file is kept
in the asset store (with its sha256) as evidence, the amount becomes an eligible line."""

from __future__ import annotations

import hashlib
from decimal import Decimal, InvalidOperation

from sqlmodel import Session

from core.errors import Conflict, FieldError
from core.said import said
from domain.money import ClaimState
from i18n.labels import state_word
from models.base import utcnow
from models.claims import Claim
from services.audit import NewEvent, append_in
from services.claims import drafting
from services.org import Actor
from storage.base import BlobStore, brand_key

# What an invoice may be, by its first bytes (never the client's word).
KINDS = ((b"%PDF-", "application/pdf", "pdf"), (b"\x89PNG\r\n\x1a\n", "image/png", "png"))
JPEG = (b"\xff\xd8\xff", "image/jpeg", "jpg")
MAX_AMOUNT_MINOR = 10**12


def parse_amount(text: str, field: str = "amount") -> int:
    """ "12.50" -> 1250 (two decimals; Decimal, never float)."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation as err:
        raise FieldError(field, said("must be an amount such as 12.50")) from err
    if not value.is_finite() or value <= 0:
        raise FieldError(field, said("must be more than zero"))
    minor = value * 100
    if minor != minor.to_integral_value():
        raise FieldError(field, said("at most two decimals"))
    if minor > MAX_AMOUNT_MINOR:
        raise FieldError(field, said("is too large"))
    return int(minor)


def _kind(data: bytes) -> tuple[str, str]:
    for magic, content_type, ext in (*KINDS, JPEG):
        if data.startswith(magic):
            return content_type, ext
    raise FieldError("file", said("must be a PDF, PNG or JPEG invoice"))


def add(
    session: Session,
    store: BlobStore,
    actor: Actor,
    claim: Claim,
    *,
    data: bytes,
    filename: str,
    amount: str,
    description: str,
    max_bytes: int,
) -> Claim:
    if claim.state != ClaimState.draft or not claim.lines:
        raise Conflict(
            said(
                "claim %(id)s is %(state)s: invoices are added to drafts only",
                id=claim.id,
                state=state_word(claim.state),
            )
        )
    if not data:
        raise FieldError("file", said("is empty"))
    if len(data) > max_bytes:
        raise FieldError("file", said("is larger than %(max)s bytes", max=max_bytes))
    amount_minor = parse_amount(amount)
    text = description.strip()
    if not text:
        raise FieldError("description", said("is required"))
    content_type, ext = _kind(data)
    assert claim.id is not None
    n = len(claim.evidence)
    key = brand_key(claim.brand_id, "claims", str(claim.id), f"invoice-{n}.{ext}")
    store.put(key, data, content_type)
    sha = hashlib.sha256(data).hexdigest()
    name = (filename or f"invoice-{n}.{ext}").replace("\\", "/").rsplit("/", 1)[-1][:200]
    claim.evidence = [
        *claim.evidence,
        {
            "kind": "invoice",
            "label": "Invoice for local spend",
            "key": key,
            "sha256": sha,
            "content_type": content_type,
            "filename": name,
            "amount_minor": amount_minor,
            "description": text,
            "added_by": actor.principal.user_id,
        },
    ]
    claim.lines = [
        *claim.lines,
        {
            "channel": "local",
            "quantity": 1,
            "unit": "invoice",
            "unit_minor": amount_minor,
            "gross_minor": amount_minor,
            "eligible": True,
            "source": "invoice",
            "description": text,
            "evidence": n,
        },
    ]
    drafting.recompute(session, claim)
    claim.updated_at = utcnow()
    session.add(claim)
    append_in(
        session,
        NewEvent(
            brand_id=claim.brand_id,
            region_id=claim.region_id,
            partner_id=claim.partner_id,
            actor=f"user:{actor.principal.user_id}",
            action="claim.invoice_added",
            entity_type="claim",
            entity_id=str(claim.id),
            event_key=f"claim-{claim.id}-invoice-{n}-{sha[:16]}",
            after={"amount_minor": amount_minor, "sha256": sha, "key": key, "evidence": n},
            comment=text,
            request_id=actor.request_id,
        ),
    )
    return claim
