"""Phone numbers as contacts and SMS store them: E.164, validated by the `phonenumbers` library.

One rule for every intake (the contacts API, the CSV import, the inbound STOP webhook) and for
composition, so a number that was accepted can always be handed to the SMS provider and two
spellings of one number ("06 12345678" in the Netherlands, "+31612345678") are one contact.
"""

from __future__ import annotations

import phonenumbers

from core.said import said

# A national number needs a country to be read: the partner's country, else this.
DEFAULT_REGION = "NL"


def normalise_phone(raw: str, region: str | None = None) -> str:
    """'+31 6 1234 5678', '06-12345678' (region NL) -> '+31612345678'.

    Raises ValueError saying what is wrong (not a number, not a possible number for its
    country, not a mobile-capable number is left to the provider)."""
    value = raw.strip()
    if not value:
        raise ValueError(said("phone is empty"))
    if len(value) > 40:
        raise ValueError(said("phone is longer than 40 characters"))
    try:
        number = phonenumbers.parse(value, (region or DEFAULT_REGION).upper())
    except phonenumbers.NumberParseException as err:
        raise ValueError(said("%(value)s is not a phone number", value=repr(value))) from err
    if not phonenumbers.is_valid_number(number):
        raise ValueError(
            said("%(value)s is not a valid phone number for its country", value=repr(value))
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def country_of(e164: str) -> str:
    """The ISO country code of an E.164 number ('' when unknown)."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None)) or ""
    except phonenumbers.NumberParseException:
        return ""
