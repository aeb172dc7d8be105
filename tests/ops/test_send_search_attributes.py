"""Ops find a send with the filter that finds its partner campaign: on the dev server (the
time-skipping server has no visibility queries), a send started with the partner campaign's
start options is listed by `CampaignId = X and PartnerId = Y` and named in its summary.
The real partner campaign's child start is checked on the time-skipping server in
tests/delivery/test_delivery.py (test_approved_campaign_is_sent_at_send_at_to_its_segment)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio import workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.workflow_io import CampaignShared, PartnerRef
from workflows import send_start

pytestmark = pytest.mark.e2e


def _shared(campaign_id: int) -> CampaignShared:
    now = datetime(2026, 5, 1, tzinfo=UTC)
    return CampaignShared(
        campaign_id=campaign_id,
        brand_id=1,
        name="Open day",
        mode="opt_out",
        approval_policy="gm",
        personalise_until=now,
        send_by=now + timedelta(days=3),
        remind_after=60,
        escalate_after=60,
        content={},
    )


def _partner(partner_id: int) -> PartnerRef:
    return PartnerRef(
        partner_campaign_id=5,
        partner_id=partner_id,
        region_id=2,
        profile={"name": "Northwind Fitness Amsterdam"},
    )


@workflow.defn(name="TestSendChild")
class SendChild:
    @workflow.run
    async def run(self) -> str:
        return "sent"


@workflow.defn(name="TestStartsASend")
class StartsASend:
    @workflow.run
    async def run(self, campaign_id: int, partner_id: int, child_id: str) -> str:
        attributes, summary, details = send_start.options(
            _shared(campaign_id), _partner(partner_id)
        )
        return await workflow.execute_child_workflow(
            SendChild.run,
            id=child_id,
            search_attributes=attributes,
            static_summary=summary,
            static_details=details,
        )


def test_options_name_the_campaign_and_partner() -> None:
    attributes, summary, details = send_start.options(_shared(7), _partner(3))
    assert {p.key.name: p.value for p in attributes} == {
        "CampaignId": "7",
        "PartnerId": "3",
        "RegionId": "2",
        "Channel": "email",
    }
    assert summary == "Send of Open day for Northwind Fitness Amsterdam"
    assert "CampaignId 7" in details and "PartnerId 3" in details
    nameless = _partner(3).model_copy(update={"profile": {}})
    assert send_start.options(_shared(7), nameless)[1] == "Send of Open day for partner 3"


async def test_a_send_is_listed_by_campaign_and_partner(dev_env: WorkflowEnvironment) -> None:
    queue = f"ops-{uuid.uuid4().hex[:8]}"
    campaign_id, partner_id = 900_000 + uuid.uuid4().int % 99_999, 3
    child_id = f"send-test-{uuid.uuid4().hex[:8]}"
    async with Worker(dev_env.client, task_queue=queue, workflows=[StartsASend, SendChild]):
        result = await dev_env.client.execute_workflow(
            StartsASend.run,
            args=[campaign_id, partner_id, child_id],
            id=f"starts-{child_id}",
            task_queue=queue,
        )
    assert result == "sent"
    query = f'CampaignId = "{campaign_id}" and PartnerId = "{partner_id}"'
    for _ in range(100):  # visibility is eventually consistent
        listed = [w.id async for w in dev_env.client.list_workflows(query)]
        if listed:
            break
        await asyncio.sleep(0.1)
    assert listed == [child_id]
    other = f'CampaignId = "{campaign_id}" and PartnerId = "{partner_id + 1}"'
    assert [w.id async for w in dev_env.client.list_workflows(other)] == []
    described = await dev_env.client.get_workflow_handle(child_id).describe()
    assert await described.static_summary() == "Send of Open day for Northwind Fitness Amsterdam"
