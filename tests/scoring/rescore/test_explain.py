"""Properties (hypothesis) of the rescore's explanations: lines built as JSON text are those a dict per line would
make. Pure NumPy, no database."""

from __future__ import annotations

import numpy as np
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.rescore.explain import clamp_lines, explanation_lines, json_head, json_text

labels = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
points = st.floats(-500, 500, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(0, 6),
    heads=st.lists(labels, min_size=1, max_size=4),
    data=st.data(),
)
def test_explanation_lines_as_json_text_are_the_lines_a_dict_per_line_would_make(n, heads, data):
    k = len(heads)
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=n * k, max_size=n * k)), dtype=bool).reshape(n, k)
    values = np.array(data.draw(st.lists(points, min_size=n * k, max_size=n * k))).reshape(n, k)
    counts = np.array(data.draw(st.lists(st.integers(0, 999), min_size=n * k, max_size=n * k))).reshape(n, k)
    tailed = np.array(data.draw(st.lists(st.booleans(), min_size=n * k, max_size=n * k)), dtype=bool).reshape(n, k)
    tails = data.draw(st.lists(labels, min_size=k, max_size=k))
    scores = np.array(data.draw(st.lists(points, min_size=n, max_size=n)))
    lines, sums = explanation_lines(
        mask, values, [json_head("engagement_rule", h) for h in heads], middles=counts,
        tails=[json_text(t) for t in tails], tailed=tailed,
    )  # fmt: skip
    lines = clamp_lines(lines, sums, np.array([round(float(x), 2) for x in scores]), "kept within bounds")
    for i in range(n):
        expected = [
            {"source": "engagement_rule", "label": f"{heads[c]}{counts[i, c]}{tails[c] if tailed[i, c] else ''}",
             "points": round(float(values[i, c]), 2)}
            for c in range(k) if mask[i, c]
        ]  # fmt: skip
        gap = round(round(float(scores[i]), 2) - sum(e["points"] for e in expected), 2)
        if abs(gap) >= 0.01:
            expected.append({"source": "clamp", "label": "kept within bounds", "points": gap})
        assert orjson.loads(f"[{lines[i]}]") == expected
