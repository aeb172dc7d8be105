"""The ClaimWorkflow's side effects: creating a claim and starting its workflow, drafting it
from real spend, projecting each step. All idempotent: a retry changes nothing."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from temporalio import activity

from core.settings import Settings
from mail.transport import MessageSender
from models.claim_io import (
    ClaimChainInput,
    ClaimReminder,
    ClaimStart,
    ClaimStarted,
    ClaimTransition,
)
from services import audit
from services.claims import chain, notices, projection, starter
from storage.base import BlobStore


class ClaimActivities:
    def __init__(
        self, engine: Engine, settings: Settings, store: BlobStore, transport: MessageSender
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._store = store
        self._transport = transport

    @activity.defn(name="start_claim")
    async def start_claim(self, start: ClaimStart) -> ClaimStarted:
        """The contract's entry point for finished partner campaigns and delivered print
        orders: the subject's claim and its running workflow, or no claim and why."""
        return await starter.start_claim(
            self._engine,
            self._settings,
            self._store,
            activity.client(),
            self._settings.temporal_task_queue,  # where ClaimWorkflow is registered
            start,
        )

    @activity.defn(name="draft_claim")
    def draft_claim(self, claim_id: int) -> None:
        """Read and store the evidence first, then write the draft and its audit event in one
        transaction under the write lock."""
        with Session(self._engine, expire_on_commit=False) as session:
            found = projection.compute(session, self._settings, self._store, claim_id)
        actor = f"workflow:{activity.info().workflow_id}"
        for _ in range(20):
            with Session(self._engine, expire_on_commit=False) as session:
                try:
                    audit.begin_write(session)
                    projection.write_draft(session, claim_id, found, actor)
                    session.commit()
                    return
                except IntegrityError:
                    session.rollback()
        raise RuntimeError(f"could not write the draft of claim {claim_id}")

    @activity.defn(name="remind_claim_gm")
    def remind_claim_gm(self, reminder: ClaimReminder) -> int:
        """Sync: SMTP and SES calls block, so this runs on the activity thread pool."""
        return notices.remind(
            self._engine, self._settings, self._transport, reminder.claim_id, reminder.days
        )

    @activity.defn(name="claim_chain_input")
    def claim_chain_input(self, claim_id: int) -> ClaimChainInput:
        with Session(self._engine) as session:
            return chain.chain_input(session, self._settings, claim_id)

    @activity.defn(name="project_claim")
    def project_claim(self, t: ClaimTransition) -> None:
        for _ in range(20):
            with Session(self._engine, expire_on_commit=False) as session:
                try:
                    audit.begin_write(session)
                    projection.apply(session, t)
                    session.commit()
                    return
                except IntegrityError:
                    session.rollback()
        raise RuntimeError(f"could not project claim {t.claim_id} step {t.seq}")
