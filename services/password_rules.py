"""What a new password must be: long, and not something an attacker tries first."""

from __future__ import annotations

MIN_LENGTH = 12
MAX_LENGTH = 200
MIN_DISTINCT = 5
# Passwords printed in this project's own documentation, or its name.
KNOWN = frozenset({"demo-password", "brandrelay", "password", "passwort", "123456789012"})


def password_problem(password: str, email: str) -> str | None:
    """Why `password` is refused for the account `email`, in plain words; None when it is fine."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters long"
    if len(password) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters long"
    lowered = password.strip().lower()
    address = email.strip().lower()
    local = address.partition("@")[0]
    if lowered == address or (len(local) >= 4 and local in lowered) or address in lowered:
        return "must not contain your email address or its name part"
    if len(set(lowered)) < MIN_DISTINCT:
        return f"must use at least {MIN_DISTINCT} different characters"
    if lowered in KNOWN or lowered.rstrip("0123456789!") in KNOWN:
        return "is a well-known password; choose another"
    return None
