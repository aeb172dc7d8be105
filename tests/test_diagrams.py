"""The lifecycle diagrams in the README are the state machines' own rendering."""

from __future__ import annotations

from core.settings import PROJECT_ROOT
from workflows.template_lifecycle import mermaid


def test_readme_shows_the_template_lifecycle() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert "```mermaid\n" + mermaid().rstrip() + "\n```" in readme


def test_readme_shows_the_partner_campaign_lifecycle() -> None:
    from workflows.partner_campaign_lifecycle import mermaid as partner_mermaid

    readme = (PROJECT_ROOT / "README.md").read_text()
    assert "```mermaid\n" + partner_mermaid().rstrip() + "\n```" in readme


def test_readme_shows_the_built_in_approval_policies() -> None:
    from approvals.builtin import BuiltinPolicy, builtin_spec
    from approvals.diagram import mermaid as policy_mermaid

    readme = (PROJECT_ROOT / "README.md").read_text()
    for builtin in BuiltinPolicy:
        assert "```mermaid\n" + policy_mermaid(builtin_spec(builtin)).rstrip() + "\n```" in readme
