"""Server-side SVG charts."""

from __future__ import annotations

import re
from datetime import date

from klearly.web.charts import Series, line_chart_svg


def test_lines_points_and_threshold():
    svg = line_chart_svg(
        [Series("Lead", [(date(2026, 1, 1), 10), (date(2026, 2, 1), 50), (date(2026, 3, 1), 90)])],
        title="History", threshold=65,
    )  # fmt: skip
    points = re.search(r'<polyline class="s0" points="([^"]+)"', svg).group(1).split()
    assert len(points) == 3
    ys = [float(p.split(",")[1]) for p in points]
    assert ys[0] > ys[1] > ys[2]  # higher values are drawn higher up
    assert 'class="threshold"' in svg and "Lead 2026-03-01: 90" in svg
    assert ">Feb 1<" in svg  # a month tick between the ends


def test_gaps_single_day_and_no_data():
    gap = line_chart_svg(
        [Series("P", [(date(2026, 1, d), v) for d, v in ((1, 1), (2, None), (3, 2), (4, 3))])], title="t"
    )
    assert gap.count("<polyline") == 1  # the lone first point is a marker, the rest a line
    single = line_chart_svg([Series("Lead", [(date(2026, 1, 1), 42)])], title="t")
    assert "<circle" in single and "<polyline" not in single
    empty = line_chart_svg([Series("Lead", [])], title="t")
    assert "No history yet" in empty


def test_text_from_data_is_escaped_and_auto_scale():
    svg = line_chart_svg(
        [Series("<script>", [(date(2026, 1, 1), 7), (date(2026, 1, 2), 130)])], title='a"b', y_max=None
    )
    assert "<script>" not in svg and "&lt;script&gt;" in svg and 'aria-label="a&quot;b"' in svg
    assert ">200<" in svg  # 130 rounds up to a ceiling of 200


def test_small_axes_keep_their_decimals():
    svg = line_chart_svg([Series("s", [(date(2026, 1, 1), 0.0), (date(2026, 1, 2), 0.9)])], title="t", y_max=None)
    assert ">0.25<" in svg and ">0.75<" in svg
