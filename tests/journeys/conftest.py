"""The claims tests' fixtures serve journeys too: the portal over https (its cookie is Secure)
and the API with a worker on the time-skipping server."""

from tests.claims.conftest import portal, running

__all__ = ["portal", "running"]
