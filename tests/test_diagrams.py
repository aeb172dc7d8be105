"""The lifecycle diagrams in the README are the state machines' own rendering."""

from __future__ import annotations

from core.settings import PROJECT_ROOT
from workflows.template_lifecycle import mermaid


def test_readme_shows_the_template_lifecycle() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert "```mermaid\n" + mermaid().rstrip() + "\n```" in readme
