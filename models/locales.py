"""Email addresses and locales as contacts store them: one spelling each, validated.

No extra dependency: the address check is a deliberate subset of RFC 5321 (dot-atom local part,
an LDH host name with a letter TLD, IDN domains through the standard idna codec) that accepts
every address a mail provider hands out and refuses what would bounce or inject headers.

It is the one address rule: contact intake, the CSV import, user and partner addresses and
message composition (mail.message.parse_address) all call `normalise_email`, so an address
that was accepted can always be put in a To header. That includes the header parser's own
objections (a local part that reads as an RFC 2047 encoded word, `=?utf-8?q?x?=`), which the
character rules alone let through.
"""

from __future__ import annotations

import re
from email.errors import HeaderParseError, MessageDefect
from email.headerregistry import Address

from core.said import said

SUPPORTED_LANGUAGES = frozenset(
    {"en", "de", "nl", "fr", "it", "es", "pt", "da", "sv", "nb", "fi", "pl", "cs"}
)
_LOCALE = re.compile(r"^([a-zA-Z]{2})(?:[-_]([a-zA-Z]{2}))?$")
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = re.compile(rf"^{_ATOM}(?:\.{_ATOM})*$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TLD = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")


def normalise_email(raw: str) -> str:
    """Trimmed, domain in lower case (the local part is the mailbox owner's, kept as given).

    Raises ValueError saying what is wrong."""
    value = raw.strip()
    if not value:
        raise ValueError(said("email is empty"))
    if any(ch in value for ch in '\r\n\t ,;<>"()[]\\') or value.count("@") != 1:
        raise ValueError(said("%(value)s is not an email address", value=repr(value)))
    local, domain = value.split("@")
    if not local or len(local) > 64 or not _LOCAL.fullmatch(local):
        raise ValueError(said("%(value)s: the part before @ is not valid", value=repr(value)))
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError as err:
        raise ValueError(said("%(value)s: the domain is not valid", value=repr(value))) from err
    labels = ascii_domain.split(".")
    if (
        len(labels) < 2
        or not all(_LABEL.fullmatch(label) for label in labels)
        or not _TLD.fullmatch(labels[-1])
    ):
        raise ValueError(said("%(value)s: the domain is not valid", value=repr(value)))
    email = f"{local}@{ascii_domain}"
    if len(email) > 254:
        raise ValueError(said("email is longer than 254 characters"))
    if not _fits_a_header(email):
        raise ValueError(
            said(
                "%(value)s: the part before @ cannot be used in an email header", value=repr(value)
            )
        )
    return email


def _fits_a_header(email: str) -> bool:
    """Whether the standard library's header model takes the address back unchanged."""
    try:
        return str(Address(addr_spec=email)) == email
    except (ValueError, IndexError, HeaderParseError, MessageDefect):
        return False


def normalise_locale(raw: str) -> str:
    """'de', 'de-AT', 'de_at' -> 'de' / 'de-AT'; ValueError for a language we do not send in."""
    match = _LOCALE.fullmatch(raw.strip())
    if match is None or match.group(1).lower() not in SUPPORTED_LANGUAGES:
        raise ValueError(
            said(
                "unknown locale %(value)s (use one of %(languages)s, optionally with a country "
                "such as de-AT)",
                value=repr(raw.strip()),
                languages=", ".join(sorted(SUPPORTED_LANGUAGES)),
            )
        )
    language, country = match.group(1).lower(), match.group(2)
    return f"{language}-{country.upper()}" if country else language
