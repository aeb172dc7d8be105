"""The JourneyActivationWorkflow's side effects: the chain it pins, and the chain's outcome
written to the activation row with its audit event (idempotent: a retry changes nothing)."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from temporalio import activity

from core.settings import Settings
from models.journey_activation_io import ActivationChainInput, ActivationTransition
from services import audit
from services.journeys import activation


class JourneyActivationActivities:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings

    @activity.defn(name="journey_activation_chain_input")
    def journey_activation_chain_input(self, activation_id: int) -> ActivationChainInput:
        with Session(self._engine) as session:
            return activation.chain_input(session, self._settings, activation_id)

    @activity.defn(name="project_journey_activation")
    def project_journey_activation(self, t: ActivationTransition) -> None:
        for _ in range(20):
            with Session(self._engine, expire_on_commit=False) as session:
                try:
                    audit.begin_write(session)
                    activation.apply(session, t)
                    session.commit()
                    return
                except IntegrityError:
                    session.rollback()
        raise RuntimeError(f"could not project journey activation {t.activation_id}")
