"""Signed webhooks: capture beside the audit trail, delivery by a workflow per endpoint."""
