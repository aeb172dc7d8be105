"""The settings object: defaults, validation, and the README documenting every variable."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from pydantic import ValidationError

from core.settings import DEV_SECRET_KEY, PROJECT_ROOT, AppEnv, EmailTransport, Settings


def make(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_defaults_run_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    s = make()
    assert s.app_env == AppEnv.dev
    assert s.email_transport == EmailTransport.outbox
    assert s.resolved_database_url.startswith("sqlite:///")
    assert s.resolved_database_url.endswith("brandrelay.db")


def test_postgres_urls_use_psycopg3() -> None:
    assert make(database_url="postgresql://u@h/db").resolved_database_url == (
        "postgresql+psycopg://u@h/db"
    )
    assert make(database_url="postgres://u@h/db").resolved_database_url == (
        "postgresql+psycopg://u@h/db"
    )


def test_production_refuses_dev_secret_key() -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        make(app_env="production")
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        make(app_env="production", secret_key="short")
    good = make(
        app_env="production", secret_key="x" * 40, audit_key="a" * 40, print_vendor_secret="p" * 40
    )
    assert good.app_env == AppEnv.production
    assert make(secret_key=DEV_SECRET_KEY).is_dev


def test_production_refuses_an_audit_key_derived_from_secret_key() -> None:
    """The dev default (unset: derived from SECRET_KEY) would tie the audit chain to a key
    that is rotated for other reasons."""
    production = {"app_env": "production", "secret_key": "x" * 40, "print_vendor_secret": "p" * 40}
    for bad in ({}, {"audit_key": "short"}, {"audit_key": "x" * 40}):
        with pytest.raises(ValidationError, match="AUDIT_KEY"):
            make(**production, **bad)
    assert make(**production, audit_key="a" * 40).audit_key is not None
    assert make().audit_key is None  # dev: derived, accepted


def test_production_refuses_the_dev_print_vendor_secret() -> None:
    production = {"app_env": "production", "secret_key": "x" * 40, "audit_key": "a" * 40}
    for bad in ({}, {"print_vendor_secret": "short"}):
        with pytest.raises(ValidationError, match="PRINT_VENDOR_SECRET"):
            make(**production, **bad)
    assert make(**production, print_vendor_secret="p" * 40).app_env == AppEnv.production
    assert make().print_vendor_secret.get_secret_value()  # dev: the default, accepted


def test_retired_audit_keys_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDIT_KEY_PREVIOUS", " first-old-key , second-old-key ,")
    keys = make().audit_key_previous
    assert [k.get_secret_value() for k in keys] == ["first-old-key", "second-old-key"]


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_TRANSPORT", "ses")
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal.example:7233")
    s = make()
    assert s.email_transport == EmailTransport.ses
    assert s.temporal_address == "temporal.example:7233"


def test_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_TRANSPORT", "pigeon")
    with pytest.raises(ValidationError, match="email_transport"):
        make()


def test_api_refuses_to_start_in_production_with_dev_secret() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "from api.app import create_app; create_app()"],
        cwd=PROJECT_ROOT,
        env={"APP_ENV": "production", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "SECRET_KEY" in proc.stderr


def test_readme_documents_every_setting() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", readme, flags=re.MULTILINE))
    expected = {name.upper() for name in Settings.model_fields}
    assert expected - documented == set(), "settings missing from the README table"
    assert documented - expected == set(), "README documents settings that do not exist"


def test_no_environment_reads_outside_settings() -> None:
    offenders = []
    for folder in ("api", "activities", "core", "models", "services", "workflows", "scripts"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            text = path.read_text()
            if "os.getenv" in text or "os.environ" in text:
                offenders.append(str(path.relative_to(PROJECT_ROOT)))
    for path in (PROJECT_ROOT / "worker.py", PROJECT_ROOT / "registry.py"):
        if "os.getenv" in path.read_text() or "os.environ" in path.read_text():
            offenders.append(path.name)
    assert offenders == []


def test_workflow_code_imports_no_settings() -> None:
    for path in (PROJECT_ROOT / "workflows").rglob("*.py"):
        assert "core.settings" not in path.read_text(), path
