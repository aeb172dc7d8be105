"""Appending audit events on behalf of workflows."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio import activity

from models.workflow_io import AuditReceipt, AuditRecord
from services import audit


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
