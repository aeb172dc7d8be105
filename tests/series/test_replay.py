"""Recorded series histories (tests/series/test_series_workflow.py with --record-histories)
must replay on the current workflow code: the occurrence the Schedule starts, and a partner
campaign of an occurrence that went ahead on a standing approval (the `standing-approval`
patch)."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.partner_campaign import PartnerCampaignWorkflow
from workflows.series_occurrence import SeriesOccurrenceWorkflow

HISTORIES = Path(__file__).parent.parent / "histories"


@pytest.mark.parametrize("name", ["series_occurrence", "series_standing"])
async def test_saved_series_histories_replay(name: str) -> None:
    history = WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text())
    await Replayer(
        workflows=[SeriesOccurrenceWorkflow, PartnerCampaignWorkflow],
        data_converter=pydantic_data_converter,
    ).replay_workflow(history)
