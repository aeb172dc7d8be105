"""Approval chains with storage: policies and their versions, the facts a chain reads,
the tasks it projects, and delegations. The rules themselves live in the approvals package."""
