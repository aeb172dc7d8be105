"""The checks of a journey's design that need the database, and of a partner's content.

models.journey_spec checks the shape; here: every send step names a published template version
of the journey's brand with an email variant, and a partner's content per send step passes the
template's own slot rules (content.validate). Refusals name the nested field, as the API
answers them: `spec.steps[2].template_version_id: version 9 is not published`."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session

from content.validate import validate_values
from core.errors import Problem
from domain.journeys import StepKind
from domain.states import TemplateState
from models.base import utcnow
from models.journey_spec import JourneySpec, SendStep
from models.org import Partner
from models.templates import TemplateVersion
from services.templates import content_of, validation_context

Errors = list[dict[str, str]]
STEP_TAGS = frozenset(k.value for k in StepKind)
OWN_FIELD = re.compile(r"^[a-z_]+$")


def refuse(errors: Errors, title: str = "Invalid journey") -> Problem:
    return Problem(
        "; ".join(f"{e['field']}: {e['message']}" for e in errors),
        status=422,
        title=title,
        errors=errors,
    )


def _field(prefix: str, loc: tuple[int | str, ...]) -> str:
    """("steps", 2, "send", "template_version_id") -> spec.steps[2].template_version_id (the
    discriminator's tag, "send", is pydantic's, not the caller's)."""
    out = prefix
    after_index = False
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            after_index = True
            continue
        if not (after_index and part in STEP_TAGS):
            out += f".{part}"
        after_index = False
    return out


def _shape_errors(err: ValidationError, prefix: str) -> Errors:
    """A model-wide check names its field in its own words ("entry: no step 'x'"): that
    name goes into the field."""
    errors = []
    for e in err.errors():
        message = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        field = _field(prefix, tuple(e.get("loc", ())))
        head, sep, rest = message.partition(": ")
        if sep and OWN_FIELD.match(head):
            field, message = f"{field}.{head}", rest
        errors.append({"field": field, "message": message})
    return errors


def parse(raw: Any, prefix: str = "spec") -> JourneySpec:
    """The spec, or a 422 naming each field."""
    if not isinstance(raw, dict):
        raise refuse([{"field": prefix, "message": "must be an object"}])
    try:
        return JourneySpec.model_validate(raw)
    except ValidationError as err:
        raise refuse(_shape_errors(err, prefix)) from None


def send_steps(spec: JourneySpec) -> list[tuple[int, SendStep]]:
    return [(n, s) for n, s in enumerate(spec.steps) if isinstance(s, SendStep)]


def template_errors(
    session: Session, brand_id: int, spec: JourneySpec, prefix: str = "spec"
) -> Errors:
    """Every send step's template version: of this brand, published, with an email variant.
    Another brand's version reads as missing (its existence is not the caller's business)."""
    errors = []
    for n, step in send_steps(spec):
        field = f"{prefix}.steps[{n}].template_version_id"
        version = session.get(TemplateVersion, step.template_version_id)
        vid = step.template_version_id
        if version is None or version.brand_id != brand_id:
            errors.append({"field": field, "message": f"version {vid} does not exist"})
        elif version.state != TemplateState.published:
            errors.append({"field": field, "message": f"version {vid} is not published"})
        elif content_of(version).email is None:
            errors.append({"field": field, "message": f"version {vid} has no email variant"})
    return errors


def checked(session: Session, brand_id: int, raw: Any) -> JourneySpec:
    """Shape and database checks together: the spec a new version may store."""
    spec = parse(raw)
    errors = template_errors(session, brand_id, spec)
    if errors:
        raise refuse(errors)
    return spec


def value_errors(
    session: Session, spec: JourneySpec, partner: Partner, values: dict[str, Any]
) -> Errors:
    """The partner's content per send step ({step_id: {slot: value}}) against each step's
    template version, with the same slot rules a partner campaign's content meets (no
    campaign window: a journey runs until switched off). Steps not given take HQ's defaults."""
    errors: Errors = []
    steps = {s.id: s for _, s in send_steps(spec)}
    for step_id in sorted(values):
        if step_id not in steps:
            message = "is not a send step of this journey"
            errors.append({"field": f"values.{step_id}", "message": message})
        elif not isinstance(values[step_id], dict):
            errors.append({"field": f"values.{step_id}", "message": "must be an object"})
    if errors:
        return errors
    today = utcnow().date()
    for step_id, step in steps.items():
        version = session.get(TemplateVersion, step.template_version_id)
        if version is None:
            message = f"version {step.template_version_id} does not exist"
            errors.append({"field": f"values.{step_id}", "message": message})
            continue
        content = content_of(version)
        given = dict(values.get(step_id) or {})
        locale = partner.locale if partner.locale in content.locales else "en"
        ctx = validation_context(
            session,
            version.brand_id,
            partner,
            locale,
            None,
            None,
            content=content,
            values=given,
            today=today,
        )
        for e in validate_values(content, given, ctx):
            errors.append({"field": f"values.{step_id}.{e.field}", "message": e.message})
    return errors
