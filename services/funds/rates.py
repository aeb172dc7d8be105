"""Cost rates and the estimate they give: what an email, an SMS segment or a printed copy
costs a partner. A brand's rates are replaced as one list (a rate card), checked as a whole:
one currency, and no two bands of one channel and format overlapping, so every quantity has
at most one price."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from sqlmodel import Session, col, delete, select

from core.errors import FieldError
from core.said import said, said_of
from domain.money import CostChannel
from models.base import utcnow
from models.fund_schemas import CostRateIn
from models.funds import CostRate
from services import audit
from services.funds.terms import TermError, parse_currency, to_minor


@dataclass(frozen=True)
class Estimate:
    unit_minor: int
    total_minor: int
    currency: str


def list_rates(session: Session, brand_id: int) -> list[CostRate]:
    return list(
        session.exec(
            select(CostRate)
            .where(CostRate.brand_id == brand_id)
            .order_by(col(CostRate.channel), col(CostRate.format), col(CostRate.min_quantity))
        ).all()
    )


def validate(rates: list[CostRateIn]) -> list[CostRate]:
    """The rows to store, or FieldError naming `rates.<i>.<field>`."""
    out: list[CostRate] = []
    currencies: set[str] = set()
    for i, rate in enumerate(rates):
        where = f"rates.{i}"
        try:
            currency = parse_currency(rate.currency)
        except TermError as exc:
            raise FieldError(f"{where}.currency", said_of(exc)) from None
        if currencies and currency not in currencies:
            raise FieldError(
                f"{where}.currency",
                said(
                    "every rate is in one currency (%(currency)s)", currency=sorted(currencies)[0]
                ),
            )
        currencies.add(currency)
        fmt = rate.format.upper()
        if rate.channel == CostChannel.print and not fmt:
            raise FieldError(f"{where}.format", said("a print rate names its format (A4, A5, ...)"))
        if rate.channel != CostChannel.print and fmt:
            raise FieldError(f"{where}.format", said("only print rates have a format"))
        if rate.max_quantity is not None and rate.max_quantity < rate.min_quantity:
            raise FieldError(f"{where}.max_quantity", said("is below min_quantity"))
        try:
            unit = to_minor(rate.unit, currency)
        except TermError as exc:
            raise FieldError(f"{where}.unit", said_of(exc)) from None
        out.append(
            CostRate(
                brand_id=0,
                channel=rate.channel,
                format=fmt,
                min_quantity=rate.min_quantity,
                max_quantity=rate.max_quantity,
                unit_minor=unit,
                currency=currency,
            )
        )
    _no_overlap(out)
    return out


def _no_overlap(rates: list[CostRate]) -> None:
    by_band: dict[tuple[str, str], list[tuple[int, int | None, int]]] = {}
    for i, r in enumerate(rates):
        by_band.setdefault((r.channel.value, r.format), []).append(
            (r.min_quantity, r.max_quantity, i)
        )
    for (channel, fmt), bands in by_band.items():
        bands.sort(key=lambda b: (b[0], b[2]))
        for (lo, hi, _), (next_lo, _next_hi, j) in itertools.pairwise(bands):
            if hi is None or next_lo <= hi:
                what = f"{channel} {fmt}".strip()
                upto = said("no upper bound") if hi is None else said("up to %(max)s", max=hi)
                raise FieldError(
                    f"rates.{j}.min_quantity",
                    said(
                        "%(what)s: the band from %(start)s overlaps the band from %(low)s "
                        "(%(upto)s)",
                        what=what,
                        start=next_lo,
                        low=lo,
                        upto=upto,
                    ),
                )


def replace(
    session: Session, brand_id: int, user_id: int, request_id: str, rates: list[CostRateIn]
) -> list[CostRate]:
    """Replace the brand's rate card, audited with the old and new cards."""
    rows = validate(rates)
    audit.begin_write(session)
    old = list_rates(session, brand_id)
    before = [_card(r) for r in old]
    session.exec(delete(CostRate).where(col(CostRate.brand_id) == brand_id))
    session.flush()
    now = utcnow()
    for row in rows:
        row.brand_id = brand_id
        row.updated_by = user_id
        row.updated_at = now
        session.add(row)
    session.flush()
    audit.append_in(
        session,
        audit.NewEvent(
            brand_id=brand_id,
            actor=str(user_id),
            action="cost_rates.replaced",
            entity_type="brand",
            entity_id=str(brand_id),
            event_key=f"api:{request_id}:cost_rates.replaced:{brand_id}",
            before={"rates": before},
            after={"rates": [_card(r) for r in rows]},
            request_id=request_id,
        ),
    )
    return list_rates(session, brand_id)


def _card(r: CostRate) -> dict[str, object]:
    return {
        "channel": r.channel.value,
        "format": r.format,
        "min_quantity": r.min_quantity,
        "max_quantity": r.max_quantity,
        "unit_minor": r.unit_minor,
        "currency": r.currency,
    }


def estimate(
    session: Session, brand_id: int, channel: CostChannel, quantity: int, format: str = ""
) -> Estimate | None:
    """The cost of `quantity` units at the band holding that quantity (the whole run at one
    unit price, as print vendors quote); None when no rate covers it."""
    if quantity <= 0:
        return None
    fmt = format.upper() if channel == CostChannel.print else ""
    rate = session.exec(
        select(CostRate)
        .where(
            CostRate.brand_id == brand_id,
            CostRate.channel == channel,
            CostRate.format == fmt,
            col(CostRate.min_quantity) <= quantity,
        )
        .order_by(col(CostRate.min_quantity).desc())
    ).first()
    if rate is None or (rate.max_quantity is not None and rate.max_quantity < quantity):
        return None
    return Estimate(rate.unit_minor, rate.unit_minor * quantity, rate.currency)
