"""Small inline SVG charts for the results pages: estimates with intervals, counts over time.

Written here rather than shipping a charting library to the browser: two chart shapes, drawn
on the server, readable without JavaScript and printable with the page.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

ROW_HEIGHT = 26
LABEL_WIDTH = 220
PLOT_WIDTH = 420
PALETTE = ("#2f6f8f", "#b5562f", "#5a8f3a", "#8a5aa8", "#c08a1e", "#4d4d4d", "#2a9d8f")
# The site's muted text colour (app.css --muted): 5.8:1 on the card background, where #777 gave
# 4.4:1, under the 4.5:1 that small text needs.
MUTED = "#6d625a"


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None
    low: float | None = None
    high: float | None = None
    group: int = 0  # colour index: the same engine keeps its colour across criteria
    note: str = ""  # why there is no whisker ("too few scores"), shown after the value


def interval_chart(
    bars: Sequence[Bar], *, lo: float, hi: float, title: str, ticks: Sequence[float] = ()
) -> SafeString:
    """Horizontal bars from `lo` with whiskers for the intervals; a missing value shows "n/a"."""
    height = ROW_HEIGHT * len(bars) + 40
    # Room after the values for a note such as "too few scores" where a bar has no whisker.
    notes = any(bar.note and bar.low is None for bar in bars)
    width = LABEL_WIDTH + PLOT_WIDTH + (230 if notes else 60)

    def x(value: float) -> float:
        clamped = min(max(value, lo), hi)
        return LABEL_WIDTH + (clamped - lo) / (hi - lo) * PLOT_WIDTH

    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet"><title>{escape(title)}</title>'
    ]
    for tick in ticks or (lo, hi):
        parts.append(
            f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="0" y2="{height - 24}" '
            f'stroke="#ddd"/><text x="{x(tick):.1f}" y="{height - 8}" font-size="11" '
            f'text-anchor="middle">{tick:g}</text>'
        )
    for row, bar in enumerate(bars):
        top = row * ROW_HEIGHT + 6
        middle = top + ROW_HEIGHT / 2 - 3
        colour = PALETTE[bar.group % len(PALETTE)]
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{middle + 4:.1f}" font-size="12" '
            f'text-anchor="end">{escape(bar.label)}</text>'
        )
        if bar.value is None:
            parts.append(
                f'<text x="{LABEL_WIDTH + 4}" y="{middle + 4:.1f}" font-size="12" '
                f'fill="{MUTED}">n/a</text>'
            )
            continue
        parts.append(
            f'<rect x="{x(lo):.1f}" y="{top:.1f}" width="{x(bar.value) - x(lo):.1f}" '
            f'height="{ROW_HEIGHT - 12}" fill="{colour}" opacity="0.8"/>'
        )
        if bar.low is not None and bar.high is not None:
            parts.append(
                f'<line x1="{x(bar.low):.1f}" x2="{x(bar.high):.1f}" y1="{middle:.1f}" '
                f'y2="{middle:.1f}" stroke="#111" stroke-width="1.5"/>'
            )
            for end in (bar.low, bar.high):
                parts.append(
                    f'<line x1="{x(end):.1f}" x2="{x(end):.1f}" y1="{middle - 5:.1f}" '
                    f'y2="{middle + 5:.1f}" stroke="#111" stroke-width="1.5"/>'
                )
        parts.append(
            f'<text x="{LABEL_WIDTH + PLOT_WIDTH + 8}" y="{middle + 4:.1f}" '
            f'font-size="12">{bar.value:.2f}'
            + (f" ({escape(bar.note)})" if bar.note and bar.low is None else "")
            + "</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def timeline_chart(
    points: Sequence[tuple[date | datetime, int]], *, title: str, note: str = ""
) -> SafeString:
    """Cumulative count as a line; `points` are (day or hour, count in it), sorted.

    A single point becomes one bar labelled with its day (or hour) and count. `note` follows
    the total ("6 votes in all, NOTE"), to say how it relates to counts shown elsewhere.
    """
    width, height, margin = LABEL_WIDTH + PLOT_WIDTH, 180, 36
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet"><title>{escape(title)}</title>'
    ]
    if not points:
        parts.append(f'<text x="{margin}" y="{height / 2}" font-size="12">No votes yet</text>')
        parts.append("</svg>")
        return mark_safe("".join(parts))
    if len(points) == 1:
        return _single_bucket(points[0], title=title, note=note, size=(width, height, margin))
    cumulative, total = [], 0
    for day, count in points:
        total += count
        cumulative.append((day, total))
    first, last = cumulative[0][0], cumulative[-1][0]
    span = max(_seconds(last) - _seconds(first), 1)

    def xy(moment: date | datetime, value: int) -> tuple[float, float]:
        x = margin + (_seconds(moment) - _seconds(first)) / span * (width - 2 * margin)
        y = height - margin - value / max(total, 1) * (height - 2 * margin)
        return x, y

    path = []
    for index, (day, value) in enumerate(cumulative):
        x, y = xy(day, value)
        path.append(f"{'M' if index == 0 else 'L'}{x:.1f},{y:.1f}")
    parts.append(f'<path d="{" ".join(path)}" fill="none" stroke="{PALETTE[0]}" stroke-width="2"/>')
    for day, value in cumulative:
        x, y = xy(day, value)
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{PALETTE[0]}"/>')
    parts.append(
        f'<text x="{margin}" y="{height - 10}" font-size="11">{_label(first)}</text>'
        f'<text x="{width - margin}" y="{height - 10}" font-size="11" text-anchor="end">'
        f"{_label(last)}</text>"
        f'<text x="{margin}" y="{margin - 12}" font-size="11">{total} votes in all'
        f"{_note(note)}</text>"
    )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def _single_bucket(
    point: tuple[date | datetime, int], *, title: str, note: str, size: tuple[int, int, int]
) -> SafeString:
    """One day (or hour) of votes: a line through one point says nothing, so one labelled bar."""
    moment, count = point
    width, height, margin = size
    bar_width, bar_top = 48, margin + 8
    left = (width - bar_width) / 2
    noun = "vote" if count == 1 else "votes"
    return mark_safe(
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet"><title>{escape(title)}</title>'
        f'<rect x="{left:.1f}" y="{bar_top}" width="{bar_width}" '
        f'height="{height - margin - bar_top}" fill="{PALETTE[0]}" opacity="0.8"/>'
        f'<text x="{width / 2:.1f}" y="{bar_top - 6}" font-size="12" text-anchor="middle">'
        f"{count} {noun}</text>"
        f'<text x="{width / 2:.1f}" y="{height - 10}" font-size="11" text-anchor="middle">'
        f"{_label(moment)}</text>"
        f'<text x="{margin}" y="{margin - 12}" font-size="11">{count} {noun} in all'
        f"{_note(note)}, all {'in this hour' if isinstance(moment, datetime) else 'on this day'}"
        "</text></svg>"
    )


def _note(note: str) -> str:
    return f", {escape(note)}" if note else ""


def _seconds(moment: date | datetime) -> float:
    if isinstance(moment, datetime):
        return moment.timestamp()
    return datetime(moment.year, moment.month, moment.day).timestamp()


def _label(moment: date | datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if isinstance(moment, datetime) else moment.isoformat()
