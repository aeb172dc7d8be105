"""The webhook endpoint workflow's I/O: which events are due, and one attempt of one event."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio import activity

from core.settings import Settings
from mail.transport import MessageSender
from models.webhook_io import WebhookAttemptInput, WebhookAttemptResult, WebhookDue, WebhookDueQuery
from services.webhooks import delivery, notice, starter


class WebhookActivities:
    """Sync but the sweep: they run on the worker's thread pool (the POST blocks up to its
    timeout); the sweep is async for the worker's Temporal client."""

    def __init__(self, engine: Engine, settings: Settings, transport: MessageSender) -> None:
        self._engine = engine
        self._settings = settings
        self._transport = transport

    @activity.defn(name="webhook_due_events")
    def webhook_due_events(self, query: WebhookDueQuery) -> WebhookDue:
        with Session(self._engine) as session:
            due = delivery.due_events(
                session, query.endpoint_id, query.now, self._settings.webhook_poll_seconds
            )
        return WebhookDue(
            status=due.status, event_ids=due.event_ids, next_check_seconds=due.next_check_seconds
        )

    @activity.defn(name="deliver_webhook_event")
    def deliver_webhook_event(self, inp: WebhookAttemptInput) -> WebhookAttemptResult:
        """One HTTP attempt, logged. A failed POST is a result (the row schedules the retry),
        not an activity failure: only the database failing makes Temporal retry this."""
        result = delivery.attempt(self._engine, self._settings, inp.event_id, inp.now)
        return WebhookAttemptResult(
            outcome=result.outcome, endpoint_disabled=result.endpoint_disabled
        )

    @activity.defn(name="notify_webhook_disabled")
    def notify_webhook_disabled(self, endpoint_id: int) -> int:
        """Email the brand's admins that the endpoint was disabled (once per admin)."""
        return notice.notify_disabled(self._engine, self._settings, self._transport, endpoint_id)

    @activity.defn(name="start_webhook_endpoints")
    async def start_webhook_endpoints(self) -> int:
        """The sweep: signal-with-start the workflow of every enabled endpoint (one that is
        running only gets a nudge); how many were reached."""
        return await starter.start_enabled(
            activity.client(), self._settings.temporal_task_queue, self._engine
        )
