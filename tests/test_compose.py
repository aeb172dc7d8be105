"""docker-compose.yml and the Dockerfile, checked without a Docker engine.

The compose file is parsed with PyYAML (which resolves the anchors and `<<` merges as Compose
does) and checked against the code: every variable given to a service built from the project
image is a Settings field, required secrets have no default, commands name real entry points,
long-running services have health checks and every dependency exists. Each check is a small
function returning what it found wrong, so the tests can also prove the checks can fail.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.settings import PROJECT_ROOT, Settings

COMPOSE_FILE = Path(PROJECT_ROOT) / "docker-compose.yml"
DOCKERFILE = Path(PROJECT_ROOT) / "Dockerfile"

EXPECTED_SERVICES = {
    "postgres",
    "temporal",
    "temporal-ui",
    "search-attributes",
    "minio",
    "create-bucket",
    "mailpit",
    "migrate",
    "api",
    "worker",
}
# Services whose command runs project code (all built from the project image).
ENTRY_POINT_SERVICES = {"api", "worker", "migrate", "search-attributes"}
# Long-running services others wait for or reach through a port. temporal-ui is a leaf nobody
# depends on, and its image has no documented probe command, so it goes without one.
NEEDS_HEALTHCHECK = {"api", "postgres", "temporal", "minio", "mailpit"}
# Must come from the operator: `${VAR:?message}`, never a default or an empty fallback.
REQUIRED_SECRETS = {
    "SECRET_KEY",
    "AUDIT_KEY",
    "POSTGRES_PASSWORD",
    "MINIO_ROOT_USER",
    "MINIO_ROOT_PASSWORD",
}
SETTINGS_ENV = frozenset(name.upper() for name in Settings.model_fields)

Compose = dict[str, Any]
Service = dict[str, Any]

# `$$` is an escaped dollar (left for the container's shell); `${NAME...}` and `$NAME` are
# interpolated by Compose from the operator's environment.
_INTERPOLATION = re.compile(
    r"\$\$|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<rest>[^}]*)\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)
_UVICORN_APP = re.compile(r"^(?P<module>[\w.]+):(?P<attr>[\w.]+)$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)")
_DURATION_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


# --- helpers -------------------------------------------------------------------------------


def load_compose(path: Path = COMPOSE_FILE) -> Compose:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path} is not a YAML mapping"
    return data


def services_of(compose: Compose) -> dict[str, Service]:
    services = compose.get("services") or {}
    assert isinstance(services, dict), "services must be a mapping"
    return services


def project_services(compose: Compose) -> dict[str, Service]:
    """Services built from the project's Dockerfile."""
    return {name: svc for name, svc in services_of(compose).items() if "build" in svc}


def env_keys(service: Service) -> set[str]:
    """Variable names of a service's `environment`, in mapping or list (`KEY=value`) form."""
    env = service.get("environment") or {}
    if isinstance(env, dict):
        return {str(key) for key in env}
    return {str(item).split("=", 1)[0] for item in env}


def unknown_env_keys(compose: Compose, known: frozenset[str] = SETTINGS_ENV) -> dict[str, set[str]]:
    """Per project-image service, the variables that are not Settings fields (so are ignored)."""
    found: dict[str, set[str]] = {}
    for name, svc in project_services(compose).items():
        unknown = env_keys(svc) - known
        if unknown:
            found[name] = unknown
    return found


def _strings(node: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, str):
        yield where, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _strings(value, f"{where}[{i}]")


def secret_reference_problems(compose: Compose, secrets: set[str] = REQUIRED_SECRETS) -> list[str]:
    """Each reference to a required secret must be `${NAME:?message}`; each must be used."""
    problems: list[str] = []
    seen: set[str] = set()
    for where, text in _strings(compose.get("services") or {}, "services"):
        for match in _INTERPOLATION.finditer(text):
            name = match["braced"] or match["bare"]
            if name not in secrets:
                continue
            seen.add(name)
            if match["bare"] or not match["rest"].startswith(":?"):
                problems.append(f"{where}: {match[0]} must be ${{{name}:?message}}")
    problems += [f"{name} is never referenced" for name in sorted(secrets - seen)]
    return problems


def command_argv(service: Service) -> list[str]:
    command = service.get("command")
    if command is None:
        return []
    if isinstance(command, str):
        return command.split()
    return [str(part) for part in command]


def _is_python(arg: str) -> bool:
    return re.fullmatch(r"python(3(\.\d+)?)?", Path(arg).name) is not None


def _uvicorn_problems(args: list[str]) -> list[str]:
    apps = [a for a in args if _UVICORN_APP.match(a)]
    if len(apps) != 1:
        return [f"uvicorn command {args} names no single module:attribute"]
    if "--factory" not in args:
        return [f"uvicorn command {args} lacks --factory (create_app is a factory)"]
    match = _UVICORN_APP.match(apps[0])
    assert match is not None
    try:
        module = importlib.import_module(match["module"])
    except Exception as err:
        return [f"cannot import {match['module']}: {err!r}"]
    target: Any = module
    for part in match["attr"].split("."):
        target = getattr(target, part, None)
    if not callable(target):
        return [f"{apps[0]}: {match['attr']} is missing or not callable"]
    return []


def entry_point_problems(argv: list[str]) -> list[str]:
    """Whether a container command runs something that exists in the project."""
    if not argv:
        return ["no command"]
    if _is_python(argv[0]) and argv[1:3] == ["-m", "uvicorn"]:
        return _uvicorn_problems(argv[3:])
    if Path(argv[0]).name == "uvicorn":
        return _uvicorn_problems(argv[1:])
    if _is_python(argv[0]):
        if len(argv) >= 3 and argv[1] == "-m":
            try:
                spec = importlib.util.find_spec(argv[2])
            except ImportError as err:
                return [f"module {argv[2]}: {err!r}"]
            return [] if spec is not None else [f"module {argv[2]} not found"]
        if len(argv) >= 2 and not argv[1].startswith("-"):
            path = Path(PROJECT_ROOT) / argv[1]
            return [] if path.is_file() else [f"file {argv[1]} not in the project"]
    return [f"unrecognised command {argv}"]


def _has_healthcheck(service: Service) -> bool:
    check = service.get("healthcheck") or {}
    test = check.get("test")
    return bool(test) and not check.get("disable") and test not in ("NONE", ["NONE"])


def missing_healthchecks(compose: Compose, names: set[str] = NEEDS_HEALTHCHECK) -> list[str]:
    services = services_of(compose)
    return sorted(n for n in names if n in services and not _has_healthcheck(services[n]))


def _depends_on(service: Service) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {str(target): "service_started" for target in deps}
    return {
        str(target): (spec or {}).get("condition", "service_started")
        for target, spec in deps.items()
    }


def dependency_problems(compose: Compose) -> list[str]:
    """Targets exist; `service_healthy` targets have a health check; `completed` ones end."""
    services = services_of(compose)
    problems: list[str] = []
    for name, svc in services.items():
        for target, condition in _depends_on(svc).items():
            if target not in services:
                problems.append(f"{name} depends on unknown service {target}")
            elif condition == "service_healthy" and not _has_healthcheck(services[target]):
                problems.append(f"{name} waits for {target} to be healthy; it has no healthcheck")
            elif condition == "service_completed_successfully" and services[target].get(
                "restart"
            ) in ("always", "unless-stopped"):
                problems.append(f"{name} waits for {target} to finish; it restarts forever")
            elif condition not in (
                "service_started",
                "service_healthy",
                "service_completed_successfully",
            ):
                problems.append(f"{name} -> {target}: unknown condition {condition}")
    return problems


def duration_seconds(value: str | int | float) -> float:
    """A Compose duration (`60s`, `1m30s`) in seconds."""
    if isinstance(value, int | float):
        return float(value)
    parts = _DURATION_PART.findall(value)
    assert parts and "".join(n + u for n, u in parts) == value, f"bad duration {value!r}"
    return sum(float(n) * _DURATION_UNITS[u] for n, u in parts)


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, args = line.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    return instructions


def copied_sources(instructions: list[tuple[str, str]]) -> set[str]:
    sources: set[str] = set()
    for keyword, args in instructions:
        if keyword != "COPY":
            continue
        parts = [p for p in args.split() if not p.startswith("--")]
        sources.update(p.removeprefix("./").rstrip("/") or "." for p in parts[:-1])
    return sources


# --- docker-compose.yml --------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> Compose:
    return load_compose()


def test_expected_services_exist(compose: Compose) -> None:
    missing = EXPECTED_SERVICES - set(services_of(compose))
    assert not missing, f"docker-compose.yml lacks services {sorted(missing)}"


def test_project_code_runs_from_the_project_image(compose: Compose) -> None:
    project = project_services(compose)
    assert set(project) >= ENTRY_POINT_SERVICES, "api/worker/migrate/... must build the image"
    images = {svc.get("image") for svc in project.values()}
    assert len(images) == 1, f"one image for every project service, got {images}"


def test_project_services_only_set_settings_fields(compose: Compose) -> None:
    assert unknown_env_keys(compose) == {}, (
        "variables no Settings field reads (typo, or a field missing from core/settings.py)"
    )


def test_env_key_check_reports_unknown_variables() -> None:
    fake: Compose = {
        "services": {
            "api": {"build": ".", "environment": {"APP_ENV": "production", "DATABSE_URL": "x"}},
            "worker": {"build": ".", "environment": ["SECRET_KEY=x", "TEMPORAL_HOST=t:7233"]},
            "migrate": {"build": ".", "environment": {"DATABASE_URL": "x"}},
            # Not the project image: its variables are the image's own business.
            "postgres": {"image": "postgres:16", "environment": {"POSTGRES_PASSWORD": "x"}},
        }
    }
    assert unknown_env_keys(fake) == {"api": {"DATABSE_URL"}, "worker": {"TEMPORAL_HOST"}}


def test_app_environment_is_production_on_the_stack(compose: Compose) -> None:
    services = services_of(compose)
    for name in ("api", "worker", "migrate"):
        env = services[name]["environment"]
        assert env["APP_ENV"] == "production", name
        assert env["DATABASE_URL"].startswith("postgresql://"), name
        assert env["TEMPORAL_ADDRESS"] == "temporal:7233", name
        assert env["AWS_ENDPOINT_URL"] == "http://minio:9000", name
        assert env["SMTP_HOST"] == "mailpit", name


def test_required_secrets_have_no_default(compose: Compose) -> None:
    assert secret_reference_problems(compose) == []


def test_secret_check_reports_defaults_and_bare_references() -> None:
    fake: Compose = {
        "services": {
            "api": {
                "environment": {
                    "SECRET_KEY": "${SECRET_KEY:-dev}",
                    "X": "$POSTGRES_PASSWORD",
                    "Y": "$${MINIO_ROOT_USER}",  # escaped: the container's, not Compose's
                }
            }
        }
    }
    problems = secret_reference_problems(fake, {"SECRET_KEY", "POSTGRES_PASSWORD"})
    assert len(problems) == 2, problems
    assert "SECRET_KEY" in problems[0] and "POSTGRES_PASSWORD" in problems[1]
    assert secret_reference_problems(fake, {"MINIO_ROOT_USER"}) == [
        "MINIO_ROOT_USER is never referenced"
    ]


@pytest.mark.parametrize("service", sorted(ENTRY_POINT_SERVICES))
def test_commands_point_at_real_entry_points(compose: Compose, service: str) -> None:
    argv = command_argv(services_of(compose)[service])
    assert entry_point_problems(argv) == []


@pytest.mark.parametrize(
    "argv",
    [
        ["python", "no_such_worker.py"],
        ["python", "-m", "scripts.no_such_script"],
        ["python", "-m", "no_such_package.module"],
        ["uvicorn", "api.app:create_app", "--host", "0.0.0.0"],
        ["uvicorn", "api.app:no_such_factory", "--factory"],
        ["uvicorn", "no_such_module:create_app", "--factory"],
        ["gunicorn", "api.app:create_app"],
    ],
)
def test_entry_point_check_reports_broken_commands(argv: list[str]) -> None:
    assert entry_point_problems(argv) != []


def test_long_running_services_have_healthchecks(compose: Compose) -> None:
    assert missing_healthchecks(compose) == []
    api_check = json.dumps(services_of(compose)["api"]["healthcheck"]["test"])
    assert "http://localhost:8000/health" in api_check
    assert "curl" not in api_check and "wget" not in api_check, "neither is in python:3.11-slim"


def test_dependencies_exist_and_can_be_met(compose: Compose) -> None:
    assert dependency_problems(compose) == []


def test_dependency_check_reports_problems() -> None:
    fake: Compose = {
        "services": {
            "db": {"image": "postgres:16"},
            "init": {"image": "x", "restart": "unless-stopped"},
            "app": {
                "depends_on": {
                    "db": {"condition": "service_healthy"},
                    "init": {"condition": "service_completed_successfully"},
                    "ghost": {"condition": "service_started"},
                }
            },
        }
    }
    assert len(dependency_problems(fake)) == 3


def test_app_waits_for_migrations_and_search_attributes(compose: Compose) -> None:
    for name in ("api", "worker"):
        deps = _depends_on(services_of(compose)[name])
        assert deps.get("migrate") == "service_completed_successfully", name
        assert deps.get("search-attributes") == "service_completed_successfully", name


def test_worker_gets_time_to_drain(compose: Compose) -> None:
    worker = services_of(compose)["worker"]
    grace = duration_seconds(worker["stop_grace_period"])
    assert grace >= 60
    shutdown = float(
        worker["environment"].get(
            "WORKER_SHUTDOWN_GRACE", Settings.model_fields["worker_shutdown_grace"].default
        )
    )
    assert shutdown < grace, "activities must finish before Docker sends SIGKILL"


# --- Dockerfile ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8"))


def test_dockerfile_default_command_runs_the_api_factory(
    dockerfile: list[tuple[str, str]],
) -> None:
    keywords = [k for k, _ in dockerfile]
    assert "ENTRYPOINT" not in keywords, "compose commands replace CMD; an ENTRYPOINT would wrap"
    cmds = [args for k, args in dockerfile if k == "CMD"]
    assert cmds, "no CMD"
    argv = json.loads(cmds[-1])  # exec form, so uvicorn is PID 1 and gets SIGTERM
    assert "api.app:create_app" in argv and "--factory" in argv
    assert entry_point_problems(argv) == []


def test_dockerfile_installs_the_lock_as_non_root(dockerfile: list[tuple[str, str]]) -> None:
    assert dockerfile[0] == ("FROM", "python:3.11-slim")
    keywords = [k for k, _ in dockerfile]
    copy_lock = next(
        i for i, (k, a) in enumerate(dockerfile) if k == "COPY" and "requirements.lock" in a
    )
    install = next(
        i for i, (k, a) in enumerate(dockerfile) if k == "RUN" and "-r requirements.lock" in a
    )
    assert copy_lock < install
    users = [a for k, a in dockerfile if k == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert keywords.index("USER") < keywords.index("CMD")


def test_dockerfile_copies_every_runtime_part(dockerfile: list[tuple[str, str]]) -> None:
    root = Path(PROJECT_ROOT)
    packages = {p.parent.name for p in root.glob("*/__init__.py")} - {"tests", "bench"}
    modules = {p.name for p in root.glob("*.py")}
    needed = packages | modules | {"alembic.ini", "migrations", "requirements.lock"}
    sources = copied_sources(dockerfile)
    if "." not in sources:
        assert needed <= sources, f"the image lacks {sorted(needed - sources)}"
