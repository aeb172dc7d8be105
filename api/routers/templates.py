"""Templates and their versions: authoring, lint, preview, validation, review lifecycle."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from sqlmodel import Session
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from api.deps import RequestIdDep, SessionDep, SettingsDep, TemporalDep
from api.routers.params import PagingDep, page_of
from api.security import TemplateAuthor, TemplateReader, TemplateReviewer
from content.lint import lint
from content.validate import validate_values
from core.policy import Permission, Principal, actor_of
from core.settings import Settings
from core.temporal import LazyTemporalClient
from domain.states import TemplateState
from models.base import utcnow
from models.schemas import Page
from models.template_schemas import (
    LintIssueRead,
    TemplateCreate,
    TemplateRead,
    TemplateReviewDecision,
    TimelineRead,
    ValidateResult,
    ValuesBody,
    VersionCreate,
    VersionRead,
    VersionUpdate,
)
from models.templates import Template, TemplateVersion
from models.workflow_io import TemplateStatus
from services import actor_names, previews, template_review
from services import templates as svc
from services.access import load
from services.org import Actor
from workflows.template import TemplateWorkflow
from workflows.template_lifecycle import mermaid

router = APIRouter(prefix="/api/v1", tags=["templates"])
Format = Annotated[
    Literal["html", "text", "pdf", "sms"],
    Query(description="html | text (email) | pdf (print) | sms (JSON: text and segments)"),
]


def version_read(version: TemplateVersion) -> VersionRead:
    content = svc.content_of(version)
    assert version.id is not None
    return VersionRead(
        id=version.id,
        template_id=version.template_id,
        number=version.number,
        state=version.state,
        slots=content.slots,
        content=content,
        lint=[LintIssueRead(**vars(i)) for i in lint(content)],
        author_id=version.author_id,
        submitted_by=version.submitted_by,
        decided_by=version.decided_by,
        decision_comment=version.decision_comment,
        published_at=version.published_at,
        workflow_id=version.workflow_id,
        created_at=version.created_at,
        updated_at=version.updated_at,
    )


async def _update(
    client: LazyTemporalClient,
    settings: Settings,
    version: TemplateVersion,
    update: Any,
    arg: Any,
) -> TemplateStatus:
    return await template_review.update(
        await client.get(), settings.temporal_task_queue, version, update, arg
    )


async def _start(client: LazyTemporalClient, settings: Settings, version: TemplateVersion) -> None:
    await (await client.get()).start_workflow(
        TemplateWorkflow.run,
        template_review.workflow_input(version),
        id=version.workflow_id,
        task_queue=settings.temporal_task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


def _refresh(session: Session, version: TemplateVersion) -> TemplateVersion:
    session.refresh(version)
    return version


async def _act(
    session: Session,
    settings: Settings,
    client: LazyTemporalClient,
    principal: Principal,
    version_id: int,
    permission: Permission,
    update: Any,
    arg: Any,
) -> VersionRead:
    """Load within the caller's scope, send one Update, answer with the projected row."""
    version = svc.load_version(session, principal, version_id, permission)
    await _update(client, settings, version, update, arg)
    return version_read(_refresh(session, version))


@router.get("/templates", response_model=Page[TemplateRead], summary="List templates")
def list_templates(
    principal: TemplateReader,
    session: SessionDep,
    paging: PagingDep,
    q: Annotated[str | None, Query(max_length=200, description="part of the name")] = None,
    sort: str = svc.TEMPLATES.sort_query(),
) -> Page[TemplateRead]:
    result = svc.list_templates(session, principal, paging, q, sort)
    return page_of(result, paging, (TemplateRead.model_validate(t) for t in result.items))


@router.post("/templates", status_code=201, summary="Create a template")
async def create_template(
    principal: TemplateAuthor,
    session: SessionDep,
    rid: RequestIdDep,
    settings: SettingsDep,
    client: TemporalDep,
    body: TemplateCreate,
) -> dict[str, Any]:
    template, version = svc.create_template(session, Actor(principal, rid), body)
    session.commit()
    await _start(client, settings, version)
    return {
        "template": TemplateRead.model_validate(template).model_dump(mode="json"),
        "version": version_read(version).model_dump(mode="json"),
    }


@router.get("/templates/{template_id}", summary="Read a template with its versions")
def read_template(
    principal: TemplateReader, session: SessionDep, template_id: int
) -> dict[str, Any]:
    template = load(
        session,
        principal,
        Template,
        template_id,
        read=Permission.template_read,
        label="template",
    )
    return {
        **TemplateRead.model_validate(template).model_dump(mode="json"),
        "versions": [
            {"id": v.id, "number": v.number, "state": v.state}
            for v in svc.versions_of(session, template_id)
        ],
    }


@router.post(
    "/templates/{template_id}/versions",
    response_model=VersionRead,
    status_code=201,
    summary="Create a template version",
)
async def create_template_version(
    principal: TemplateAuthor,
    session: SessionDep,
    rid: RequestIdDep,
    settings: SettingsDep,
    client: TemporalDep,
    template_id: int,
    body: VersionCreate,
) -> VersionRead:
    version = svc.new_version(session, Actor(principal, rid), template_id, body)
    session.commit()
    await _start(client, settings, version)
    return version_read(version)


@router.get("/versions/{version_id}", response_model=VersionRead, summary="Read a template version")
def read_template_version(
    principal: TemplateReader, session: SessionDep, version_id: int
) -> VersionRead:
    return version_read(svc.load_version(session, principal, version_id))


@router.patch(
    "/versions/{version_id}", response_model=VersionRead, summary="Edit a draft template version"
)
async def update_template_version(
    principal: TemplateAuthor,
    session: SessionDep,
    rid: RequestIdDep,
    settings: SettingsDep,
    client: TemporalDep,
    version_id: int,
    body: VersionUpdate,
) -> VersionRead:
    version = svc.load_version(session, principal, version_id, Permission.template_author)
    if version.state == TemplateState.changes_requested:
        await _update(client, settings, version, TemplateWorkflow.revise, actor_of(principal))
        _refresh(session, version)
    svc.update_content(session, Actor(principal, rid), version, body.content)
    return version_read(version)


@router.get(
    "/versions/{version_id}/lint",
    response_model=list[LintIssueRead],
    summary="Lint a template version",
)
def lint_template_version(
    principal: TemplateReader, session: SessionDep, version_id: int
) -> list[LintIssueRead]:
    content = svc.content_of(svc.load_version(session, principal, version_id))
    return [LintIssueRead(**vars(i)) for i in lint(content)]


@router.post(
    "/versions/{version_id}/validate",
    response_model=ValidateResult,
    summary="Validate slot values against a template version",
)
def validate_template_values(
    principal: TemplateReader, session: SessionDep, version_id: int, body: ValuesBody
) -> ValidateResult:
    version = svc.load_version(session, principal, version_id)
    ctx = previews.context(session, principal, version, body)
    errors = validate_values(svc.content_of(version), body.values, ctx)
    return ValidateResult(valid=not errors, errors=errors)


def render_preview(
    session: Session,
    settings: Settings,
    principal: Principal,
    version: TemplateVersion,
    body: ValuesBody,
    fmt: str,
    fallback_locale: str | None = None,
) -> Response:
    out = previews.render_preview(session, settings, principal, version, body, fmt, fallback_locale)
    return Response(out.body, media_type=out.media_type)


PREVIEW_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the email as HTML or text, the print proof as PDF, or the SMS as "
        "JSON (text, encoding, characters, segments, remaining, locale) (`format`)",
        "content": {
            "text/html": {},
            "text/plain": {},
            "application/pdf": {},
            "application/json": {},
        },
    }
}


@router.get(
    "/versions/{version_id}/preview",
    responses=PREVIEW_RESPONSES,
    summary="Preview a template version with sample values",
)
def preview_template_sample(
    principal: TemplateReader,
    session: SessionDep,
    settings: SettingsDep,
    version_id: int,
    format: Format = "html",
    locale: str = "en",
    partner_id: int | None = None,
) -> Response:
    """Preview with the slots' defaults (sample values)."""
    version = svc.load_version(session, principal, version_id)
    values = svc.sample_values(svc.content_of(version), locale, utcnow().date())
    body = ValuesBody(values=values, locale=locale, partner_id=partner_id)
    return render_preview(session, settings, principal, version, body, format)


@router.post(
    "/versions/{version_id}/preview",
    responses=PREVIEW_RESPONSES,
    summary="Preview a template version with given values",
)
def preview_template_values(
    principal: TemplateReader,
    session: SessionDep,
    settings: SettingsDep,
    version_id: int,
    body: ValuesBody,
    format: Format = "html",
) -> Response:
    version = svc.load_version(session, principal, version_id)
    return render_preview(session, settings, principal, version, body, format)


@router.post(
    "/versions/{version_id}/submit",
    response_model=VersionRead,
    summary="Submit a template version for brand review",
)
async def submit_template_version(
    principal: TemplateAuthor,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
    version_id: int,
) -> VersionRead:
    version = await template_review.submit(
        session, client.get, settings.temporal_task_queue, principal, version_id
    )
    return version_read(version)


@router.post(
    "/versions/{version_id}/decision",
    response_model=VersionRead,
    summary="Decide a template version's review",
)
async def decide_template_version(
    principal: TemplateReviewer,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
    version_id: int,
    body: TemplateReviewDecision,
) -> VersionRead:
    version = await template_review.decide(
        session,
        client.get,
        settings.temporal_task_queue,
        principal,
        version_id,
        body.decision,
        body.comment,
    )
    return version_read(version)


@router.post(
    "/versions/{version_id}/retire",
    response_model=VersionRead,
    summary="Retire a published template version",
)
async def retire_template_version(
    principal: TemplateAuthor,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
    version_id: int,
) -> VersionRead:
    return await _act(
        session,
        settings,
        client,
        principal,
        version_id,
        Permission.template_author,
        TemplateWorkflow.retire,
        actor_of(principal),
    )


@router.get(
    "/versions/{version_id}/timeline",
    response_model=TimelineRead,
    summary="Read a template version's timeline",
)
async def template_version_timeline(
    principal: TemplateReader, session: SessionDep, client: TemporalDep, version_id: int
) -> TimelineRead:
    version = svc.load_version(session, principal, version_id)
    handle = (await client.get()).get_workflow_handle(version.workflow_id)
    try:
        status = await handle.query(TemplateWorkflow.status)
    except RPCError:  # no workflow yet (seeded data): the projection is all there is
        status = TemplateStatus(version_id=version_id, state=version.state, timeline=[])
    return TimelineRead(
        state=status.state,
        timeline=actor_names.named_timeline(session, status.timeline, version.brand_id),
        diagram=mermaid(),
    )
