"""A journey's design as data (HQ writes it; a version stores it as JSON; workflows read it).

The shape is checked here (kinds, ids, references between steps, no loops, every step
reachable); what needs the database (published template versions of the brand, attribute
names) is checked by services.journeys.definition."""

from __future__ import annotations

from datetime import time
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.journeys import BranchOn, StepKind, TriggerKind

StepId = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")]
AttributeName = Annotated[str, Field(min_length=1, max_length=60, pattern=r"^[a-z][a-z0-9_]*$")]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JourneyTrigger(_Shape):
    kind: TriggerKind
    attribute: AttributeName | None = Field(
        None, description="date_attribute: the contact attribute holding a date (YYYY-MM-DD)"
    )
    local_time: time = Field(
        time(9, 0), description="date_attribute: when the day's messages go, partner's time"
    )
    days: int | None = Field(None, ge=1, le=3650, description="inactivity: days without any event")

    @model_validator(mode="after")
    def _fields_of_kind(self) -> JourneyTrigger:
        if self.kind is TriggerKind.date_attribute and self.attribute is None:
            raise ValueError("attribute: a date trigger names the date attribute, e.g. birthday")
        if self.kind is TriggerKind.inactivity and self.days is None:
            raise ValueError("days: an inactivity trigger says after how many days")
        return self


class SendStep(_Shape):
    id: StepId
    kind: Literal[StepKind.send] = StepKind.send
    template_version_id: int = Field(ge=1, description="a published template version")
    next: StepId | None = Field(None, description="None: the journey ends after this step")


class WaitStep(_Shape):
    id: StepId
    kind: Literal[StepKind.wait] = StepKind.wait
    days: int | None = Field(None, ge=0, le=3650)
    until_local_time: time | None = Field(
        None, description="then (or only) wait until this time of day, partner's time zone"
    )
    next: StepId | None = None

    @model_validator(mode="after")
    def _something_to_wait_for(self) -> WaitStep:
        if self.days is None and self.until_local_time is None:
            raise ValueError("days or until_local_time: a wait says how long")
        return self


class BranchStep(_Shape):
    id: StepId
    kind: Literal[StepKind.branch] = StepKind.branch
    on: BranchOn
    attribute: AttributeName | None = Field(None, description="on=attribute: which one")
    equals: str | None = Field(None, max_length=200, description="on=attribute: the value")
    then: StepId = Field(description="the step when the condition holds")
    otherwise: StepId = Field(description="the step when it does not")

    @model_validator(mode="after")
    def _attribute_named(self) -> BranchStep:
        if self.on is BranchOn.attribute and (self.attribute is None or self.equals is None):
            raise ValueError("attribute and equals: an attribute branch names both")
        return self


class EndStep(_Shape):
    id: StepId
    kind: Literal[StepKind.end] = StepKind.end


Step = Annotated[SendStep | WaitStep | BranchStep | EndStep, Field(discriminator="kind")]


class ExitRule(_Shape):
    """Unsubscribed and erased contacts always leave; `converted_attribute` adds "left once
    this attribute is set" (e.g. member_since for a trial journey)."""

    converted_attribute: AttributeName | None = None


class JourneySpec(_Shape):
    trigger: JourneyTrigger
    entry: StepId
    steps: list[Step] = Field(min_length=1, max_length=50)
    exit: ExitRule = Field(default_factory=ExitRule)

    def step(self, step_id: str) -> SendStep | WaitStep | BranchStep | EndStep:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    @staticmethod
    def following(s: SendStep | WaitStep | BranchStep | EndStep) -> list[str]:
        if isinstance(s, BranchStep):
            return [s.then, s.otherwise]
        if isinstance(s, SendStep | WaitStep):
            return [s.next] if s.next else []
        return []

    @model_validator(mode="after")
    def _a_graph_without_loops(self) -> JourneySpec:
        ids = [s.id for s in self.steps]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"steps: step ids must be unique ({', '.join(dupes)})")
        known = set(ids)
        if self.entry not in known:
            raise ValueError(f"entry: no step '{self.entry}'")
        for s in self.steps:
            for nxt in self.following(s):
                if nxt not in known:
                    raise ValueError(f"steps: step '{s.id}' goes to '{nxt}', which does not exist")
        # Depth-first from the entry: a step seen again on the current path is a loop.
        reached: set[str] = set()

        def visit(step_id: str, path: tuple[str, ...]) -> None:
            if step_id in path:
                loop = " -> ".join((*path[path.index(step_id) :], step_id))
                raise ValueError(f"steps: the journey loops ({loop})")
            reached.add(step_id)
            for nxt in self.following(self.step(step_id)):
                visit(nxt, (*path, step_id))

        visit(self.entry, ())
        unreached = [i for i in ids if i not in reached]
        if unreached:
            raise ValueError(f"steps: never reached from the entry: {', '.join(unreached)}")
        return self
