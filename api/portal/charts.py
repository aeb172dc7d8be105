"""Server-side SVG charts for the report pages: plain functions from numbers to an inline <svg>.

No build step and no script: the portal's content security policy allows none inline, and a
chart must read on a 390 px phone, so every chart has a narrow viewBox (300 or 400 units wide,
scaled to the page with width 100 %) and fonts sized for it. Labels come from partner and campaign
names, so every piece of text is escaped (and stripped of characters XML cannot carry); the
numbers a chart shows are also in its aria-label for screen readers. No data draws an honest
"No data yet" instead of an empty axis.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

from i18n import formats
from i18n.translate import N_, gettext, ngettext

WIDTH = 400
FONT = 14
SMALL = 13
PAIR_WIDTH = 300  # the own-vs-median pair: narrower, so it is drawn larger on a phone
INK = "#1a1a1a"
MUTED = "#4a4a4a"
LINE = "#c8ccd4"
COLOURS = ("#0b3d91", "#b35c00")  # first and second series (contrast >= 4.5 on white)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Approval-time buckets in hours: the upper edge of each (the last one is open).
HOUR_BUCKETS: tuple[tuple[float, str], ...] = (
    (1, "< 1 h"),
    (4, "1-4 h"),
    (8, "4-8 h"),
    (24, "8-24 h"),
    (48, "1-2 d"),
    (96, "2-4 d"),
    (math.inf, "> 4 d"),
)


@dataclass(frozen=True)
class Series:
    """One named line or set of bars of a time series."""

    name: str
    values: Sequence[float]


def esc(text: object) -> str:
    """Text safe inside an SVG element or a quoted attribute."""
    return html.escape(_NOT_XML.sub("", str(text)), quote=True)


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters, an ellipsis marking a cut (the full text stays in a tooltip)."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: max(limit - 1, 1)].rstrip() + "…"


def number(value: float) -> str:
    """1234 -> "1,234"; 3.25 -> "3.3" (German "1.234", "3,3": the reader's language)."""
    if float(value).is_integer():
        return formats.number(int(value))
    return formats.number(round(value, 1))


def _svg(title: str, summary: str, height: float, body: list[str], width: int = WIDTH) -> Markup:
    title = gettext(title) if title else title  # the defaults below; a caller's own stays
    label = f"{title}: {summary}" if summary else title
    return Markup(  # noqa: S704 - every piece of text inside went through esc()
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="100%"'
        f' viewBox="0 0 {width} {height:.0f}" preserveAspectRatio="xMinYMin meet"'
        f' aria-label="{esc(label)}"><title>{esc(label)}</title>' + "".join(body) + "</svg>"
    )


def _text(
    x: float,
    y: float,
    text: str,
    *,
    size: int = FONT,
    anchor: str = "start",
    fill: str = INK,
    weight: str = "normal",
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"'
        f' fill="{fill}" font-weight="{weight}" font-family="system-ui, sans-serif">'
        f"{esc(text)}</text>"
    )


def _empty(title: str, message: str | None = None) -> Markup:
    message = message or gettext("No data yet")
    return _svg(
        title,
        message,
        60,
        [
            f'<rect x="0.5" y="0.5" width="{WIDTH - 1}" height="59" fill="#fff" stroke="{LINE}"'
            ' stroke-dasharray="4 3"/>',
            _text(WIDTH / 2, 35, message, anchor="middle", fill=MUTED),
        ],
    )


def _pct(part: float, whole: float) -> str:
    return f"{round(100 * part / whole)} %" if whole else "-"


def funnel(steps: Sequence[tuple[str, int]], *, title: str = N_("Participation funnel")) -> Markup:
    """Horizontal bars, one per step, each with its count and its share of the first step
    (the invited)."""
    if not steps or not any(n for _, n in steps):
        return _empty(title)
    base = steps[0][1]
    top = max(n for _, n in steps) or 1
    row = 36
    body: list[str] = []
    for i, (label, n) in enumerate(steps):
        y = i * row
        w = (WIDTH - 110) * n / top
        shown = truncate(label, 34)
        body.append(
            f"<g><title>{esc(label)}: {esc(number(n))} ({esc(_pct(n, base))})</title>"
            + _text(0, y + 12, shown, size=SMALL, fill=MUTED)
            + f'<rect x="0" y="{y + 16:.1f}" width="{max(w, 1):.1f}" height="14"'
            f' fill="{COLOURS[0]}" rx="2"/>'
            + _text(w + 6, y + 28, f"{number(n)} · {_pct(n, base)}", weight="600")
            + "</g>"
        )
    summary = ", ".join(
        gettext(
            "%(step)s %(count)s (%(share)s of invited)",
            step=label,
            count=number(n),
            share=_pct(n, base),
        )
        for label, n in steps
    )
    return _svg(title, summary, len(steps) * row + 4, body)


def _ticks(top: float) -> list[float]:
    """0, a middle and a round maximum (1, 2 or 5 times a power of ten) at least `top`."""
    if top <= 0:
        return [0, 1]
    magnitude = 10 ** math.floor(math.log10(top))
    nice = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= top)
    return [0, nice / 2, nice]


def timeseries(
    labels: Sequence[str], series: Sequence[Series], *, title: str = N_("Over time")
) -> Markup:
    """Bars for the first series and a line for the second (if any), over periods labelled
    below (only every n-th label where they would not fit)."""
    values = [v for s in series for v in s.values]
    if not labels or not series or not any(values):
        return _empty(title)
    left, right, top_pad, bottom = 34, 8, 24, 22
    plot_h = 130
    height = top_pad + plot_h + bottom
    ticks = _ticks(max(values))
    ymax = ticks[-1] or 1
    n = len(labels)
    slot = (WIDTH - left - right) / n
    every = max(1, math.ceil(n / 7))  # about 7 labels fit under 366 units at 11 px

    def y_of(v: float) -> float:
        return top_pad + plot_h - plot_h * v / ymax

    body: list[str] = []
    for t in ticks:
        y = y_of(t)
        body.append(
            f'<line x1="{left}" x2="{WIDTH - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{LINE}"/>'
        )
        body.append(_text(left - 4, y + 4, number(t), size=SMALL, anchor="end", fill=MUTED))
    # Legend above the plot.
    x = left
    for i, s in enumerate(series[:2]):
        body.append(f'<rect x="{x}" y="4" width="10" height="10" fill="{COLOURS[i]}"/>')
        name = truncate(s.name, 24)
        body.append(_text(x + 14, 13, name, size=SMALL))
        x += 24 + 7 * len(name)
    first = series[0]
    for i, label in enumerate(labels):
        v = first.values[i] if i < len(first.values) else 0
        cx = left + slot * i
        h = plot_h * v / ymax
        body.append(
            f"<g><title>{esc(label)}: {esc(first.name)} {esc(number(v))}</title>"
            f'<rect x="{cx + slot * 0.15:.1f}" y="{top_pad + plot_h - h:.1f}"'
            f' width="{slot * 0.7:.1f}" height="{h:.1f}" fill="{COLOURS[0]}"/></g>'
        )
        if i % every == 0:
            shown = truncate(label, 8)
            half = len(shown) * SMALL * 0.3  # about half the label's width: keep it inside
            body.append(
                _text(
                    min(max(cx + slot / 2, half), WIDTH - half),
                    height - 6,
                    shown,
                    size=SMALL,
                    anchor="middle",
                    fill=MUTED,
                )
            )
    if len(series) > 1:
        second = series[1]
        points = [
            (left + slot * (i + 0.5), y_of(second.values[i] if i < len(second.values) else 0))
            for i in range(n)
        ]
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        body.append(
            f'<polyline points="{path}" fill="none" stroke="{COLOURS[1]}" stroke-width="2"/>'
        )
        for (px, py), label, v in zip(points, labels, second.values, strict=False):
            body.append(
                f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{COLOURS[1]}">'
                f"<title>{esc(label)}: {esc(second.name)} {esc(number(v))}</title></circle>"
            )
    summary = "; ".join(
        f"{s.name}: "
        + ", ".join(f"{label} {number(v)}" for label, v in zip(labels, s.values, strict=False))
        for s in series[:2]
    )
    return _svg(title, summary, height, body)


def bucket_hours(hours: Sequence[float]) -> list[tuple[str, int]]:
    """How many of the durations fall in each of HOUR_BUCKETS."""
    counts = [0] * len(HOUR_BUCKETS)
    for h in hours:
        for i, (upper, _) in enumerate(HOUR_BUCKETS):
            if h < upper:
                counts[i] += 1
                break
    return [(label, counts[i]) for i, (_, label) in enumerate(HOUR_BUCKETS)]


def histogram(hours: Sequence[float], *, title: str = N_("Approval times")) -> Markup:
    """How approval times (in hours) spread over HOUR_BUCKETS: a bar per bucket with its
    count above it."""
    if not hours:
        return _empty(title)
    buckets = bucket_hours(hours)
    top = max(n for _, n in buckets) or 1
    left, top_pad, plot_h, bottom = 4, 18, 110, 22
    height = top_pad + plot_h + bottom
    slot = (WIDTH - 2 * left) / len(buckets)
    body = [
        f'<line x1="{left}" x2="{WIDTH - left}" y1="{top_pad + plot_h}" y2="{top_pad + plot_h}"'
        f' stroke="{MUTED}"/>'
    ]
    for i, (label, n) in enumerate(buckets):
        h = plot_h * n / top
        x = left + slot * i
        body.append(
            f"<g><title>{esc(label)}: {n}</title>"
            f'<rect x="{x + slot * 0.1:.1f}" y="{top_pad + plot_h - h:.1f}"'
            f' width="{slot * 0.8:.1f}" height="{h:.1f}" fill="{COLOURS[0]}"/></g>'
        )
        body.append(
            _text(x + slot / 2, top_pad + plot_h - h - 4, str(n), anchor="middle", weight="600")
        )
        body.append(_text(x + slot / 2, height - 6, label, size=SMALL, anchor="middle", fill=MUTED))
    summary = ngettext(
        "%(num)d approval; %(buckets)s",
        "%(num)d approvals; %(buckets)s",
        len(hours),
        buckets=", ".join(f"{label}: {n}" for label, n in buckets),
    )
    return _svg(title, summary, height, body)


def comparison(
    own: float | None,
    median: float | None,
    *,
    title: str,
    unit: str = "",
    own_label: str | None = None,
    median_label: str | None = None,
) -> Markup:
    """Two bars: the partner's own figure and its region's median (a missing median is said in
    words, never drawn as zero)."""
    if own is None and median is None:
        return _empty(title)
    top = max(v for v in (own, median) if v is not None) or 1
    suffix = f" {unit}" if unit else ""
    body: list[str] = []
    parts: list[str] = []
    left, room = 112, PAIR_WIDTH - 112 - 72  # label column; bar room, its figure after it
    own_label = own_label or gettext("You")
    median_label = median_label or gettext("Region median")
    for i, (label, value) in enumerate(((own_label, own), (median_label, median))):
        y = i * 28
        body.append(_text(0, y + 17, truncate(label, 14), size=SMALL, fill=MUTED))
        if value is None:
            body.append(_text(left, y + 17, gettext("not shown"), size=SMALL, fill=MUTED))
            parts.append(gettext("%(label)s not shown", label=label))
            continue
        w = room * value / top
        body.append(
            f'<rect x="{left}" y="{y + 5}" width="{max(w, 1):.1f}" height="16"'
            f' fill="{COLOURS[i]}" rx="2"/>'
        )
        body.append(_text(left + 4 + w, y + 18, number(value) + suffix, weight="600"))
        parts.append(f"{label} {number(value)}{suffix}")
    return _svg(title, ", ".join(parts), 58, body, width=PAIR_WIDTH)
