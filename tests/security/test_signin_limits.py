"""Lockout per account and throttle per client address under parallel guessing.

Every burst starts its attempts together (a barrier), each on its own connection: through the
HTTP API (the token route and the portal share services.accounts.sign_in) and directly on the
service with one session per thread. They run on SQLite and on PostgreSQL (DATABASE_URL).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from api.app import create_app
from core.settings import Settings
from core.temporal import LazyTemporalClient
from models.org import User
from scripts.demo.organisation import DEMO_PASSWORD
from services.accounts import MAX_FAILED_LOGINS, AddressLimit, Outcome, sign_in
from storage.local import LocalBlobStore

TOKEN_URL = "/api/v1/auth/token"
T = TypeVar("T")


def together(n: int, attempt: Callable[[int], T]) -> list[T]:
    """Run attempt(0..n-1) in n threads released at the same moment."""
    start = threading.Barrier(n)

    def run(i: int) -> T:
        start.wait()
        return attempt(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def token_status(client: TestClient, email: str, password: str, **headers: str) -> int:
    resp = client.post(TOKEN_URL, data={"username": email, "password": password}, headers=headers)
    return resp.status_code


def partner_logins(demo: Engine) -> list[str]:
    with Session(demo) as session:
        rows = session.exec(select(User.email).where(col(User.email).like("%.%@northwind.example")))
        return sorted(rows)


@pytest.fixture
def proxied(
    settings: Settings, demo: Engine, blob_store: LocalBlobStore
) -> Iterator[Callable[[int], TestClient]]:
    """proxied(limit): the API behind one trusted proxy, `limit` failures per address."""
    clients: list[TestClient] = []

    def make(limit: int) -> TestClient:
        tuned = settings.model_copy(
            update={"trusted_proxy_hops": 1, "signin_address_max_failures": limit}
        )
        app = create_app(
            tuned, engine=demo, temporal=LazyTemporalClient(tuned), blob_store=blob_store
        )
        client = TestClient(app, base_url="https://testserver")  # the cookie is Secure
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def test_parallel_wrong_passwords_lock_the_account_after_exactly_the_limit(
    client: TestClient, demo: Engine
) -> None:
    """Read-modify-write of the counter lost most of these failures: the account stayed open."""
    email = "gm.vienna@northwind.example"
    statuses = together(MAX_FAILED_LOGINS, lambda _: token_status(client, email, "guess-wrong"))
    assert statuses == [401] * MAX_FAILED_LOGINS
    assert token_status(client, email, DEMO_PASSWORD) == 401  # locked: the right one fails too
    with Session(demo) as session:
        user = session.exec(select(User).where(User.email == email)).one()
        assert user.locked_until is not None


def test_one_failure_fewer_in_parallel_leaves_the_account_open(
    client: TestClient, demo: Engine
) -> None:
    email = "gm.zurich@northwind.example"
    together(MAX_FAILED_LOGINS - 1, lambda _: token_status(client, email, "guess-wrong"))
    with Session(demo) as session:
        user = session.exec(select(User).where(User.email == email)).one()
        assert (user.failed_logins, user.locked_until) == (MAX_FAILED_LOGINS - 1, None)
    assert token_status(client, email, DEMO_PASSWORD) == 200


def test_a_burst_counts_exactly_the_limit_and_meets_the_lock(demo: Engine) -> None:
    """Four times the limit at once, each from its own address (so only the account counts):
    exactly MAX_FAILED_LOGINS are counted, the others find the lock."""
    email = "gm.munich@northwind.example"
    n = 4 * MAX_FAILED_LOGINS

    def attempt(i: int) -> Outcome:
        with Session(demo) as session:
            return sign_in(session, email, f"guess-{i}", client=f"198.51.100.{i}").outcome

    outcomes = together(n, attempt)
    assert outcomes.count(Outcome.refused) == MAX_FAILED_LOGINS, outcomes
    assert outcomes.count(Outcome.locked) == n - MAX_FAILED_LOGINS
    with Session(demo) as session:
        user = session.exec(select(User).where(User.email == email)).one()
        assert user.locked_until is not None and user.failed_logins == 0
        late = sign_in(session, email, DEMO_PASSWORD, client="198.51.100.200")
        assert (late.outcome, late.user) == (Outcome.locked, None)


def test_one_address_guessing_many_accounts_is_throttled(
    proxied: Callable[[int], TestClient], demo: Engine
) -> None:
    """Two failures per account stay below the account lockout; the address limit stops the
    whole burst, and then even a right password from that address."""
    limit = 6
    client = proxied(limit)
    attacker = {"X-Forwarded-For": "203.0.113.7"}
    victims = partner_logins(demo)[:limit]
    assert len(victims) == limit
    statuses = together(
        2 * limit, lambda i: token_status(client, victims[i % limit], "guess-wrong", **attacker)
    )
    assert statuses == [401] * (2 * limit)
    bystander = "marketing@northwind.example"
    assert token_status(client, bystander, DEMO_PASSWORD, **attacker) == 401
    assert token_status(client, bystander, DEMO_PASSWORD, **{"X-Forwarded-For": "192.0.2.1"}) == 200


def test_the_address_limit_holds_exactly_under_a_parallel_burst(demo: Engine) -> None:
    limit = AddressLimit(max_failures=5, window_seconds=900)
    victims = partner_logins(demo)
    n = 3 * limit.max_failures

    def attempt(i: int) -> Outcome:
        with Session(demo) as session:
            email = victims[i % len(victims)]
            return sign_in(session, email, "guess-wrong", client="203.0.113.9", limit=limit).outcome

    outcomes = together(n, attempt)
    assert outcomes.count(Outcome.refused) == limit.max_failures, outcomes
    assert outcomes.count(Outcome.throttled) == n - limit.max_failures
    with Session(demo) as session:  # another address is not affected
        result = sign_in(session, victims[0], DEMO_PASSWORD, client="192.0.2.44", limit=limit)
        assert result.outcome == Outcome.signed_in


def test_successful_sign_ins_do_not_use_up_the_address(demo: Engine) -> None:
    """An office behind one address signs in all day; only failures count."""
    limit = AddressLimit(max_failures=2, window_seconds=900)
    with Session(demo) as session:
        for email in partner_logins(demo)[:4]:
            outcome = sign_in(session, email, DEMO_PASSWORD, client="192.0.2.80", limit=limit)
            assert outcome.outcome == Outcome.signed_in


def test_the_portal_shares_the_address_throttle(
    proxied: Callable[[int], TestClient], demo: Engine
) -> None:
    """Failures at the API count for the portal's form as well (one counter per address)."""
    client = proxied(2)
    attacker = {"X-Forwarded-For": "203.0.113.50"}
    for email in partner_logins(demo)[:2]:
        assert token_status(client, email, "guess-wrong", **attacker) == 401
    page = client.get("/login", headers=attacker)
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    form = {"email": "ops@northwind.example", "password": DEMO_PASSWORD, "csrf_token": csrf}
    refused = client.post("/login", data=form, headers=attacker, follow_redirects=False)
    assert refused.status_code == 401
    assert "Incorrect email or password, or too many attempts" in refused.text
