"""Typed client for the Brandrelay API, generated from its OpenAPI document, and the
`brandrelay` command line (brandrelay_client.cli).

    from brandrelay_client import BrandrelayClient, ApiError
    with BrandrelayClient("http://localhost:8000", token="brt_...") as api:
        page = api.list_campaigns(state="running")
"""

from brandrelay_client import models
from brandrelay_client.api import BrandrelayClient
from brandrelay_client.base import ApiError, FieldError, FileUpload, new_idempotency_key

__all__ = [
    "ApiError",
    "BrandrelayClient",
    "FieldError",
    "FileUpload",
    "models",
    "new_idempotency_key",
]
