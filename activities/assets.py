"""The asset re-check before sending: an asset approved with the content may have expired, been
archived or lost its region since; then the send must stop and say why."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from content.spec import FieldError, SlotKind
from content.validate import validate_values
from models.org import Partner
from models.templates import TemplateVersion
from models.workflow_io import AssetCheck
from services.templates import content_of, validation_context


def check_assets_before_send(engine: Engine, check: AssetCheck) -> list[FieldError]:
    """The asset slots' errors for `check.on`; other slots were validated at submission."""
    with Session(engine) as session:
        version = session.get(TemplateVersion, check.version_id)
        partner = session.get(Partner, check.partner_id)
        if version is None or partner is None:
            raise ValueError(f"version {check.version_id} or partner {check.partner_id} missing")
        content = content_of(version)
        ctx = validation_context(
            session,
            version.brand_id,
            partner,
            check.locale,
            None,
            None,
            content=content,
            values=check.values,
            today=check.on,
        )
        asset_slots = {s.name for s in content.slots if s.kind == SlotKind.asset}
        # Missing alt text was refused when the values were submitted; an approved send does
        # not stop for it (the image then carries the asset's title as alt text).
        return [
            e
            for e in validate_values(content, check.values, ctx)
            if e.field in asset_slots and e.code != "asset_no_alt_text"
        ]


class AssetActivities:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn(name="check_assets_before_send")
    def check_assets_before_send(self, check: AssetCheck) -> None:
        """Raises a non-retryable `asset_blocked` failure whose message HQ and the partner read:
        retrying cannot fix an expired licence, a person must choose another image."""
        errors = check_assets_before_send(self._engine, check)
        if errors:
            raise ApplicationError(
                "Sending is blocked: " + " ".join(e.message for e in errors),
                [e.model_dump() for e in errors],
                type="asset_blocked",
                non_retryable=True,
            )
