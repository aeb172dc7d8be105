"""One canonical text per token: tokens made before core.signing keep verifying, and every other
spelling of them (padding, other trailing bits, '+' or '/', whitespace) is refused, for each
kind: action links, portal session cookies, unsubscribe links, signed file URLs."""

from __future__ import annotations

import base64
import string
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.portal import session as cookies
from core import signing
from core.settings import AppEnv, Settings
from services import action_links
from services.engagement import unsubscribe
from storage.local import LocalBlobStore

# Made by the code before core.signing existed, with this key; they must verify forever (an
# unsubscribe link in a sent mail never expires).
PINNED_SECRET = "pinned-secret-key-for-token-compatibility-tests"
PINNED_ACTION = (
    "eyJwYyI6MTIsInUiOjM0LCJhIjoiYXBwcm92ZSIsImV4cCI6MTc5NjczMTIwMH0"
    ".QqgWGYYeQw8DqQeSztPN7Qwv5sofXLHzEVzym-lKno8"
)
PINNED_ACTION_CHANGES = (
    "eyJwYyI6NSwidSI6OSwiYSI6InJlcXVlc3RfY2hhbmdlcyIsImV4cCI6MTc5NjczMTIwMH0"
    ".eehoh0ylhk78dcwi9j92KT6_nyZu4LwlwqHhCmnyL6Q"
)
ACTION_NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PINNED_SESSION = (
    "eyJ1Ijo3LCJuIjoicGlubmVkTm9uY2VfYWJjZGVmZ2hpamtsIiwiaWF0IjoxNzk2MTI2NDAwLCJleHAiOjE3OTYx"
    "NTUyMDB9.8DpldIK2uOfDxVHTIFn7teEiH0SB5JHWNtqYLG3SE4k"
)
PINNED_ANONYMOUS_SESSION = (
    "eyJ1IjpudWxsLCJuIjoiYW5vbk5vbmNlX2FiY2RlZmdoaWprbG0iLCJpYXQiOjE3OTYxMjY0MDAsImV4cCI6MTc5"
    "NjEzMDAwMH0.kjWqTcaO3pw2fIs40LWeGAQRdsJWxSoi-xzzdJFBMlU"
)
PINNED_CSRF = "fZLizSCjIx0JPq3X7-KjZ3HwWQQvrCu6o7QINY7NX-s"
SESSION_NOW = 1796126400 + 60
PINNED_UNSUBSCRIBE = "MXwzfDE0fDE1OQ.vaAVnhf9bBh2MRtiLbxNvQ"
PINNED_UNSUBSCRIBE_DELIVERY = "MXwzfDE0fDE1OXxkMjY1Mw.Sfat5m33bb_svWLMEiIiQQ"
FILE_KEY = "brand-1/assets/abc/v1/original.png"
FILE_EXPIRES = 1796130000
PINNED_FILE_SIG = "15c721a2bd43ba5238ef36cb0ab76084aaf75596e138d9ce780c918cf10e25ba"
PINNED_FILE_SIG_NAMED = "b45db5e3ff5a745c79b27e0a52c94ce2401d39b3bd888e18130bf2fb0166f097"


@pytest.fixture
def pinned() -> Settings:
    return Settings(  # type: ignore[call-arg]
        app_env=AppEnv.test, _env_file=None, secret_key=SecretStr(PINNED_SECRET)
    )


def other_last_characters(part: str) -> Iterator[str]:
    """The part with each other last character that old decoders read as the same bytes."""
    if not part or len(part) % 4 == 0:
        return
    decoded = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    for ch in string.ascii_letters + string.digits + "-_":
        candidate = part[:-1] + ch
        if candidate == part:
            continue
        padded = candidate + "=" * (-len(candidate) % 4)
        if base64.urlsafe_b64decode(padded) == decoded:
            yield candidate


def variants(token: str) -> dict[str, str]:
    """Every other spelling of a base64url token that a lenient decoder accepts, by name."""
    body, _, sig = token.partition(".")
    out = {
        "padding on the MAC": token + "=",
        "double padding on the MAC": token + "==",
        "padding on the payload": body + "=." + sig,
        "leading space": " " + token,
        "trailing newline": token + "\n",
        "space in the payload": body[:4] + " " + body[4:] + "." + sig,
        "tab in the MAC": body + "." + sig[:4] + "\t" + sig[4:],
    }
    for i, other in enumerate(other_last_characters(sig)):
        out[f"trailing bits of the MAC #{i}"] = body + "." + other
    for i, other in enumerate(other_last_characters(body)):
        out[f"trailing bits of the payload #{i}"] = other + "." + sig
    if "-" in token or "_" in token:
        out["standard alphabet"] = token.replace("-", "+").replace("_", "/")
    return out


def test_variants_cover_the_trailing_bits_and_both_alphabets() -> None:
    names = set(variants(PINNED_ACTION)) | set(variants(PINNED_UNSUBSCRIBE_DELIVERY))
    assert "standard alphabet" in names
    assert any(n.startswith("trailing bits of the MAC") for n in names)
    assert any(n.startswith("trailing bits of the payload") for n in names)


# Action links -----------------------------------------------------------------------------------


def test_pinned_action_links_still_verify(pinned: Settings) -> None:
    token = action_links.read_token(pinned, PINNED_ACTION, now=ACTION_NOW)
    assert token is not None
    assert (token.partner_campaign_id, token.user_id, token.action) == (12, 34, "approve")
    assert token.expires == datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
    changes = action_links.read_token(pinned, PINNED_ACTION_CHANGES, now=ACTION_NOW)
    assert changes is not None and changes.action == "request_changes"


def test_new_action_links_are_made_as_before(pinned: Settings) -> None:
    made = action_links.make_token(pinned, 12, 34, "approve", now=ACTION_NOW)
    assert made == PINNED_ACTION


@pytest.mark.parametrize("token", [PINNED_ACTION, PINNED_ACTION_CHANGES])
def test_other_spellings_of_an_action_link_are_refused(pinned: Settings, token: str) -> None:
    for name, variant in variants(token).items():
        assert action_links.read_token(pinned, variant, now=ACTION_NOW) is None, name


# Portal sessions ---------------------------------------------------------------------------------


def test_pinned_portal_sessions_still_verify(pinned: Settings) -> None:
    found = cookies.decode(pinned, PINNED_SESSION, now=SESSION_NOW)
    assert found == cookies.PortalSession(7, "pinnedNonce_abcdefghijkl", 1796126400, 1796155200)
    assert cookies.csrf_token(pinned, found) == PINNED_CSRF
    assert cookies.csrf_ok(pinned, found, PINNED_CSRF)
    anonymous = cookies.decode(pinned, PINNED_ANONYMOUS_SESSION, now=SESSION_NOW)
    assert anonymous is not None and anonymous.user_id is None


@pytest.mark.parametrize("token", [PINNED_SESSION, PINNED_ANONYMOUS_SESSION])
def test_other_spellings_of_a_session_cookie_are_refused(pinned: Settings, token: str) -> None:
    for name, variant in variants(token).items():
        assert cookies.decode(pinned, variant, now=SESSION_NOW) is None, name


def test_other_spellings_of_a_csrf_token_are_refused(pinned: Settings) -> None:
    found = cookies.decode(pinned, PINNED_SESSION, now=SESSION_NOW)
    assert found is not None
    spellings = [PINNED_CSRF + "=", " " + PINNED_CSRF, PINNED_CSRF.replace("-", "+")]
    spellings += list(other_last_characters(PINNED_CSRF))
    spellings += ["é" * 43, PINNED_CSRF[:-1] + "é"]  # not ASCII: refused, never an error
    for given in spellings:
        assert not cookies.csrf_ok(pinned, found, given), given


# Unsubscribe links -------------------------------------------------------------------------------


def test_pinned_unsubscribe_links_still_verify(pinned: Settings) -> None:
    assert unsubscribe.read_token(pinned, PINNED_UNSUBSCRIBE) == unsubscribe.UnsubscribeToken(
        3, 14, 159
    )
    assert unsubscribe.read_token(
        pinned, PINNED_UNSUBSCRIBE_DELIVERY
    ) == unsubscribe.UnsubscribeToken(3, 14, 159, "d2653")
    made = unsubscribe.make_token(pinned, unsubscribe.UnsubscribeToken(3, 14, 159, "d2653"))
    assert made == PINNED_UNSUBSCRIBE_DELIVERY


@pytest.mark.parametrize("token", [PINNED_UNSUBSCRIBE, PINNED_UNSUBSCRIBE_DELIVERY])
def test_other_spellings_of_an_unsubscribe_link_are_refused(pinned: Settings, token: str) -> None:
    for name, variant in variants(token).items():
        assert unsubscribe.read_token(pinned, variant) is None, name


# Signed file URLs --------------------------------------------------------------------------------


@pytest.fixture
def pinned_store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path, PINNED_SECRET, "http://test")


def test_pinned_file_signatures_still_verify(pinned_store: LocalBlobStore) -> None:
    now = FILE_EXPIRES - 60
    assert pinned_store.verify(FILE_KEY, FILE_EXPIRES, PINNED_FILE_SIG, None, now=now)
    assert pinned_store.verify(FILE_KEY, FILE_EXPIRES, PINNED_FILE_SIG_NAMED, "club.png", now=now)


def test_other_spellings_of_a_file_signature_are_refused(pinned_store: LocalBlobStore) -> None:
    now = FILE_EXPIRES - 60
    for variant in (
        PINNED_FILE_SIG.upper(),
        PINNED_FILE_SIG + "=",
        " " + PINNED_FILE_SIG,
        PINNED_FILE_SIG + "\n",
        PINNED_FILE_SIG[:32] + " " + PINNED_FILE_SIG[32:],
        "0x" + PINNED_FILE_SIG,
        PINNED_FILE_SIG + "0",
    ):
        assert not pinned_store.verify(FILE_KEY, FILE_EXPIRES, variant, None, now=now), variant


def test_other_spellings_of_a_file_urls_expiry_are_refused(
    client: TestClient, blob_store: LocalBlobStore
) -> None:
    """The signature covers the expiry as a number: "0" + it or "+" + it must not pass."""
    blob_store.put("brand-9/assets/t/v1/original.txt", b"hello", "text/plain")
    url = blob_store.signed_url("brand-9/assets/t/v1/original.txt", expires_in=300)
    path, _, query = url.removeprefix("http://test").partition("?")
    params = dict(p.split("=", 1) for p in query.split("&"))
    assert client.get(path, params=params).status_code == 200
    for spelled in ("0" + params["expires"], "+" + params["expires"], params["expires"] + ".0"):
        resp = client.get(path, params={**params, "expires": spelled})
        assert resp.status_code in (403, 422), spelled


# The signer itself -------------------------------------------------------------------------------


def test_purposes_have_their_own_keys() -> None:
    purposes = [
        signing.ACTION_LINK,
        signing.PORTAL_SESSION,
        signing.PORTAL_CSRF,
        signing.UNSUBSCRIBE,
        signing.FILE_URL,
    ]
    assert len({p.label for p in purposes}) == len(purposes)
    token = signing.sign("k" * 32, signing.ACTION_LINK, b"{}")
    assert signing.verify("k" * 32, signing.ACTION_LINK, token, max_len=100) == b"{}"
    assert signing.verify("k" * 32, signing.PORTAL_SESSION, token, max_len=100) is None
    assert signing.verify("x" * 32, signing.ACTION_LINK, token, max_len=100) is None
    assert signing.verify("k" * 32, signing.ACTION_LINK, token, max_len=len(token) - 1) is None


@pytest.mark.parametrize("length", range(0, 40))
def test_canonical_base64url_round_trips(length: int) -> None:
    data = bytes(range(256))[:length]
    text = signing.b64encode(data)
    assert signing.b64decode(text) == data
    assert signing.b64decode(text + "=") is None
    for other in other_last_characters(text):
        assert signing.b64decode(other) is None
