"""The committed client is what the generator makes of the app's current OpenAPI document:
a route added or changed without `python -m scripts.generate_client` fails here."""

from __future__ import annotations

from scripts.generate_client import PACKAGE, app_document, render


def test_the_committed_client_matches_the_openapi_document() -> None:
    document = app_document()
    for name, text in render(document).items():
        committed = (PACKAGE / name).read_text()
        assert committed == text, f"{name} is out of date: run python -m scripts.generate_client"
    methods = (PACKAGE / "api.py").read_text()
    for item in document["paths"].values():
        for op in item.values():
            assert f"    def {op['operationId']}(" in methods


def test_a_changed_document_changes_the_client() -> None:
    """The drift check can fail: one more route is one more method."""
    document = app_document()
    document["paths"]["/api/v1/extra"] = {
        "get": {"operationId": "read_extra", "summary": "Extra", "responses": {"204": {}}}
    }
    assert "def read_extra(self) -> None:" in render(document)["api.py"]
