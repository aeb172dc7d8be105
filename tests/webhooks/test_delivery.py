"""The delivery workflow against a real receiver on 127.0.0.1, on the time-skipping server."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from models.audit import AuditEvent
from models.outbox import OutboxMessage
from models.webhooks import WebhookDelivery, WebhookEndpoint, WebhookEvent
from services.webhooks import delivery, starter
from services.webhooks.delivery import aware
from services.webhooks.signing import WebhookVerificationError, new_secret, verify
from storage.local import LocalBlobStore
from tests.webhooks.conftest import Receiver, Stack, webhook_settings, webhook_stack
from tests.webhooks.events import LIFECYCLE, brand_of, transition

ADMIN = "admin@northwind.example"
Record = Callable[[str, str], Awaitable[None]]
HOUR = timedelta(hours=1)
ALL_TYPES = [
    "partner_campaign.state_changed",
    "approval_task.created",
    "delivery.finished",
]


def _events(engine: Engine, endpoint_id: int) -> list[WebhookEvent]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(WebhookEvent)
                .where(WebhookEvent.endpoint_id == endpoint_id)
                .order_by(col(WebhookEvent.id))
            ).all()
        )


def _endpoint(engine: Engine, endpoint_id: int) -> WebhookEndpoint:
    with Session(engine) as session:
        endpoint = session.get(WebhookEndpoint, endpoint_id)
    assert endpoint is not None
    return endpoint


async def _until(env: WorkflowEnvironment, done: object, step: timedelta, rounds: int) -> None:
    for _ in range(rounds):
        if done():  # type: ignore[operator]
            return
        await env.sleep(step)
    assert done(), "not reached after the time allowed"  # type: ignore[operator]


async def _register(stack: Stack, url: str, types: list[str]) -> tuple[int, str]:
    answer = await stack.api.post(
        "/api/v1/webhooks",
        json={"url": url, "event_types": types, "description": "receiver"},
        headers=stack.headers(ADMIN),
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["id"], answer.json()["secret"]


async def test_a_receiver_down_for_five_minutes_gets_every_event_once_in_order(
    settings: Settings,
    demo: Engine,
    workflow_env: WorkflowEnvironment,
    blob_store: LocalBlobStore,
    checkpoint_store: LocalBlobStore,
    receiver: Receiver,
    record_history: Record,
) -> None:
    local = webhook_settings(settings)
    async with webhook_stack(local, demo, workflow_env, blob_store, checkpoint_store) as stack:
        endpoint_id, secret = await _register(stack, receiver.url, ALL_TYPES)
        receiver.status = 503  # down
        brand_id = brand_of(demo, ADMIN)
        # Two partner campaigns move through their lifecycle, interleaved.
        for seq, step in enumerate(LIFECYCLE, start=1):
            for pc in (910_001, 910_002):
                transition(demo, brand_id, pc, seq, step)
        # A retried projection (same audit key) adds nothing.
        transition(demo, brand_id, 910_001, 1, LIFECYCLE[0])
        expected = _events(demo, endpoint_id)
        # 6 state changes + 1 approval task + 1 delivery finished, per partner campaign
        assert len(expected) == 16
        await workflow_env.sleep(timedelta(minutes=5))
        assert receiver.all() and not receiver.accepted()  # tried, refused while down

        receiver.status = 204  # back up
        await _until(
            workflow_env,
            lambda: all(e.state == "delivered" for e in _events(demo, endpoint_id)),
            timedelta(minutes=1),
            30,
        )
        accepted = receiver.accepted()
        ids = [r.headers["webhook-id"] for r in accepted]
        assert sorted(ids) == sorted(e.message_id for e in expected)  # every event, once
        for got in accepted:
            verify(secret, got.headers, got.body)  # raises when the signature is wrong
        by_subject: dict[str, list[str]] = {}
        for got in accepted:
            by_subject.setdefault(json.loads(got.body)["subject"], []).append(
                got.headers["webhook-id"]
            )
        for subject, sent in by_subject.items():
            assert sent == [e.message_id for e in expected if e.subject == subject]

        # Tampered or replayed copies are refused by the same verify.
        sample = accepted[0]
        with pytest.raises(WebhookVerificationError):
            verify(secret, sample.headers, sample.body.replace(b'"version":1', b'"version":2'))
        with pytest.raises(WebhookVerificationError):
            verify(secret, sample.headers, sample.body + b" ")
        old = int(sample.headers["webhook-timestamp"]) + 3600
        with pytest.raises(WebhookVerificationError):
            verify(secret, sample.headers, sample.body, now=old)

        # Redelivery from the log: the same message again, logged as manual.
        first = expected[0]
        answer = await stack.api.post(
            f"/api/v1/webhooks/{endpoint_id}/events/{first.id}/redeliver",
            headers=stack.headers(ADMIN),
        )
        assert answer.status_code == 202, answer.text
        await _until(
            workflow_env,
            lambda: (
                sum(r.headers["webhook-id"] == first.message_id for r in receiver.accepted()) == 2
            ),
            timedelta(seconds=30),
            10,
        )
        log = await stack.api.get(
            f"/api/v1/webhooks/{endpoint_id}/deliveries?event_id={first.id}",
            headers=stack.headers(ADMIN),
        )
        rows = log.json()["items"]
        assert [r["ok"] for r in rows][:1] == [True] and rows[0]["manual"] is True
        assert any(r["status_code"] == 503 and not r["ok"] for r in rows)
        await record_history(f"webhook-endpoint-{endpoint_id}", "webhook_down_then_delivered")


async def test_an_endpoint_that_keeps_failing_is_disabled_with_a_notice_and_re_enabled(
    settings: Settings,
    demo: Engine,
    workflow_env: WorkflowEnvironment,
    blob_store: LocalBlobStore,
    checkpoint_store: LocalBlobStore,
    receiver: Receiver,
    record_history: Record,
) -> None:
    local = webhook_settings(settings, webhook_disable_after_hours=0.5, webhook_poll_seconds=600.0)
    async with webhook_stack(local, demo, workflow_env, blob_store, checkpoint_store) as stack:
        endpoint_id, _ = await _register(stack, receiver.url, ALL_TYPES)
        receiver.status = 500
        transition(demo, brand_of(demo, ADMIN), 920_001, 1, LIFECYCLE[0])
        await _until(workflow_env, lambda: not _endpoint(demo, endpoint_id).enabled, HOUR / 4, 12)
        handle = workflow_env.client.get_workflow_handle(f"webhook-endpoint-{endpoint_id}")
        assert await handle.result() == "disabled"  # after emailing the admins
        await record_history(handle.id, "webhook_disabled")

        read = await stack.api.get(f"/api/v1/webhooks/{endpoint_id}", headers=stack.headers(ADMIN))
        body = read.json()
        assert body["enabled"] is False and "every attempt failed" in body["disabled_reason"]
        assert body["pending_events"] == 1
        with Session(demo) as session:
            notice = session.exec(
                select(AuditEvent).where(AuditEvent.action == "webhook_endpoint.disabled")
            ).one()
            attempts = session.exec(
                select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
            ).all()
            emails = session.exec(
                select(OutboxMessage.to).where(
                    OutboxMessage.subject == "A webhook endpoint was disabled"
                )
            ).all()
        assert notice.entity_id == str(endpoint_id)
        assert emails == ["admin@northwind.example"]  # the brand's admins, once
        assert len(attempts) > 3 and not any(a.ok for a in attempts)

        receiver.status = 200
        again = await stack.api.patch(
            f"/api/v1/webhooks/{endpoint_id}",
            json={"enabled": True},
            headers=stack.headers(ADMIN),
        )
        assert again.status_code == 200 and again.json()["disabled_reason"] is None
        await _until(
            workflow_env,
            lambda: all(e.state == "delivered" for e in _events(demo, endpoint_id)),
            timedelta(seconds=30),
            10,
        )
        endpoint = _endpoint(demo, endpoint_id)
        assert endpoint.enabled and endpoint.failing_since is None


def test_a_receiver_that_hangs_or_answers_an_error_is_logged_and_retried_later(
    settings: Settings, demo: Engine, receiver: Receiver
) -> None:
    local = webhook_settings(settings, webhook_timeout_seconds=0.2)
    with Session(demo) as session:
        endpoint = WebhookEndpoint(
            brand_id=brand_of(demo, ADMIN),
            url=receiver.url,
            event_types=["partner_campaign.state_changed"],
            secret=new_secret(),
        )
        session.add(endpoint)
        session.commit()
        assert endpoint.id is not None
        endpoint_id = endpoint.id
    transition(demo, brand_of(demo, ADMIN), 940_001, 1, LIFECYCLE[0])
    (event,) = _events(demo, endpoint_id)
    assert event.id is not None
    now = datetime.now(UTC)
    receiver.delay = 0.5  # longer than the timeout
    assert delivery.attempt(demo, local, event.id, now).outcome == "retry"
    receiver.delay, receiver.status = 0.0, 500
    receiver.body = b"x" * 5000
    later = now + timedelta(seconds=10)
    assert delivery.attempt(demo, local, event.id, later).outcome == "retry"
    with Session(demo) as session:
        log = session.exec(
            select(WebhookDelivery)
            .where(WebhookDelivery.event_id == event.id)
            .order_by(col(WebhookDelivery.id))
        ).all()
        stored = session.get(WebhookEvent, event.id)
    assert [(r.attempt, r.ok, r.status_code) for r in log] == [(1, False, None), (2, False, 500)]
    assert "Timeout" in (log[0].error or "") and log[1].error == "HTTP 500"
    assert len(log[1].response_excerpt) == 200  # a short excerpt, not the whole answer
    assert stored is not None and stored.attempts == 2
    # Backoff: 5 s after the first failure, 10 s after the second (from the workflow's clock).
    assert stored.next_attempt_at is not None
    assert aware(stored.next_attempt_at) == later + timedelta(seconds=10)


def test_a_subject_waiting_on_a_retry_holds_back_only_its_own_later_events(
    demo: Engine,
) -> None:
    brand_id = brand_of(demo, ADMIN)
    with Session(demo) as session:
        endpoint = WebhookEndpoint(
            brand_id=brand_id, url="https://93.184.215.14/h", event_types=[], secret=new_secret()
        )
        session.add(endpoint)
        session.commit()
        assert endpoint.id is not None
        endpoint_id = endpoint.id
    now = datetime.now(UTC)
    plan = [("a", now + timedelta(seconds=40)), ("a", now), ("b", now), ("b", now), ("c", None)]
    with Session(demo) as session:
        for n, (subject, due) in enumerate(plan):
            session.add(
                WebhookEvent(
                    endpoint_id=endpoint_id,
                    brand_id=brand_id,
                    message_id=f"msg_order_{n}",
                    source_key=f"order-{n}",
                    event_type="t",
                    subject=subject,
                    next_attempt_at=due,
                )
            )
        session.commit()
    events = _events(demo, endpoint_id)
    with Session(demo) as session:
        due = delivery.due_events(session, endpoint_id, now, poll_seconds=30.0)
    # a's head waits 40 s: neither it nor a's second event; b's first; c's only one.
    assert due.event_ids == [events[2].id, events[4].id]
    assert due.next_check_seconds == 30.0  # the poll comes before a's retry
    with Session(demo) as session:
        later = delivery.due_events(session, endpoint_id, now, poll_seconds=60.0)
    assert later.next_check_seconds == 40.0


async def test_the_worker_starts_the_workflow_of_every_enabled_endpoint(
    demo: Engine, workflow_env: WorkflowEnvironment
) -> None:
    brand_id = brand_of(demo, ADMIN)
    with Session(demo) as session:
        rows = [
            WebhookEndpoint(
                brand_id=brand_id,
                url="https://93.184.215.14/h",
                event_types=[],
                enabled=enabled,
                secret=new_secret(),
            )
            for enabled in (True, False)
        ]
        session.add_all(rows)
        session.commit()
        on, off = (r.id for r in rows)
    queue = f"test-wh-start-{on}"  # no worker polls it: the runs only wait
    assert await starter.start_enabled(workflow_env.client, queue, demo) == 1
    described = await workflow_env.client.get_workflow_handle(f"webhook-endpoint-{on}").describe()
    assert described.task_queue == queue
    with pytest.raises(RPCError):
        await workflow_env.client.get_workflow_handle(f"webhook-endpoint-{off}").describe()
    # A second start (a restarted worker) signals the running one instead.
    assert await starter.start_enabled(workflow_env.client, queue, demo) == 1
