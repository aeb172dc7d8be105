"""Starting and signalling partner workflows from activities, with the worker's client.

A campaign starts its partner workflows as top-level workflows rather than children: a child
start costs the parent a command, two history events and a workflow task round trip each, and
one parent can only start them as fast as its own history grows (67 starts/s on the dev server
against 323/s for client starts). From an activity the starts run concurrently in a rolling
window, exactly as a bare client loop does.

Pages launched by today's campaign workflow (`project_open`) also project every partner's first
transition, invited -> drafting with its task and audit event, in one transaction per page before
the starts (activities.campaigns.open_partner_campaigns), and the workflows start with that entry
instead of running a projection activity each; the campaign sends their invitations in one
activity per page. That took two activities and four workflow tasks per partner off the path
every partner waits on.

A start is never repeated: only partner campaigns still `invited` (the state a workflow's first
transition leaves), or opened by the fan-out and not moved on since, get a workflow, and a
running workflow with the same id (fixed per campaign and partner) is reported, not restarted,
so an activity retry or a second launch changes nothing. A closed workflow with the same id
belongs to an earlier database (a reset demo, the test suite's wipes) and does not block a start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from sqlalchemy import Engine
from temporalio import activity
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.campaigns import (
    OpenedPartner,
    extend_personalise_tasks,
    open_partner_campaigns,
    partner_refs,
)
from domain.search_attributes import email_channel
from domain.workflow_ids import partner_campaign_workflow_id
from models.workflow_io import (
    PartnerCampaignInput,
    SignalPartners,
    StartedPartners,
    StartPartners,
)
from workflows.partner_campaign import PartnerCampaignWorkflow, pinned_policy

WINDOW = 100  # starts or signals in flight at once
T = TypeVar("T")


async def in_window(items: Iterable[T], act: Callable[[T], Awaitable[None]]) -> None:
    """Run `act` over `items` with at most WINDOW calls in flight (a rolling window, not
    batches: one slow call does not hold the next hundred back)."""
    gate = asyncio.Semaphore(WINDOW)
    done = 0

    async def one(item: T) -> None:
        nonlocal done
        async with gate:
            await act(item)
            done += 1
            # Every call (the SDK throttles what it sends): at 10,000 partners 20 pages start at
            # once (10 shards, two pages each), a hundred starts could outlast the 60 s
            # heartbeat timeout, and pages were seen cancelled and started again.
            activity.heartbeat(done)

    await asyncio.gather(*(one(item) for item in items))


class FanoutActivities:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn(name="start_partner_workflows")
    async def start_partner_workflows(self, page: StartPartners) -> StartedPartners:
        client = activity.client()
        cid = page.shared.campaign_id
        out = StartedPartners()
        todo: list[OpenedPartner] = []
        if page.project_open:
            opened = await asyncio.to_thread(
                open_partner_campaigns,
                self._engine,
                page.shared,
                page.partner_campaign_ids,
                lambda ref: partner_campaign_workflow_id(cid, ref.partner_id),
                pinned_policy(page.shared).version_id,
            )
            activity.heartbeat(0)  # the page's transaction may have waited for the write lock
            for item in opened:
                if item.entry is not None:
                    todo.append(item)
                else:  # its workflow has run already
                    wid = partner_campaign_workflow_id(cid, item.ref.partner_id)
                    out.existing[item.ref.partner_campaign_id] = wid
        else:  # a page of a campaign started before the fan-out projected
            rows = await asyncio.to_thread(partner_refs, self._engine, page.partner_campaign_ids)
            for ref, state in rows:
                if state == "invited":
                    todo.append(OpenedPartner(ref, None))
                else:  # its workflow has run already
                    wid = partner_campaign_workflow_id(cid, ref.partner_id)
                    out.existing[ref.partner_campaign_id] = wid

        async def start(item: OpenedPartner) -> None:
            ref = item.ref
            wid = partner_campaign_workflow_id(cid, ref.partner_id)
            try:
                await client.start_workflow(
                    PartnerCampaignWorkflow.run,
                    PartnerCampaignInput(
                        shared=page.shared,
                        partner=ref,
                        report_to=page.report_to,
                        opened=item.entry,
                        invited_by_campaign=item.entry is not None,
                    ),
                    id=wid,
                    task_queue=page.task_queue,
                    id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                    search_attributes=email_channel(),
                    static_summary=f"{page.shared.name}: {ref.profile.get('name') or wid}",
                )
            except WorkflowAlreadyStartedError:
                out.existing[ref.partner_campaign_id] = wid
                return
            out.started[ref.partner_campaign_id] = wid

        await in_window(todo, start)
        return out

    @activity.defn(name="signal_partner_workflows")
    async def signal_partner_workflows(self, batch: SignalPartners) -> int:
        """Signal each workflow; one that has closed meanwhile is skipped. Returns how many
        were signalled."""
        client = activity.client()
        args = [] if batch.personalise_until is None else [batch.personalise_until]
        signalled = 0

        async def signal(wid: str) -> None:
            nonlocal signalled
            try:
                await client.get_workflow_handle(wid).signal(batch.signal, *args)
            except RPCError as err:
                if err.status != RPCStatusCode.NOT_FOUND:  # closed: nothing to tell
                    raise
                return
            signalled += 1

        told: list[str] = []

        async def signal_one(wid: str) -> None:
            before = signalled
            await signal(wid)
            if signalled != before:
                told.append(wid)

        await in_window(batch.workflow_ids, signal_one)
        if batch.signal == "extend" and batch.personalise_until is not None and told:
            await asyncio.to_thread(
                extend_personalise_tasks, self._engine, told, batch.personalise_until
            )
        return signalled
