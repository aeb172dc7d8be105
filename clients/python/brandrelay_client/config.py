"""Where the CLI finds the API and its token: flags, then BRANDRELAY_URL / BRANDRELAY_TOKEN,
then the file `brandrelay login` wrote (BRANDRELAY_CONFIG, or ~/.config/brandrelay/config.json),
readable by its owner only because it holds a credential."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

URL_ENV = "BRANDRELAY_URL"
TOKEN_ENV = "BRANDRELAY_TOKEN"  # noqa: S105 - the variable's name, not a token
CONFIG_ENV = "BRANDRELAY_CONFIG"


@dataclass(frozen=True)
class Credentials:
    url: str
    token: str


def config_path() -> Path:
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "brandrelay" / "config.json"


def load_file(path: Path | None = None) -> dict[str, str]:
    path = path or config_path()
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from exc
    return {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}


def save(credentials: Credentials, path: Path | None = None) -> Path:
    """Written 0600 from the start (never briefly readable by others), directory 0700."""
    path = path or config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    text = json.dumps({"url": credentials.url, "token": credentials.token}, indent=2) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)  # an older file may have had wider rights
    return path


def resolve(url: str | None = None, token: str | None = None) -> Credentials | None:
    stored = load_file()
    url = url or os.environ.get(URL_ENV) or stored.get("url")
    token = token or os.environ.get(TOKEN_ENV) or stored.get("token")
    if not url or not token:
        return None
    return Credentials(url.rstrip("/"), token)
