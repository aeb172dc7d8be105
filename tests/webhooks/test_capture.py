"""Which audit events become which webhook events, captured in the audit event's transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from activities.campaigns import project_campaign_summary
from domain.states import TemplateState
from models.campaigns import Campaign
from models.org import User
from models.templates import TemplateVersion
from models.webhooks import WebhookEndpoint, WebhookEvent
from models.workflow_io import CampaignSummary
from services import campaign_actions
from services.accounts import principal_for
from services.org import Actor
from services.webhooks.capture import EVENT_TYPES
from services.webhooks.signing import new_secret
from tests.webhooks.events import LIFECYCLE, brand_of, transition

NORTHWIND = "admin@northwind.example"
CONTOSO = "admin@contoso.example"


def _endpoint(engine: Engine, email: str, types: list[str], enabled: bool = True) -> int:
    with Session(engine) as session:
        endpoint = WebhookEndpoint(
            brand_id=brand_of(engine, email),
            url="https://93.184.215.14/hook",
            event_types=types,
            enabled=enabled,
            secret=new_secret(),
        )
        session.add(endpoint)
        session.commit()
        assert endpoint.id is not None
        return endpoint.id


def _captured(engine: Engine, endpoint_id: int) -> list[WebhookEvent]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(WebhookEvent)
                .where(WebhookEvent.endpoint_id == endpoint_id)
                .order_by(col(WebhookEvent.id))
            ).all()
        )


def test_partner_campaign_transitions_map_to_event_types_once_per_subscribed_endpoint(
    demo: Engine,
) -> None:
    everything = _endpoint(demo, NORTHWIND, list(EVENT_TYPES))
    finished_only = _endpoint(demo, NORTHWIND, ["delivery.finished"])
    disabled = _endpoint(demo, NORTHWIND, list(EVENT_TYPES), enabled=False)
    other_brand = _endpoint(demo, CONTOSO, list(EVENT_TYPES))
    brand_id = brand_of(demo, NORTHWIND)
    steps: list[tuple[str, str, str, dict[str, Any]]] = [
        *LIFECYCLE[:3],
        ("advance", "pending_approval", "pending_approval", {"stage": "gm", "next_stage": "hq"}),
        ("escalate", "pending_approval", "pending_approval", {}),
        ("send_paused", "sending", "sending", {}),
        *LIFECYCLE[3:],
    ]
    for seq, step in enumerate(steps, start=1):
        transition(demo, brand_id, 930_001, seq, step)
        transition(demo, brand_id, 930_001, seq, step)  # a retried write: nothing new

    got = [(e.event_type, e.payload["data"].get("to_state")) for e in _captured(demo, everything)]
    assert got == [
        ("partner_campaign.state_changed", "drafting"),  # open (the save changes nothing)
        ("partner_campaign.state_changed", "pending_approval"),  # submit
        ("approval_task.created", None),
        ("partner_campaign.state_changed", "pending_approval"),  # advance: the next stage
        ("approval_task.created", None),
        ("approval_task.overdue", None),  # escalate
        ("delivery.paused", None),
        ("partner_campaign.state_changed", "approved"),
        ("partner_campaign.state_changed", "scheduled"),
        ("partner_campaign.state_changed", "sending"),
        ("partner_campaign.state_changed", "sent"),
        ("delivery.finished", None),
    ]
    events = _captured(demo, everything)
    assert events[3].payload["data"]["next_stage"] == "hq"
    assert events[4].payload["data"]["stage"] == "hq"
    assert {e.subject for e in events} == {"partner_campaign:930001"}
    assert all(e.payload["version"] == 1 and e.payload["brand_id"] == brand_id for e in events)
    assert len({e.message_id for e in events}) == len(events)
    assert [e.event_type for e in _captured(demo, finished_only)] == ["delivery.finished"]
    assert _captured(demo, disabled) == [] and _captured(demo, other_brand) == []


class _NoTemporal:
    async def start_workflow(self, *args: Any, **kwargs: Any) -> None:
        return None


async def test_campaign_launch_and_completion_are_captured(demo: Engine) -> None:
    endpoint = _endpoint(demo, NORTHWIND, ["campaign.launched", "campaign.completed"])
    with Session(demo, expire_on_commit=False) as session:
        marketer = session.exec(
            select(User).where(User.email == "marketing@northwind.example")
        ).one()
        version = session.exec(
            select(TemplateVersion).where(
                TemplateVersion.brand_id == marketer.brand_id,
                TemplateVersion.state == TemplateState.published,
            )
        ).first()
        assert version is not None and version.id is not None
        soon = datetime.now(UTC) + timedelta(days=3)
        campaign = Campaign(
            brand_id=marketer.brand_id,
            name="Spring",
            template_version_id=version.id,
            target={"all": True},
            personalise_until=soon,
            send_by=soon + timedelta(days=5),
            created_by=marketer.id or 0,
        )
        session.add(campaign)
        session.commit()
        actor = Actor(principal_for(session, marketer), "req-webhooks")
        await campaign_actions.launch(
            session,
            _NoTemporal(),
            "q",
            actor,
            campaign,
            delivery_task_queue="d",  # type: ignore[arg-type]
        )
        assert campaign.id is not None
        campaign_id = campaign.id
    summary = CampaignSummary(campaign_id=campaign_id, counts={"sent": 3})
    project_campaign_summary(demo, summary)
    project_campaign_summary(demo, summary)  # an activity retry: nothing new
    events = _captured(demo, endpoint)
    assert [e.event_type for e in events] == ["campaign.launched", "campaign.completed"]
    assert events[0].payload["data"]["name"] == "Spring"
    assert events[1].payload["data"]["counts"] == {"sent": 3}
    assert {e.subject for e in events} == {f"campaign:{campaign_id}"}
