"""The audit trail's keys: what makes the chain unforgeable for someone who can only write rows.

The root key is AUDIT_KEY (outside dev and test required, see core/settings.py); when it is unset
the root is derived from SECRET_KEY for a purpose of its own, so dev installs work unconfigured.
Two subkeys are derived from the root, one per use (chain links, checkpoint signatures), plus a
short key id stored with each keyed event and checkpoint so verification knows which configured
key to try, and can say so plainly when that key is not configured any more.

The keys are process-wide, like the settings: every append site (routes, services, activities)
would otherwise need them threaded through. The API and the worker install the keys of the
settings they run with; anything else falls back to `get_settings()`.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from core.settings import Settings, get_settings

_DERIVED_ROOT_PURPOSE = b"brandrelay.audit-key.v1"
_CHAIN_PURPOSE = b"brandrelay.audit-chain.v1"
_CHECKPOINT_PURPOSE = b"brandrelay.audit-checkpoint.v1"
_KEY_ID_PURPOSE = b"brandrelay.audit-key-id.v1"
KEY_ID_LENGTH = 16


def _derive(root: bytes, purpose: bytes) -> bytes:
    return hmac.new(root, purpose, hashlib.sha256).digest()


@dataclass(frozen=True)
class AuditKey:
    """Subkeys of one root key; the root itself is not kept."""

    key_id: str
    chain: bytes
    checkpoint: bytes

    @classmethod
    def from_root(cls, root: str) -> AuditKey:
        raw = root.encode()
        key_id = _derive(raw, _KEY_ID_PURPOSE).hex()[:KEY_ID_LENGTH]
        return cls(key_id, _derive(raw, _CHAIN_PURPOSE), _derive(raw, _CHECKPOINT_PURPOSE))

    def __repr__(self) -> str:  # never print key material
        return f"AuditKey(key_id={self.key_id!r})"


@dataclass(frozen=True)
class AuditKeys:
    """The current key (appends and new checkpoints) and retired ones (verification only)."""

    current: AuditKey
    previous: tuple[AuditKey, ...] = ()
    derived_from_secret_key: bool = False

    def by_id(self, key_id: str | None) -> AuditKey | None:
        for key in (self.current, *self.previous):
            if key.key_id == key_id:
                return key
        return None

    @classmethod
    def from_settings(cls, settings: Settings) -> AuditKeys:
        if settings.audit_key is not None:
            root = settings.audit_key.get_secret_value()
        else:
            secret = settings.secret_key.get_secret_value().encode()
            root = _derive(secret, _DERIVED_ROOT_PURPOSE).hex()
        previous = tuple(
            AuditKey.from_root(k.get_secret_value()) for k in settings.audit_key_previous
        )
        return cls(AuditKey.from_root(root), previous, settings.audit_key is None)


_installed: AuditKeys | None = None


def install(keys: AuditKeys) -> None:
    """Called by the API and the worker with the keys of the settings they run with."""
    global _installed
    _installed = keys


def current_keys() -> AuditKeys:
    global _installed
    if _installed is None:
        _installed = AuditKeys.from_settings(get_settings())
    return _installed
