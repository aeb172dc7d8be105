"""ChainRunner, the approval chain print orders and claims embed: run by a test workflow that
embeds it as they do, on the time-skipping server with the real projection activity and
database. One stage approved; four eyes; two stages where a condition adds the second; a
rejection; an escalation and an expiry by timeout; a delegate's decision; and who the ChainTask
says may decide (services.approvals.chain_tasks.decider) matching what the workflow accepts."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.chain_tasks import ChainNoticeActivities, ChainTaskActivities
from approvals.facts import ApprovalFacts
from approvals.policy import (
    Approver,
    ApproverRole,
    Condition,
    Fact,
    Operator,
    PinnedPolicy,
    PolicySpec,
    Rule,
    Stage,
    Timeout,
    TimeoutAction,
)
from approvals.views import StageView
from core.errors import Forbidden, Problem
from core.policy import Principal, actor_of
from core.settings import Settings
from domain.money import ChainSubject
from mail.transport import OutboxTransport
from models.audit import AuditEvent
from models.base import utcnow
from models.chain_io import ChainDecision, ChainNotice, ChainStatus, ChainTarget
from models.chain_tasks import ChainTask
from models.org import Partner, User
from services.accounts import principal_for
from services.approvals import chain_tasks, delegations
from services.approvals.chain_notices import compose_chain_notice
from services.org import Actor
from services.workflow_updates import problem_from
from tests.helper_workflows import ChainProbeInput, ChainProbeWorkflow

GM_AMS = "gm.amsterdam@northwind.example"
EDITOR_AMS = "editor.amsterdam@northwind.example"
GM_BERLIN = "gm.berlin@northwind.example"
NORTH = "north@northwind.example"
REVIEWER = "brand@northwind.example"
GM = Approver(role=ApproverRole.partner_gm)
REGION = Approver(role=ApproverRole.region_manager)
REVIEWERS = Approver(role=ApproverRole.brand_reviewer)
HOUR = 3600


def principal(engine: Engine, email: str) -> Principal:
    with Session(engine) as s:
        user = s.exec(select(User).where(User.email == email)).one()
        return principal_for(s, user)


def amsterdam(engine: Engine) -> ChainTarget:
    with Session(engine) as s:
        partner = s.exec(select(Partner).where(Partner.slug == "amsterdam")).one()
        assert partner.id is not None
        return ChainTarget(
            brand_id=partner.brand_id, region_id=partner.region_id, partner_id=partner.id
        )


def pinned(*stages: Stage) -> PinnedPolicy:
    return PinnedPolicy(name="print", spec=PolicySpec(stages=list(stages)))


def gm_stage(*timeouts: Timeout) -> Stage:
    return Stage(name="gm", approvers=[GM], timeouts=list(timeouts))


@dataclass
class Probe:
    env: WorkflowEnvironment
    engine: Engine
    queue: str
    target: ChainTarget
    outbox: OutboxTransport

    def mail(self) -> list[tuple[str, str]]:
        """(recipient, subject) of every email sent, in order."""
        return [
            (a.addr_spec, str(m["Subject"]))
            for m in self.outbox.list_messages()
            for a in m["To"].addresses
        ]

    async def start(
        self,
        policy: PinnedPolicy,
        facts: ApprovalFacts | None = None,
        submitted_by: str | None = EDITOR_AMS,
        **extra: Any,
    ) -> tuple[int, WorkflowHandle[Any, list[str]]]:
        subject_id = uuid.uuid4().int % 2**31
        submitter = principal(self.engine, submitted_by).user_id if submitted_by else None
        handle = await self.env.client.start_workflow(
            ChainProbeWorkflow.run,
            ChainProbeInput(
                subject_id=subject_id,
                target=self.target,
                policy=policy,
                facts=facts or ApprovalFacts(),
                submitted_by=submitter,
                **extra,
            ),
            id=f"chain-probe-{subject_id}",
            task_queue=self.queue,
        )
        await self.until(lambda: self.task(subject_id) is not None, "the task projected")
        return subject_id, handle

    def task(self, subject_id: int) -> ChainTask | None:
        with Session(self.engine) as s:
            found = s.exec(
                select(ChainTask).where(
                    ChainTask.subject == ChainSubject.print_order,
                    ChainTask.subject_id == subject_id,
                )
            ).first()
            if found is not None:
                s.expunge(found)
            return found

    def events(self, subject_id: int) -> list[AuditEvent]:
        with Session(self.engine) as s:
            return list(
                s.exec(
                    select(AuditEvent)
                    .where(
                        AuditEvent.entity_type == "print_order",
                        AuditEvent.entity_id == str(subject_id),
                    )
                    .order_by(col(AuditEvent.seq))
                ).all()
            )

    def last(self, subject_id: int) -> AuditEvent:
        return [e for e in self.events(subject_id) if e.action.startswith("print_order.")][-1]

    def actions(self, subject_id: int) -> list[str]:
        """The chain's own events (emails sent have theirs: notification.sent)."""
        return [e.action for e in self.events(subject_id) if e.action.startswith("print_order.")]

    async def decide(
        self,
        handle: WorkflowHandle[Any, list[str]],
        email: str,
        decision: str = "approve",
        comment: str | None = None,
        on_behalf_of: str | None = None,
    ) -> ChainStatus:
        action = ChainDecision(
            actor=actor_of(principal(self.engine, email)),
            decision=decision,
            comment=comment,
            on_behalf_of=actor_of(principal(self.engine, on_behalf_of)) if on_behalf_of else None,
        )
        result: ChainStatus = await handle.execute_update(
            ChainProbeWorkflow.decide, action, result_type=ChainStatus
        )
        return result

    async def refused(
        self, handle: WorkflowHandle[Any, list[str]], email: str, decision: str = "approve"
    ) -> Any:
        with pytest.raises(WorkflowUpdateFailedError) as caught:
            await self.decide(handle, email, decision)
        return problem_from(caught.value, "decision")

    @staticmethod
    async def until(check: Callable[[], bool], what: str) -> None:
        for _ in range(300):
            if check():
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
async def probe(
    demo: Engine, workflow_env: WorkflowEnvironment, settings: Settings, tmp_path: Path
) -> AsyncIterator[Probe]:
    queue = f"test-{uuid.uuid4().hex[:10]}"
    outbox = OutboxTransport(tmp_path / "outbox")
    notices = ChainNoticeActivities(demo, settings, outbox)
    with ThreadPoolExecutor(4) as pool:
        async with Worker(
            workflow_env.client,
            task_queue=queue,
            workflows=[ChainProbeWorkflow],
            activities=[
                ChainTaskActivities(demo).project_chain_task,
                notices.notify_chain_approvers,
            ],
            activity_executor=pool,
        ):
            yield Probe(workflow_env, demo, queue, amsterdam(demo), outbox)


async def test_one_stage_approved_by_the_gm(probe: Probe) -> None:
    sid, handle = await probe.start(pinned(gm_stage()))
    task = probe.task(sid)
    assert task is not None and task.open and task.stage == "gm"
    assert task.partner_id == probe.target.partner_id
    status = await probe.decide(handle, GM_AMS)
    assert status.outcome == "approved" and status.stage is None
    assert await handle.result() == ["approved"]
    task = probe.task(sid)
    assert task is not None and not task.open and task.stage is None
    assert probe.actions(sid) == ["print_order.submitted", "print_order.approved"]
    approved = probe.last(sid)
    gm = principal(probe.engine, GM_AMS)
    assert approved.actor == str(gm.user_id) and approved.after == {"open": False, "stage": "gm"}
    assert approved.entity_type == "print_order" and approved.partner_id == task.partner_id


async def test_no_applicable_stage_is_approved_at_once(probe: Probe) -> None:
    never = Condition(fact=Fact.audience_size, op=Operator.gt, value=10)
    sid, handle = await probe.start(pinned(Stage(name="gm", approvers=[GM], when=never)))
    assert await handle.result() == ["approved"]
    assert probe.actions(sid) == ["print_order.approved"]
    assert "gm did not apply" in (probe.events(sid)[0].comment or "")


async def test_four_eyes_the_submitter_cannot_approve(probe: Probe) -> None:
    sid, handle = await probe.start(pinned(gm_stage()), submitted_by=GM_AMS)
    problem = await probe.refused(handle, GM_AMS)
    assert isinstance(problem, Forbidden) and "Four eyes" in problem.detail
    # Another partner's GM cannot even see it; an approver of another role is refused.
    assert (await probe.refused(handle, GM_BERLIN)).status == 404
    problem = await probe.refused(handle, REVIEWER)
    assert isinstance(problem, Forbidden) and "the partner's GM" in problem.detail
    assert probe.actions(sid) == ["print_order.submitted"]
    await handle.terminate()


async def test_a_fund_shortfall_adds_the_hq_stage(probe: Probe) -> None:
    """Two stages; the second only when the condition holds (audience_size stands in for the
    fund shortfall fact)."""
    above = Condition(fact=Fact.audience_size, op=Operator.gt, value=0)
    policy = pinned(gm_stage(), Stage(name="hq", approvers=[REVIEWERS], when=above))
    small, small_handle = await probe.start(policy, ApprovalFacts(audience_size=0))
    await probe.decide(small_handle, GM_AMS)
    assert await small_handle.result() == ["approved"]
    assert probe.actions(small) == ["print_order.submitted", "print_order.approved"]

    big, handle = await probe.start(policy, ApprovalFacts(audience_size=500))
    status = await probe.decide(handle, GM_AMS)
    assert status.outcome is None and status.stage is not None and status.stage.name == "hq"
    task = probe.task(big)
    assert task is not None and task.open and task.stage == "hq"
    assert task.approvers == [{"role": "brand_reviewer"}]
    assert isinstance(await probe.refused(handle, GM_AMS), Forbidden)
    await probe.decide(handle, REVIEWER)
    assert await handle.result() == ["approved"]
    assert probe.actions(big) == [
        "print_order.submitted",
        "print_order.advanced",
        "print_order.approved",
    ]


async def test_rejected_with_a_reason(probe: Probe) -> None:
    sid, handle = await probe.start(pinned(gm_stage()))
    bad = await probe.refused(handle, GM_AMS, "reject")  # a reason is required
    assert bad.status == 422 and bad.errors == [
        {"field": "comment", "message": "say what must change or why it is rejected"}
    ]
    bad = await probe.refused(handle, GM_AMS, "maybe")
    assert bad.status == 422 and "decision" in bad.detail
    status = await probe.decide(handle, GM_AMS, "reject", "too expensive")
    assert status.outcome == "rejected"
    assert await handle.result() == ["rejected"]
    assert probe.actions(sid)[-1] == "print_order.rejected"
    assert probe.last(sid).comment == "too expensive"
    task = probe.task(sid)
    assert task is not None and not task.open


async def test_changes_requested_then_resubmitted(probe: Probe) -> None:
    sid, handle = await probe.start(pinned(gm_stage()), resubmit=True)
    await probe.decide(handle, GM_AMS, "request_changes", "fewer copies")
    await probe.until(
        lambda: probe.actions(sid).count("print_order.submitted") == 2, "the second submission"
    )
    await probe.decide(handle, GM_AMS)
    assert await handle.result() == ["changes_requested", "approved"]


async def test_escalated_then_decided_by_the_region_manager(probe: Probe) -> None:
    escalate = Timeout(after=HOUR, action=TimeoutAction.escalate, to=[REGION])
    expire = Timeout(after=5 * HOUR, action=TimeoutAction.expire)
    sid, handle = await probe.start(pinned(gm_stage(escalate, expire)))
    assert isinstance(await probe.refused(handle, NORTH), Forbidden)
    task = probe.task(sid)
    assert task is not None and task.due_at is not None and task.escalation_level == 0
    await probe.env.sleep(HOUR + 60)
    await probe.until(lambda: "print_order.escalated" in probe.actions(sid), "the escalation")
    task = probe.task(sid)
    assert task is not None and task.escalation_level == 1
    assert {"role": "region_manager"} in task.approvers
    status = await probe.decide(handle, NORTH)
    assert status.outcome == "approved"
    assert await handle.result() == ["approved"]


async def test_expired_by_the_stage_timeout(probe: Probe) -> None:
    remind = Timeout(after=HOUR, action=TimeoutAction.remind)
    expire = Timeout(after=2 * HOUR, action=TimeoutAction.expire)
    sid, handle = await probe.start(pinned(gm_stage(remind, expire)))
    assert await handle.result() == ["expired"]
    assert probe.actions(sid) == [
        "print_order.submitted",
        "print_order.reminded",
        "print_order.expired",
    ]
    # Amsterdam's GM reads Dutch (the partner's language).
    assert [subject.split(":")[0] for _, subject in probe.mail()] == [
        "Wacht op jouw goedkeuring",
        "Herinnering",
    ]
    assert probe.last(sid).actor == "system"
    task = probe.task(sid)
    assert task is not None and not task.open


async def test_expired_by_the_hard_deadline(probe: Probe) -> None:
    sid, handle = await probe.start(pinned(gm_stage()), expire_after=HOUR)
    assert await handle.result() == ["expired"]
    assert probe.actions(sid)[-1] == "print_order.expired"


async def test_a_delegate_decides_on_behalf_of_the_gm(probe: Probe) -> None:
    gm = principal(probe.engine, GM_AMS)
    editor = principal(probe.engine, EDITOR_AMS)
    sid, handle = await probe.start(pinned(gm_stage()), submitted_by=NORTH)
    task = probe.task(sid)
    assert task is not None
    with Session(probe.engine) as s:
        assert chain_tasks.decider(s, editor, task) is None
        now = utcnow()
        delegations.create(s, Actor(gm, "test"), editor.user_id, now, now + timedelta(days=2))
        s.commit()
        acting = chain_tasks.decider(s, editor, task)
        assert acting is not None and acting.for_user == gm.user_id
    status = await probe.decide(handle, EDITOR_AMS, on_behalf_of=GM_AMS)
    assert status.outcome == "approved"
    approved = probe.last(sid)
    assert approved.actor == str(editor.user_id)
    assert approved.after is not None and approved.after["on_behalf_of"] == gm.user_id


async def test_the_task_says_exactly_who_may_decide(probe: Probe) -> None:
    policy = pinned(gm_stage(), Stage(name="hq", approvers=[REVIEWERS]))
    sid, handle = await probe.start(policy)

    def deciders() -> dict[str, bool]:
        task = probe.task(sid)
        assert task is not None
        with Session(probe.engine) as s:
            return {
                email: chain_tasks.decider(s, principal(probe.engine, email), task) is not None
                for email in (GM_AMS, GM_BERLIN, REVIEWER, EDITOR_AMS, NORTH)
            }

    assert deciders() == {
        GM_AMS: True,
        GM_BERLIN: False,
        REVIEWER: False,
        EDITOR_AMS: False,
        NORTH: False,
    }
    with Session(probe.engine) as s:
        mine = chain_tasks.awaiting(s, principal(probe.engine, GM_AMS), ChainSubject.print_order)
        assert [t.subject_id for t in mine] == [sid]
        assert (
            chain_tasks.awaiting(s, principal(probe.engine, GM_BERLIN), ChainSubject.print_order)
            == []
        )
        assert chain_tasks.awaiting(s, principal(probe.engine, GM_AMS), ChainSubject.claim) == []
        found = chain_tasks.open_task(s, ChainSubject.print_order, sid)
        assert found is not None and found.stage == "gm"
    # The workflow agrees with the task: Berlin's GM is refused, Amsterdam's is not.
    assert (await probe.refused(handle, GM_BERLIN)).status == 404
    await probe.decide(handle, GM_AMS)
    assert deciders() == {
        GM_AMS: False,
        GM_BERLIN: False,
        REVIEWER: True,
        EDITOR_AMS: False,
        NORTH: False,
    }
    await chain_tasks.decide(probe.env.client, handle.id, decision(probe, REVIEWER))
    assert await handle.result() == ["approved"]
    with Session(probe.engine) as s:
        assert chain_tasks.open_task(s, ChainSubject.print_order, sid) is None


async def test_decide_maps_refusals_to_problems(probe: Probe) -> None:
    _, handle = await probe.start(pinned(gm_stage()))
    with pytest.raises(Problem) as hidden:
        await chain_tasks.decide(probe.env.client, handle.id, decision(probe, GM_BERLIN))
    assert hidden.value.status == 404
    with pytest.raises(Forbidden):
        await chain_tasks.decide(probe.env.client, handle.id, decision(probe, EDITOR_AMS))
    await handle.terminate()


def decision(probe: Probe, email: str, verdict: str = "approve") -> ChainDecision:
    return ChainDecision(actor=actor_of(principal(probe.engine, email)), decision=verdict)


async def test_approvers_are_emailed_once_per_stage(probe: Probe) -> None:
    """The waiting stage's approvers get one email each (the submitter none); the next stage's
    approvers theirs when it begins; an escalation emails the people it adds."""
    escalate = Timeout(after=HOUR, action=TimeoutAction.escalate, to=[REGION])
    policy = pinned(gm_stage(escalate), Stage(name="hq", approvers=[REVIEWERS]))
    sid, handle = await probe.start(policy, submitted_by=EDITOR_AMS)
    await probe.until(lambda: len(probe.mail()) == 1, "the GM's email")
    assert probe.mail() == [(GM_AMS, f"Wacht op jouw goedkeuring: print order {sid}")]
    body = probe.outbox.list_messages()[0].get_content()
    assert "/inbox" in body and '"Gm"' in body
    await probe.env.sleep(HOUR + 60)
    await probe.until(lambda: len(probe.mail()) == 2, "the escalation email")
    assert probe.mail()[1] == (NORTH, f"Escalated to you: print order {sid} waits for a decision")
    await probe.decide(handle, GM_AMS)
    await probe.until(lambda: len(probe.mail()) > 2, "the reviewers' emails")
    await probe.decide(handle, REVIEWER)
    assert await handle.result() == ["approved"]
    reviewers = {to for to, subject in probe.mail()[2:]}
    assert REVIEWER in reviewers and GM_AMS not in reviewers and EDITOR_AMS not in reviewers
    sent = [e for e in probe.events(sid) if e.action == "notification.sent"]
    assert len(sent) == len(probe.mail())


def test_the_label_is_data_in_the_email(demo: Engine, settings: Settings) -> None:
    """The label may carry partner text: kept as text, on one line in the subject (no header
    of its own), never evaluated as a template."""
    label = "Flyer {{ 7*7 }} <script>x</script>\nBcc: evil@example.com"
    target = amsterdam(demo)
    stage = StageView(
        policy="print",
        name="gm",
        label="The partner's GM",
        index=0,
        of=1,
        approvers=[GM],
        rule=Rule.any,
        required=1,
        approvals=0,
        excluded_user_ids=[],
    )
    notice = ChainNotice(
        kind="approval_pending",
        key="k",
        subject=ChainSubject.print_order,
        subject_id=1,
        label=label,
        stage=stage,
        portal_path="/print-orders/1",
        **target.model_dump(),
    )
    with Session(demo) as s:
        user = s.exec(select(User).where(User.email == GM_AMS)).one()
        message = compose_chain_notice(settings, notice, user)
    assert message["Bcc"] is None
    subject = str(message["Subject"])
    assert "{{ 7*7 }}" in subject and "Bcc: evil@example.com" in subject and "\n" not in subject
    body = message.get_content()
    assert "<script>x</script>" in body and "49" not in body
    assert f"{settings.public_base_url.rstrip('/')}/print-orders/1" in body


async def test_withdrawn_when_the_object_is_cancelled(probe: Probe) -> None:
    sid, handle = await probe.start(pinned(gm_stage()))
    editor = principal(probe.engine, EDITOR_AMS)
    await handle.signal(ChainProbeWorkflow.cancel, editor.user_id)
    assert await handle.result() == ["expired", "withdrawn"]
    assert probe.actions(sid) == ["print_order.submitted", "print_order.withdrawn"]
    assert probe.last(sid).actor == str(editor.user_id)
    task = probe.task(sid)
    assert task is not None and not task.open


async def test_awaiting_lists_soonest_due_first(probe: Probe) -> None:
    escalate = Timeout(after=HOUR, action=TimeoutAction.escalate, to=[REGION])
    later = Timeout(after=5 * HOUR, action=TimeoutAction.expire)
    undated, h1 = await probe.start(pinned(gm_stage()))
    late, h2 = await probe.start(pinned(gm_stage(later)))
    soon, h3 = await probe.start(pinned(gm_stage(escalate)))
    with Session(probe.engine) as s:
        mine = chain_tasks.awaiting(s, principal(probe.engine, GM_AMS), ChainSubject.print_order)
    assert [t.subject_id for t in mine] == [soon, late, undated]
    for handle in (h1, h2, h3):
        await handle.terminate()
