"""Appending audit events on behalf of workflows, and anchoring the chains outside the database."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio import activity

from models.workflow_io import AuditReceipt, AuditRecord, CheckpointSweepResult
from services import audit, audit_checkpoints
from storage.base import WriteOnceStore


class AuditActivities:
    """Bound to the worker's engine; sync, so it runs on the worker's thread pool."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn(name="append_audit_event")
    def append_audit_event(self, record: AuditRecord) -> AuditReceipt:
        event = audit.append(
            lambda: Session(self._engine, expire_on_commit=False),
            audit.NewEvent(**record.model_dump()),
        )
        return AuditReceipt(seq=event.seq, hash=event.hash)


class CheckpointActivities:
    """The checkpoint schedule's work: database and checkpoint store, never in a workflow."""

    def __init__(
        self,
        engine: Engine,
        store: WriteOnceStore,
        policy: audit_checkpoints.CheckpointPolicy,
    ) -> None:
        self._engine = engine
        self._store = store
        self._policy = policy

    @activity.defn(name="write_audit_checkpoints")
    def write_audit_checkpoints(self) -> CheckpointSweepResult:
        """Idempotent enough to retry: a brand anchored by a failed attempt is unchanged now."""
        report = audit_checkpoints.sweep(
            lambda: Session(self._engine, expire_on_commit=False),
            self._store,
            policy=self._policy,
            now=datetime.now(UTC),
        )
        return CheckpointSweepResult(
            written=[w.location for w in report.written],
            unchanged=report.unchanged,
            refused=report.refused,
        )
