"""`make up` runs the Procfile: its processes must match the project's entry points."""

from __future__ import annotations

import importlib
import re

from core.settings import PROJECT_ROOT
from domain import search_attributes


def procfile() -> dict[str, str]:
    lines = (PROJECT_ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def test_processes() -> None:
    assert set(procfile()) == {"temporal", "worker", "api", "printvendor"}


def test_dev_server_registers_every_search_attribute_and_keeps_state() -> None:
    cmd = procfile()["temporal"]
    assert cmd.startswith("temporal server start-dev ")
    registered = dict(re.findall(r"--search-attribute (\w+)=(\w+)", cmd))
    assert registered == {key.name: "Keyword" for key in search_attributes.ALL}
    assert "--db-filename .data/" in cmd
    assert "--ui-port 8233" in cmd


def test_api_and_worker_entry_points_exist() -> None:
    api = procfile()["api"]
    target = re.search(r"uvicorn (\S+):(\S+) --factory", api)
    assert target is not None
    module = importlib.import_module(target.group(1))
    assert callable(getattr(module, target.group(2)))
    assert procfile()["worker"] == "python worker.py"
    assert (PROJECT_ROOT / "worker.py").is_file()


def test_print_vendor_simulator_entry_point_exists() -> None:
    target = re.search(r"uvicorn (\S+):(\S+) --factory", procfile()["printvendor"])
    assert target is not None and target.group(1) == "printing.simulator"
    module = importlib.import_module(target.group(1))
    assert callable(getattr(module, target.group(2)))


def test_makefile_has_the_two_commands() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert re.search(r"^up: ", makefile, re.MULTILINE)
    assert re.search(r"^test: ", makefile, re.MULTILINE)
    assert "honcho start -f Procfile" in makefile
