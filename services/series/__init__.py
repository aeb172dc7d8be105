"""Campaign series: HQ's recurring campaign on a Temporal Schedule (store, schedules,
occurrences) and the GMs' standing approvals (standing)."""
