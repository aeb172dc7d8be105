"""Email addresses out of free text that leaves the send: a provider's refusal often names the
recipient ("... failed the check: anna@example.com", "<anna@example.com>: Recipient address
rejected"), and that text is kept in the delivery ledger, the workflow's history, the audit
trail and the pause notice to HQ. A contact's address is the partner's data; none of those
places may hold it, so every refusal text passes through here first.
"""

from __future__ import annotations

import re

PLACEHOLDER = "[address]"
# Deliberately wide: anything shaped like local@domain.tld, letters of any script included.
_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")


def without_addresses(text: str, *known: str) -> str:
    """`text` with every address replaced by a placeholder; `known` addresses (the recipient's)
    are removed first, whatever their shape, ignoring case."""
    for address in known:
        if address:
            text = re.sub(re.escape(address), PLACEHOLDER, text, flags=re.IGNORECASE)
    return _ADDRESS.sub(PLACEHOLDER, text)
