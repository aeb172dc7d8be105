"""CampaignWorkflow: HQ's launch fanned out to one PartnerCampaignWorkflow per target partner.

Partner workflows are started by an activity with the worker's client (activities/fanout.py
says why: child starts from one parent ran at a fifth of the bare start rate), in pages of
`page_size` (250) with two pages in flight, idempotent by workflow id. Each partner workflow
reports its outcome back by signal; the campaign completes with the count per outcome once
every partner it started has reported. A campaign with more partners than `max_children`
(1,000) runs shards (the same workflow, as a child, over a slice), so no workflow receives more
than that many reports. Cancel and window extensions are passed down by activity too.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from domain import search_attributes

with workflow.unsafe.imports_passed_through():
    from models.workflow_io import (
        CampaignSummary,
        CampaignWorkflowInput,
        InvitePartners,
        PartnerOutcome,
        SignalPartners,
        StartedPartners,
        StartPartners,
    )

PAGES_IN_FLIGHT = 2  # start pages running at once (since start-pages-overlap)
SIGNAL_PAGE = 1000  # partner workflows signalled per activity call
ALREADY_STARTED = "already_started"  # an earlier launch started it; its outcome is not ours
DB_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
)
FANOUT_TIMEOUT = timedelta(minutes=5)
NOTICE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=5), maximum_attempts=8
)


@workflow.defn
class CampaignWorkflow:
    @workflow.init
    def __init__(self, inp: CampaignWorkflowInput) -> None:
        self.inp = inp
        self.started: dict[int, str] = {}  # partner campaign id -> workflow id
        self.results: dict[int, str] = {}  # partner campaign id -> outcome
        self.cancelled = False
        self.personalise_until = inp.shared.personalise_until
        self.pending_ids: list[int] = []
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

    @workflow.query
    def started_count(self) -> int:
        """Partner workflows this campaign (or shard) has started so far."""
        return len(self.started)

    # Fan-out -----------------------------------------------------------------------------------

    async def _start_partners(self, ids: list[int]) -> None:
        todo = [i for i in ids if i not in self.started]
        info = workflow.info()
        # Since this patch the start activity projects each page's open transitions in one
        # transaction and this workflow sends each page's invitations in one activity, once
        # every page has started: composing 2 emails per partner cost more CPU than a start
        # and, run beside the next pages, halved the start rate (activities/fanout.py).
        opens = bool(todo) and workflow.patched("fanout-opens-and-invites")
        size = self.inp.page_size
        pages = [todo[offset : offset + size] for offset in range(0, len(todo), size)]
        # Since this patch two pages start at once: with one, the campaign's task that asks for
        # the next page queued behind the 250 first tasks of the page just started (5-6 s under
        # load), while the server had no start to do.
        if opens and len(pages) > 1 and workflow.patched("start-pages-overlap"):
            gate = asyncio.Semaphore(PAGES_IN_FLIGHT)

            async def gated(page_ids: list[int]) -> datetime:
                async with gate:
                    return await self._start_page(page_ids, info.workflow_id, opens)

            windows = await asyncio.gather(*(gated(page_ids) for page_ids in pages))
        else:
            windows = [await self._start_page(p, info.workflow_id, opens) for p in pages]
        invitations = list(zip(pages, windows, strict=True)) if opens else []
        for page_ids, window in invitations:
            if self.cancelled:
                break  # news of a cancelled campaign is moot
            await self._invite(page_ids, max(window, self.personalise_until))

    async def _start_page(self, page_ids: list[int], report_to: str, opens: bool) -> datetime:
        """Start one page of partner workflows; returns the window they were started with."""
        window = self.personalise_until
        shared = self.inp.shared.model_copy(update={"personalise_until": window})
        page: StartedPartners = await workflow.execute_activity(
            "start_partner_workflows",
            StartPartners(
                shared=shared,
                partner_campaign_ids=page_ids,
                report_to=report_to,
                task_queue=workflow.info().task_queue,
                project_open=opens,
            ),
            result_type=StartedPartners,
            start_to_close_timeout=FANOUT_TIMEOUT,
            heartbeat_timeout=timedelta(seconds=60),
            retry_policy=DB_RETRY,
        )
        self.started.update(page.started)
        self.started.update(page.existing)
        for pid in page.existing:
            self.results.setdefault(pid, ALREADY_STARTED)
        # A cancel or extension that arrived while this page was starting missed it.
        fresh = list(page.started.values())
        if self.cancelled:
            await self._signal(fresh, "cancel")
        elif self.personalise_until != window:
            await self._signal(fresh, "extend", self.personalise_until)
        return window

    async def _invite(self, ids: list[int], window: datetime) -> None:
        """One page's invitation notices; the activity skips what is sent already and whoever
        is no longer personalising. Given up after the notices' retries, as a partner workflow
        gives up a notice (the inbox task keeps the work visible)."""
        shared = self.inp.shared
        try:
            await workflow.execute_activity(
                "invite_partners",
                InvitePartners(
                    campaign_id=shared.campaign_id,
                    campaign_name=shared.name,
                    brand_id=shared.brand_id,
                    personalise_until=window,
                    partner_campaign_ids=ids,
                ),
                result_type=int,
                start_to_close_timeout=FANOUT_TIMEOUT,
                retry_policy=NOTICE_RETRY,
            )
        except ActivityError:
            workflow.logger.warning("invitations of %d partners could not be sent", len(ids))

    async def _collect(self) -> CampaignSummary:
        """Wait for every partner's report, starting partners added while the campaign runs."""
        while True:
            await workflow.wait_condition(lambda: bool(self.pending_ids) or self._all_reported())
            if not self.pending_ids:
                break
            ids, self.pending_ids = self.pending_ids, []
            await self._start_partners(ids)
        counts: dict[str, int] = {}
        for pid in self.started:
            state = self.results[pid]
            counts[state] = counts.get(state, 0) + 1
        return CampaignSummary(
            campaign_id=self.inp.shared.campaign_id, counts=counts, cancelled=self.cancelled
        )

    def _all_reported(self) -> bool:
        return all(pid in self.results for pid in self.started)

    async def _run_shards(self, ids: list[int]) -> CampaignSummary:
        shards = []
        size = self.inp.max_children
        for n, offset in enumerate(range(0, len(ids), size)):
            shard_input = CampaignWorkflowInput(
                shared=self.inp.shared,
                partner_campaign_ids=ids[offset : offset + size],
                max_children=size,
                page_size=self.inp.page_size,
            )
            shards.append(
                await workflow.start_child_workflow(
                    CampaignWorkflow.run,
                    shard_input,
                    id=f"{workflow.info().workflow_id}-shard-{n}",
                    search_attributes=search_attributes.email_channel(),
                )
            )
        self.shards = shards
        if workflow.patched("shards-take-added-partners"):
            results = await self._collect_shards()
        else:  # started before: partners added to a sharded campaign were never started
            results = await asyncio.gather(*shards)
        counts: dict[str, int] = {}
        for result in results:
            for state, count in result.counts.items():
                counts[state] = counts.get(state, 0) + count
        return CampaignSummary(
            campaign_id=self.inp.shared.campaign_id, counts=counts, cancelled=self.cancelled
        )

    async def _collect_shards(self) -> list[CampaignSummary]:
        """Wait for every shard; partners added meanwhile go to new shards of their own (at
        most `max_children` each), which hear of a cancel or extension that came first."""
        results: list[CampaignSummary] = []

        async def wait(
            shard: workflow.ChildWorkflowHandle[CampaignWorkflow, CampaignSummary],
        ) -> None:
            results.append(await shard)

        waiting = [asyncio.create_task(wait(shard)) for shard in self.shards]
        size = self.inp.max_children
        while True:
            await workflow.wait_condition(
                lambda: bool(self.pending_ids) or len(results) == len(self.shards)
            )
            if not self.pending_ids:
                break
            ids, self.pending_ids = self.pending_ids, []
            shared = self.inp.shared.model_copy(
                update={"personalise_until": self.personalise_until}
            )
            for offset in range(0, len(ids), size):
                shard = await workflow.start_child_workflow(
                    CampaignWorkflow.run,
                    CampaignWorkflowInput(
                        shared=shared,
                        partner_campaign_ids=ids[offset : offset + size],
                        max_children=size,
                        page_size=self.inp.page_size,
                    ),
                    id=f"{workflow.info().workflow_id}-shard-{len(self.shards)}",
                    search_attributes=search_attributes.email_channel(),
                )
                self.shards.append(shard)
                waiting.append(asyncio.create_task(wait(shard)))
                if self.cancelled:
                    await shard.signal(CampaignWorkflow.cancel)
        await asyncio.gather(*waiting)
        return results

    # Signals -----------------------------------------------------------------------------------

    async def _signal(
        self, workflow_ids: list[str], signal: str, until: datetime | None = None
    ) -> None:
        for offset in range(0, len(workflow_ids), SIGNAL_PAGE):
            await workflow.execute_activity(
                "signal_partner_workflows",
                SignalPartners(
                    workflow_ids=workflow_ids[offset : offset + SIGNAL_PAGE],
                    signal=signal,
                    personalise_until=until,
                ),
                result_type=int,
                start_to_close_timeout=FANOUT_TIMEOUT,
                heartbeat_timeout=timedelta(seconds=60),
                retry_policy=DB_RETRY,
            )

    async def _tell_partners(self, signal: str, until: datetime | None = None) -> None:
        running = [wid for pid, wid in self.started.items() if pid not in self.results]
        shard_signals = [
            shard.signal(CampaignWorkflow.extend, until)
            if until is not None
            else shard.signal(CampaignWorkflow.cancel)
            for shard in self.shards
        ]
        # A shard may close between our look and the signal: expected, never fatal here.
        await asyncio.gather(*shard_signals, return_exceptions=True)
        await self._signal(running, signal, until)

    @workflow.signal
    async def cancel(self) -> None:
        if self.cancelled:
            return
        self.cancelled = True
        await self._tell_partners("cancel")

    @workflow.signal
    async def extend(self, personalise_until: datetime) -> None:
        if personalise_until <= self.personalise_until:
            return
        self.personalise_until = personalise_until
        await self._tell_partners("extend", personalise_until)

    @workflow.signal
    def add_partners(self, partner_campaign_ids: list[int]) -> None:
        """Partners added to a running campaign (rows created by the API first)."""
        self.pending_ids.extend(partner_campaign_ids)

    @workflow.signal(name="partner_finished")
    def partner_finished(self, outcome: PartnerOutcome) -> None:
        self.results[outcome.partner_campaign_id] = outcome.result
