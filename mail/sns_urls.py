"""The two URLs an SNS message makes us fetch: its signing certificate and, for a subscription
confirmation, the SubscribeURL. Both arrive in the body of an unauthenticated POST (the
certificate URL is not even covered by the signature), so they are checked as whole strings
against one strict shape instead of asking a URL parser for the host: parsers disagree about
userinfo, backslashes, tabs and brackets (`https://evil.example\\@sns...` names SNS to Python's
`urlsplit` and evil.example to a browser), and Python's raises ValueError for some ports.

The accepted shape, nothing else:
- `https://` and the host exactly `sns.<region>.amazonaws.com` (or `.amazonaws.com.cn`), lower
  case, as SNS writes it;
- no userinfo and no port: SNS never writes one, so even an explicit `:443` is refused (one
  shape fewer for parsers to disagree on);
- printable ASCII only: no whitespace, control characters, backslashes or non-ASCII letters;
  at most `MAX_URL_LENGTH` characters;
- certificate: a path of plain segments (letters, digits, `.`, `_`, `-`; none starting with a
  dot, so no `..`) ending in `.pem`, no query, no fragment;
- subscription: the path `/` and a query asking for `Action=ConfirmSubscription`, no fragment.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

MAX_URL_LENGTH = 2048

_HOST = r"sns\.[a-z0-9]+(?:-[a-z0-9]+)*\.amazonaws\.com(?:\.cn)?"
_SEGMENT = r"[A-Za-z0-9_-][A-Za-z0-9._-]*"
_CERT_URL = re.compile(rf"https://{_HOST}(?:/{_SEGMENT})*/{_SEGMENT}\.pem")
_SUBSCRIBE_URL = re.compile(rf"https://{_HOST}/\?(?P<query>[A-Za-z0-9._~:%=&+-]+)")
_PRINTABLE = re.compile(r"[\x21-\x5b\x5d-\x7e]*")  # printable ASCII without the backslash

CERT_SHAPE = "https://sns.<region>.amazonaws.com/<name>.pem (no user, port, query or fragment)"
SUBSCRIBE_SHAPE = (
    "https://sns.<region>.amazonaws.com/?Action=ConfirmSubscription&... (no user, port or fragment)"
)


def _characters_problem(url: str) -> str | None:
    if len(url) > MAX_URL_LENGTH:
        return f"is longer than {MAX_URL_LENGTH} characters"
    if not _PRINTABLE.fullmatch(url):
        return "holds whitespace, a backslash or a character outside printable ASCII"
    return None


def cert_url_problem(url: str) -> str | None:
    """Why a SigningCertURL is refused, or None when it is one we fetch."""
    problem = _characters_problem(url)
    if problem is None and not _CERT_URL.fullmatch(url):
        problem = f"must be {CERT_SHAPE}"
    return problem


def subscribe_url_problem(url: str) -> str | None:
    """Why a SubscribeURL is refused, or None when it is one we GET to confirm."""
    problem = _characters_problem(url)
    if problem is not None:
        return problem
    found = _SUBSCRIBE_URL.fullmatch(url)
    if found is None:
        return f"must be {SUBSCRIBE_SHAPE}"
    if parse_qs(found["query"]).get("Action") != ["ConfirmSubscription"]:
        return "must ask for Action=ConfirmSubscription (once)"
    return None


def is_sns_cert_url(url: str) -> bool:
    return cert_url_problem(url) is None


def is_sns_subscribe_url(url: str) -> bool:
    return subscribe_url_problem(url) is None
