"""A probability's reasons in one unit that adds up (scoring.reasons)."""

import pytest

from scoring.reasons import reason_breakdown


def test_reasons_in_percentage_points_add_up_to_the_probability_shown():
    entry = {
        "probability": 0.4, "raw": 0.42, "typical": 0.1,
        "up": [{"text": "Pricing page views", "effect": 0.25}, {"text": "Users", "effect": 0.1}],
        "down": [{"text": "No integration", "effect": -0.04}],
    }  # fmt: skip
    b = reason_breakdown(entry)
    assert b.typical == 10.0 and b.total == 40.0
    assert b.lines == [
        ("Pricing page views", 25.0),
        ("Users", 10.0),
        ("No integration", -4.0),
        ("Everything else about the account (and reasons overlapping)", 1.0),  # 42 − 10 − 31
        ("Smoothing: a change counts in over hours, not at once", -2.0),
    ]
    assert b.typical + sum(points for _, points in b.lines) == pytest.approx(b.total)


def test_rounding_is_absorbed_so_the_lines_shown_add_up_exactly():
    entry = {"probability": 0.33333, "raw": 0.33333, "typical": 0.11111, "up": [{"text": "a", "effect": 0.11111}] * 2}
    b = reason_breakdown(entry)
    assert round(b.typical + sum(points for _, points in b.lines), 1) == b.total == 33.3


def test_reasons_stored_before_typical_values_claim_no_sum():
    b = reason_breakdown({"probability": 0.3, "up": [{"text": "a", "effect": 0.05}], "down": []})
    assert (b.typical, b.lines) == (None, [("a", 5.0)])
