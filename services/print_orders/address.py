"""Delivery addresses: a vendor refuses what it cannot ship to, so refuse it first, naming the
field (country as ISO 3166-1 alpha-2, postal code by the country's pattern)."""

from __future__ import annotations

import re

from core.said import said

# Postal code patterns of the countries the network ships to; other countries: 2-10 of
# letters, digits, spaces and hyphens.
POSTAL_CODES: dict[str, re.Pattern[str]] = {
    "NL": re.compile(r"[1-9][0-9]{3} ?[A-Z]{2}"),
    "DE": re.compile(r"[0-9]{5}"),
    "BE": re.compile(r"[1-9][0-9]{3}"),
    "AT": re.compile(r"[1-9][0-9]{3}"),
    "CH": re.compile(r"[1-9][0-9]{3}"),
    "LU": re.compile(r"(L-)?[0-9]{4}"),
    "FR": re.compile(r"[0-9]{5}"),
}
OTHER = re.compile(r"[A-Z0-9][A-Z0-9 -]{0,8}[A-Z0-9]")
# The ISO 3166-1 alpha-2 codes of Europe and the brands' other markets.
COUNTRIES = frozenset(
    [
        "AD",
        "AL",
        "AT",
        "BA",
        "BE",
        "BG",
        "BY",
        "CH",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FO",
        "FR",
        "GB",
        "GI",
        "GR",
        "HR",
        "HU",
        "IE",
        "IS",
        "IT",
        "LI",
        "LT",
        "LU",
        "LV",
        "MC",
        "MD",
        "ME",
        "MK",
        "MT",
        "NL",
        "NO",
        "PL",
        "PT",
        "RO",
        "RS",
        "RU",
        "SE",
        "SI",
        "SK",
        "SM",
        "UA",
        "VA",
        "US",
        "CA",
        "AU",
        "NZ",
        "JP",
    ]
)


def address_errors(country: str, postal_code: str) -> list[tuple[str, str]]:
    """(field, message) for what is wrong; empty when the address can be shipped to."""
    if country not in COUNTRIES:
        return [("country", said("country must be an ISO 3166-1 alpha-2 code we ship to, e.g. NL"))]
    pattern = POSTAL_CODES.get(country, OTHER)
    if not pattern.fullmatch(postal_code.upper()):
        wrong = said("postal_code is not a valid postal code in %(country)s", country=country)
        return [("postal_code", wrong)]
    return []
