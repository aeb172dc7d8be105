"""The FastAPI application: REST API under /api/v1, health probes, later the portal."""
