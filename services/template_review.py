"""Template version actions that reach the TemplateWorkflow: submit for review and the brand
reviewer's decision. Shared by the API and the portal, so both refuse the same way."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlmodel import Session
from temporalio.client import Client

from content.lint import lint
from core.db import release_connection
from core.errors import Conflict, Problem
from core.policy import Permission, Principal, actor_of
from domain.states import TemplateState
from models.templates import TemplateVersion
from models.workflow_io import TemplateDecision, TemplateStatus, TemplateWorkflowInput
from services import templates as svc
from services.workflow_updates import update_with_start
from workflows.template import FINAL, TemplateWorkflow


def workflow_input(version: TemplateVersion, name: str = "") -> TemplateWorkflowInput:
    assert version.id is not None
    return TemplateWorkflowInput(
        template_id=version.template_id,
        version_id=version.id,
        number=version.number,
        brand_id=version.brand_id,
        author_id=version.author_id,
        name=name,
        initial_state=version.state,
        submitted_by=version.submitted_by,
    )


async def update(
    client: Client, task_queue: str, version: TemplateVersion, update: Any, arg: Any
) -> TemplateStatus:
    if version.state in FINAL:
        # A closed workflow would be started again only to refuse: answer from the row.
        raise Conflict(f"Cannot change a version that is {version.state}")
    return await update_with_start(
        client,
        update,
        arg,
        workflow=TemplateWorkflow.run,
        workflow_arg=workflow_input(version),
        workflow_id=version.workflow_id,
        task_queue=task_queue,
        result_type=TemplateStatus,
        label=f"template version {version.id}",
    )


async def submit(
    session: Session,
    connect: Callable[[], Awaitable[Client]],
    task_queue: str,
    principal: Principal,
    version_id: int,
) -> TemplateVersion:
    """Refused while lint has findings; a version with changes requested is revised first.
    Temporal is connected only once access is checked."""
    version = svc.load_version(session, principal, version_id, Permission.template_author)
    issues = lint(svc.content_of(version))
    if issues:
        raise Problem(
            f"fix {len(issues)} lint finding(s) before submitting: {issues[0].message}",
            status=422,
            title="Template has lint findings",
            errors=[{"field": f"{i.part}:{i.line}", "message": i.message} for i in issues],
        )
    actor = actor_of(principal)
    release_connection(session)  # not held across the Updates (core.db says why)
    client = await connect()
    if version.state == TemplateState.changes_requested:
        await update(client, task_queue, version, TemplateWorkflow.revise, actor)
    await update(client, task_queue, version, TemplateWorkflow.submit, actor)
    session.refresh(version)
    return version


async def decide(
    session: Session,
    connect: Callable[[], Awaitable[Client]],
    task_queue: str,
    principal: Principal,
    version_id: int,
    decision: str,
    comment: str | None,
) -> TemplateVersion:
    """The brand reviewer's decision; the workflow refuses the author and the submitter."""
    version = svc.load_version(session, principal, version_id, Permission.template_review)
    body = TemplateDecision(actor=actor_of(principal), decision=decision, comment=comment)
    release_connection(session)
    await update(await connect(), task_queue, version, TemplateWorkflow.decide, body)
    session.refresh(version)
    return version
