"""When an approved partner campaign without a send time reminds its editors: this long before
its send deadline (at the deadline the workflow schedules it by itself). A workflow constant,
not a setting: the PartnerCampaignWorkflow must compute the same time on every replay."""

from __future__ import annotations

from datetime import timedelta

REMIND_BEFORE = timedelta(hours=24)
SCHEDULE_REMINDER = "schedule_reminder"  # the notice kind (services.notifications)
