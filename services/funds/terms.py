"""Parsing what people type about money into what the ledger stores: a period name into its
days, an ISO 4217 currency, a decimal amount into integer minor units, a percent into basis
points. Decimal throughout; a float never touches money."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from core.said import said

# ISO 4217 codes in use with their minor-unit exponent (2 unless listed otherwise).
CURRENCIES: frozenset[str] = frozenset(
    {
        "AED",
        "ARS",
        "AUD",
        "BGN",
        "BHD",
        "BRL",
        "CAD",
        "CHF",
        "CLP",
        "CNY",
        "COP",
        "CZK",
        "DKK",
        "EGP",
        "EUR",
        "GBP",
        "HKD",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "ISK",
        "JOD",
        "JPY",
        "KRW",
        "KWD",
        "MAD",
        "MXN",
        "MYR",
        "NOK",
        "NZD",
        "OMR",
        "PEN",
        "PHP",
        "PLN",
        "QAR",
        "RON",
        "RSD",
        "SAR",
        "SEK",
        "SGD",
        "THB",
        "TND",
        "TRY",
        "TWD",
        "UAH",
        "USD",
        "VND",
        "ZAR",
    }
)
EXPONENT: dict[str, int] = {
    **dict.fromkeys(("CLP", "ISK", "JPY", "KRW", "VND"), 0),
    **dict.fromkeys(("BHD", "JOD", "KWD", "OMR", "TND"), 3),
}
MAX_MINOR = 10**13  # ten billion in a 2-decimal currency: a typo, never a real allocation
PERIOD = re.compile(r"^(?P<year>\d{4})(?:-(?:Q(?P<q>[1-4])|(?P<m>0[1-9]|1[0-2])))?$")


class TermError(ValueError):
    """A value refused; the message says what is wrong in words a person can act on."""


@dataclass(frozen=True)
class Period:
    name: str
    starts_on: date
    ends_on: date  # inclusive


def parse_period(text: str) -> Period:
    """'2026' (a year), '2026-Q4' (a quarter) or '2026-10' (a month)."""
    found = PERIOD.match(text.strip().upper())
    if found is None:
        raise TermError(
            said("%(text)s is not a period: write 2026, 2026-Q4 or 2026-10", text=repr(text))
        )
    year = int(found["year"])
    if not 2000 <= year <= 2100:
        raise TermError(said("%(text)s: the year must be between 2000 and 2100", text=repr(text)))
    if found["q"]:
        first = (int(found["q"]) - 1) * 3 + 1
        last = first + 2
        name = f"{year}-Q{found['q']}"
    elif found["m"]:
        first = last = int(found["m"])
        name = f"{year}-{first:02d}"
    else:
        first, last, name = 1, 12, str(year)
    end = date(year, last, calendar.monthrange(year, last)[1])
    return Period(name, date(year, first, 1), end)


def quarter_of(day: date) -> Period:
    return parse_period(f"{day.year}-Q{(day.month - 1) // 3 + 1}")


def parse_currency(text: str) -> str:
    code = text.strip().upper()
    if code not in CURRENCIES:
        raise TermError(
            said("%(text)s is not an ISO 4217 currency code this platform knows", text=repr(text))
        )
    return code


def exponent(currency: str) -> int:
    return EXPONENT.get(currency, 2)


def to_minor(text: str, currency: str, *, allow_negative: bool = False) -> int:
    """'1,000.00' or '1000' -> 100000 (EUR). More decimals than the currency has are refused,
    never rounded away."""
    cleaned = str(text).strip().replace(",", "").replace("_", "").replace(" ", "")
    if not cleaned or len(cleaned) > 40:
        raise TermError(said("give an amount such as 1000.00"))
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise TermError(
            said("%(text)s is not an amount: write it like 1000.00", text=repr(text))
        ) from None
    if not value.is_finite():
        raise TermError(said("%(text)s is not an amount", text=repr(text)))
    scaled = value.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise TermError(
            said(
                "%(text)s has more decimals than %(currency)s has",
                text=repr(text),
                currency=currency,
            )
        )
    minor = int(scaled)
    if minor == 0 or (minor < 0 and not allow_negative):
        raise TermError(said("the amount must be more than zero"))
    if abs(minor) >= MAX_MINOR:
        raise TermError(said("%(text)s is too large", text=repr(text)))
    return minor


def from_minor(minor: int, currency: str) -> str:
    """100000, EUR -> '1000.00' (for pages, sheets and reports)."""
    exp = exponent(currency)
    return f"{Decimal(minor).scaleb(-exp):.{exp}f}"


def percent_to_bp(text: str | int) -> int:
    """'50' or '37.5' or '50 %' -> 5000 or 3750 basis points."""
    cleaned = str(text).strip().removesuffix("%").strip()
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise TermError(
            said("%(text)s is not a percentage: write it like 50", text=repr(text))
        ) from None
    if not value.is_finite() or not 0 < value <= 100:
        raise TermError(said("the co-op share is a percentage above 0 and at most 100"))
    bp = value * 100
    if bp != bp.to_integral_value():
        raise TermError(said("%(text)s: at most two decimals (basis points)", text=repr(text)))
    return int(bp)
