"""How many SMS segments a text costs: GSM-7 when every character is in the GSM 03.38 alphabet,
else UCS-2 (one emoji or a curly quote turns the whole message into UCS-2).

The portal's live counter (api/portal/static/sms_counter.js) shows this module's answer,
asked of the server while the partner types (services.previews.sms_preview): one arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = "^{}\\[~]|€\f"  # each costs two septets (an escape, then the character)
_BASIC = frozenset(GSM7_BASIC) - {"\x1b"}
_EXTENDED = frozenset(GSM7_EXTENDED)

GSM7_SINGLE, GSM7_PART = 160, 153  # septets: one message, or each part of a long one
UCS2_SINGLE, UCS2_PART = 70, 67  # UTF-16 code units


@dataclass(frozen=True)
class SmsMeasure:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    characters: int
    segments: int
    per_segment: int  # units one segment holds at this length
    remaining: int  # units left in the last segment


def is_gsm7(text: str) -> bool:
    return all(ch in _BASIC or ch in _EXTENDED for ch in text)


def measure(text: str) -> SmsMeasure:
    """The encoding, size and segment count of `text` as a provider would send it."""
    if is_gsm7(text):
        units = sum(2 if ch in _EXTENDED else 1 for ch in text)
        single, part, encoding = GSM7_SINGLE, GSM7_PART, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2  # an emoji is two code units
        single, part, encoding = UCS2_SINGLE, UCS2_PART, "UCS-2"
    if units <= single:
        segments, per = 1, single
    else:
        segments, per = -(-units // part), part
    return SmsMeasure(
        encoding=encoding,
        units=units,
        characters=len(text),
        segments=segments,
        per_segment=per,
        remaining=segments * per - units,
    )
