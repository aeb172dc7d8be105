"""CampaignWorkflow: HQ's launch fanned out to one PartnerCampaignWorkflow per target partner.

Children start in bounded concurrent batches; a campaign with more partners than `max_children`
(1,000) starts shards (the same workflow over a slice of partner campaigns), so no parent holds
more than that many children. Starts are idempotent by workflow id, so a partner that already
has its workflow is skipped. Cancel and window extensions are passed down; the campaign
completes with the count of partner campaigns per final state.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from workflows import search_attributes

with workflow.unsafe.imports_passed_through():
    from models.workflow_io import (
        CampaignSummary,
        CampaignWorkflowInput,
        PartnerCampaignInput,
        PartnerRef,
    )
    from workflows.partner_campaign import PartnerCampaignWorkflow, partner_campaign_workflow_id

START_BATCH = 100  # child starts in flight at once
PAGE = 200  # partner refs per activity call
DB_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
)


def campaign_workflow_id(campaign_id: int) -> str:
    return f"campaign-{campaign_id}"


@workflow.defn
class CampaignWorkflow:
    @workflow.init
    def __init__(self, inp: CampaignWorkflowInput) -> None:
        self.inp = inp
        self.children: dict[int, workflow.ChildWorkflowHandle[PartnerCampaignWorkflow, str]] = {}
        self.child_ids: dict[int, str] = {}
        self.results: dict[int, str] = {}
        self.cancelled = False
        self.personalise_until = inp.shared.personalise_until
        self.pending_ids: list[int] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.shards: list[workflow.ChildWorkflowHandle[CampaignWorkflow, CampaignSummary]] = []

    @workflow.run
    async def run(self, inp: CampaignWorkflowInput) -> CampaignSummary:
        workflow.upsert_search_attributes(
            [search_attributes.CAMPAIGN_ID.value_set(str(inp.shared.campaign_id))]
        )
        ids = inp.partner_campaign_ids
        if ids is None:
            ids = await workflow.execute_activity(
                "campaign_partner_campaign_ids",
                inp.shared.campaign_id,
                result_type=list[int],
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=DB_RETRY,
            )
        if len(ids) > inp.max_children and inp.partner_campaign_ids is None:
            summary = await self._run_shards(ids)
        else:
            await self._start_partners(ids)
            summary = await self._collect()
        if inp.partner_campaign_ids is None:
            await workflow.execute_activity(
                "project_campaign_summary",
                summary,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=DB_RETRY,
            )
        return summary

    # Fan-out -----------------------------------------------------------------------------------

    async def _start_partners(self, ids: list[int]) -> None:
        todo = [i for i in ids if i not in self.child_ids]
        for offset in range(0, len(todo), PAGE):
            refs = await workflow.execute_activity(
                "partner_refs",
                todo[offset : offset + PAGE],
                result_type=list[PartnerRef],
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=DB_RETRY,
            )
            for start in range(0, len(refs), START_BATCH):
                batch = refs[start : start + START_BATCH]
                await asyncio.gather(*(self._start_one(ref) for ref in batch))

    async def _start_one(self, ref: PartnerRef) -> None:
        wid = partner_campaign_workflow_id(self.inp.shared.campaign_id, ref.partner_id)
        self.child_ids[ref.partner_campaign_id] = wid
        shared = self.inp.shared.model_copy(update={"personalise_until": self.personalise_until})
        try:
            handle = await workflow.start_child_workflow(
                PartnerCampaignWorkflow.run,
                PartnerCampaignInput(shared=shared, partner=ref),
                id=wid,
                static_summary=f"{shared.name}: {ref.profile.get('name') or ref.partner_id}",
            )
        except WorkflowAlreadyStartedError:
            # Started by an earlier run of this campaign: never twice. Not our child, so its
            # outcome is not ours to wait for.
            self.results[ref.partner_campaign_id] = "already_started"
            return
        self.children[ref.partner_campaign_id] = handle
        self.tasks.append(asyncio.create_task(self._await_child(ref.partner_campaign_id, handle)))
        if self.cancelled:
            await handle.signal(PartnerCampaignWorkflow.cancel)

    async def _await_child(
        self, pid: int, handle: workflow.ChildWorkflowHandle[PartnerCampaignWorkflow, str]
    ) -> None:
        try:
            self.results[pid] = await handle
        except Exception:  # a failed child is counted, never hides the others
            self.results[pid] = "failed"

    async def _collect(self) -> CampaignSummary:
        """Wait for every child, starting partners added while the campaign runs."""
        while True:
            await workflow.wait_condition(
                lambda: bool(self.pending_ids) or len(self.results) >= len(self.child_ids)
            )
            if not self.pending_ids:
                break
            ids, self.pending_ids = self.pending_ids, []
            await self._start_partners(ids)
        counts: dict[str, int] = {}
        for state in self.results.values():
            counts[state] = counts.get(state, 0) + 1
        return CampaignSummary(
            campaign_id=self.inp.shared.campaign_id, counts=counts, cancelled=self.cancelled
        )

    async def _run_shards(self, ids: list[int]) -> CampaignSummary:
        shards = []
        size = self.inp.max_children
        for n, offset in enumerate(range(0, len(ids), size)):
            shard_input = CampaignWorkflowInput(
                shared=self.inp.shared,
                partner_campaign_ids=ids[offset : offset + size],
                max_children=size,
            )
            shards.append(
                await workflow.start_child_workflow(
                    CampaignWorkflow.run,
                    shard_input,
                    id=f"{workflow.info().workflow_id}-shard-{n}",
                )
            )
        self.shards = shards
        results = await asyncio.gather(*shards)
        counts: dict[str, int] = {}
        for result in results:
            for state, count in result.counts.items():
                counts[state] = counts.get(state, 0) + count
        return CampaignSummary(
            campaign_id=self.inp.shared.campaign_id, counts=counts, cancelled=self.cancelled
        )

    # Signals and updates -----------------------------------------------------------------------

    async def _tell_children(self, partner_signal: Any, shard_signal: Any, *args: Any) -> None:
        """Signal every child still running. A child may close between our look and the
        signal; that failure is expected and must not fail this workflow's task."""
        running = [h for pid, h in self.children.items() if pid not in self.results]
        for start in range(0, len(running), START_BATCH):
            batch = running[start : start + START_BATCH]
            # Concurrently, like the starts: one at a time took 100 s for 1,000 partners.
            await asyncio.gather(
                *(h.signal(partner_signal, *args) for h in batch), return_exceptions=True
            )
        await asyncio.gather(
            *(shard.signal(shard_signal, *args) for shard in self.shards),
            return_exceptions=True,
        )

    @workflow.signal
    async def cancel(self) -> None:
        self.cancelled = True
        await self._tell_children(PartnerCampaignWorkflow.cancel, CampaignWorkflow.cancel)

    @workflow.signal
    async def extend(self, personalise_until: datetime) -> None:
        if personalise_until <= self.personalise_until:
            return
        self.personalise_until = personalise_until
        await self._tell_children(
            PartnerCampaignWorkflow.extend, CampaignWorkflow.extend, personalise_until
        )

    @workflow.signal
    def add_partners(self, partner_campaign_ids: list[int]) -> None:
        """Partners added to a running campaign (rows created by the API first)."""
        self.pending_ids.extend(partner_campaign_ids)
