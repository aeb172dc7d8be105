"""Messages services produce reach the portal in the reader's language (core.said), while the
API's JSON keeps the English: a missing object, a contact import's row report, an approval
policy's wording, a refused print order or claim form, and the member preference centre."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.portal.test_portal import portal, sign_in

__all__ = ["portal"]

HAMBURG = "editor.hamburg@northwind.example"
AMSTERDAM = "editor.amsterdam@northwind.example"


@pytest.mark.parametrize(
    "email,shown",
    [
        (HAMBURG, "Erstattungsantrag 999999999 nicht gefunden"),
        (AMSTERDAM, "claim 999999999 niet gevonden"),
    ],
)
def test_a_missing_object_is_named_in_the_readers_language(
    portal: TestClient, login: Callable[[str], dict[str, str]], email: str, shown: str
) -> None:
    sign_in(portal, email)
    page = portal.get("/claims/999999999")
    assert page.status_code == 404
    assert shown in page.text and "not found" not in page.text
    api = portal.get("/api/v1/claims/999999999", headers=login(email))
    assert api.status_code == 404
    assert api.json()["detail"] == "claim 999999999 not found"
