"""Inline SVG charts of the results pages."""

import re
from datetime import date, datetime

from gallery.charts import Bar, interval_chart, timeline_chart


def _circles(svg: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r'cx="([\d.]+)" cy="([\d.]+)"', svg)]


def test_timeline_chart_spreads_hours_of_one_day_and_labels_them():
    svg = timeline_chart(
        [(datetime(2026, 11, 24, 9), 4), (datetime(2026, 11, 24, 10), 0),
         (datetime(2026, 11, 24, 15), 4)],
        title="Votes per hour",
    )  # fmt: skip

    (x1, y1), (x2, y2), (x3, y3) = _circles(svg)
    # 9:00 to 15:00: the 10:00 point sits a sixth of the way along; the count climbs 4, 4, 8.
    assert abs((x2 - x1) / (x3 - x1) - 1 / 6) < 1e-3
    assert y1 == y2 > y3
    assert "2026-11-24 09:00" in svg and "2026-11-24 15:00" in svg and "8 votes in all" in svg


def test_timeline_chart_of_days_and_of_nothing():
    svg = timeline_chart([(date(2026, 3, 2), 2), (date(2026, 3, 4), 2)], title="Votes per day")
    (x1, _), (x2, _) = _circles(svg)
    assert x2 > x1 and "2026-03-02" in svg and "2026-03-04" in svg
    assert "No votes yet" in timeline_chart([], title="Votes per day")


def test_interval_chart_clips_whiskers_to_the_scale_and_says_na():
    svg = interval_chart(
        [Bar("telea", 4.5, -1.9, 10.9), Bar("exemplar", None)], lo=1, hi=5, title="Overall"
    )
    xs = [float(x) for x in re.findall(r'x1="([\d.]+)"', svg)]
    assert min(xs) >= 220 and max(xs) <= 220 + 420  # inside the plot: label width + plot width
    assert "n/a" in svg and "4.50" in svg


def test_interval_chart_names_why_a_bar_has_no_whisker():
    svg = interval_chart(
        [Bar("telea", 4.5, note="too few scores"), Bar("navier", 3.0, 2.0, 4.0, note="clipped")],
        lo=1,
        hi=5,
        title="Overall",
    )
    assert "4.50 (too few scores)</text>" in svg
    assert "3.00</text>" in svg and "clipped" not in svg  # a whisker shows; nothing to explain


def test_timeline_chart_of_one_day_is_a_labelled_bar():
    svg = timeline_chart([(date(2026, 3, 2), 1)], title="Votes per day", note="all counted")
    assert "<circle" not in svg and "<rect" in svg
    assert ">1 vote</text>" in svg and "2026-03-02" in svg
    assert "1 vote in all, all counted, all on this day" in svg
