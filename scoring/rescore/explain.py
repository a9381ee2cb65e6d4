"""Explanations of a rescore: each account's contributions (the lines that say where its fit, engagement, lead and
signal strength come from), built as JSON text for a whole chunk at once (one f-string per line, no dict per line)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from .. import engine
from ..choices import ContributionSource as Src
from ..scorecard import Scorecard


def round2(values: np.ndarray) -> list:
    """``round(x, 2)`` of every value as Python floats (nested lists), the same as Python's own rounding.

    NumPy's ``round`` scales by 100 first, which can land a value just off a half; those few are rounded by Python.
    """
    values = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = values * 100.0
        rounded = np.rint(scaled) / 100.0
        near_half = np.abs(np.abs(scaled - np.trunc(scaled)) - 0.5) < 1e-6
    near_half |= ~(np.abs(scaled) < 1e8)  # large or not finite: Python decides
    out = rounded.tolist()
    for index in zip(*np.nonzero(near_half), strict=True):
        target = out
        for k in index[:-1]:
            target = target[k]
        target[index[-1]] = round(float(values[index]), 2)
    return out


def json_head(source: str, label: str) -> str:
    """The start of an explanation line as JSON text, up to the end of the label (left open to append to it)."""
    return '{"source":' + orjson.dumps(str(source)).decode() + ',"label":' + orjson.dumps(label).decode()[:-1]


def json_text(text: str) -> str:
    """Text to put inside a JSON string (escaped, no quotes)."""
    return orjson.dumps(text).decode()[1:-1]


def explanation_lines(
    mask: np.ndarray,
    points: np.ndarray,
    heads: Sequence[str],
    *,
    middles: np.ndarray | None = None,
    counted: Sequence[bool] | None = None,
    tails: Sequence[str] = (),
    tailed: np.ndarray | None = None,
) -> tuple[list[str], np.ndarray]:
    """Explanation lines of many accounts at once, as JSON text: for each true cell of ``mask`` (accounts × columns),
    ``heads[column]`` (from ``json_head``), then the cell's whole number from ``middles`` if given (in the ``counted``
    columns only, if given), then ``tails[column]`` (escaped by ``json_text``; where ``tailed`` is true, if given),
    closing the label; its points are the cell's of ``points``, rounded to 2 decimals. Returns, per account, its
    lines joined by commas (in column order), and the sum of their rounded points."""
    n = mask.shape[0]
    rows, cols = np.nonzero(mask)
    col_l = cols.tolist()
    values = np.asarray(round2(points[rows, cols]), dtype=np.float64)
    sums = np.bincount(rows, weights=values, minlength=n) if len(rows) else np.zeros(n)
    head = [heads[c] for c in col_l]
    if middles is None:
        middle: list[Any] = [""] * len(rows)
    else:
        middle = middles[rows, cols].astype(np.int64).tolist()
        if counted is not None:
            middle = [m if counted[c] else "" for c, m in zip(col_l, middle, strict=True)]
    if not tails:
        tail = [""] * len(rows)
    elif tailed is None:
        tail = [tails[c] for c in col_l]
    else:
        tail = [tails[c] if t else "" for c, t in zip(col_l, tailed[rows, cols].tolist(), strict=True)]
    text = [f'{h}{m}{t}","points":{v!r}}}' for h, m, t, v in zip(head, middle, tail, values.tolist(), strict=True)]
    bounds = np.searchsorted(rows, np.arange(n + 1)).tolist()
    return [",".join(text[bounds[i] : bounds[i + 1]]) for i in range(n)], sums


def clamp_lines(lines: list[str], sums: np.ndarray, scores: np.ndarray, label: str) -> list[str]:
    """Add to each account's lines one for what keeping its score within bounds took away (so they sum to it)."""
    gaps = np.asarray(round2(scores - sums), dtype=np.float64)
    head = json_head(Src.CLAMP, label)
    for i in np.flatnonzero(np.abs(gaps) >= 0.01).tolist():
        line = f'{head}","points":{float(gaps[i])!r}}}'
        lines[i] = f"{lines[i]},{line}" if lines[i] else line
    return lines


def fit_explanations(
    *,
    card: Scorecard,
    fit: engine.Fit,
    rule_matches: np.ndarray,
    free: np.ndarray,
    fake: np.ndarray,
    key_missing: np.ndarray,
    key_penalty: np.ndarray,
    score: np.ndarray,
) -> list[str]:
    """Each account's fit lines: the fit rules it matched, its data-quality penalties, and what keeping the score
    within bounds took away (``score``: its fit, rounded)."""
    s = card.settings
    n = len(score)
    key_fields = list(s.key_fields or [])
    fit_heads = [json_head(Src.FIT_RULE, rule.label) for rule in card.fit_rules]
    with_points = np.array([bool(rule.points) for rule in card.fit_rules], dtype=bool).reshape(-1, 1)
    fit_mask = [(rule_matches & with_points).T]
    fit_points = [fit.rule_points.T]
    fit_counts = [np.zeros((n, len(card.fit_rules)), dtype=np.int64)]
    fit_tails = [""] * len(card.fit_rules)
    for k, (count, penalty, text) in enumerate(
        [
            (free, s.free_email_penalty, " contact(s) with a free email address"),
            (fake, s.no_vowel_name_penalty, " contact(s) with a name without vowels"),
        ]
    ):
        fit_heads.append(json_head(Src.PENALTY, ""))
        fit_tails.append(json_text(text))
        fit_mask.append(((count > 0) & bool(penalty)).reshape(n, 1))
        fit_points.append(fit.penalty_points[k].reshape(n, 1))
        fit_counts.append(np.asarray(count, dtype=np.int64).reshape(n, 1))
    for k, name in enumerate(key_fields):
        fit_heads.append(json_head(Src.PENALTY, f"Missing {name}"))
        fit_tails.append("")
        fit_mask.append((key_missing[k] & bool(key_penalty[k, 0])).reshape(n, 1))
        fit_points.append(fit.penalty_points[2 + k].reshape(n, 1))
        fit_counts.append(np.zeros((n, 1), dtype=np.int64))
    counted = [False] * len(card.fit_rules) + [True, True] + [False] * len(key_fields)  # "2 contact(s) with …"
    fit_lines, fit_sums = explanation_lines(
        np.hstack(fit_mask).reshape(n, -1), np.hstack(fit_points).reshape(n, -1), fit_heads,
        middles=np.hstack(fit_counts).reshape(n, -1), counted=counted, tails=fit_tails,
    )  # fmt: skip
    return clamp_lines(fit_lines, fit_sums, score, "Fit is kept within 0–100")


def type_heads(card: Scorecard) -> list[str]:
    """The start of each signal type's line. Types on the default weight say so ("Other activity: Feature used ×
    12"), so a CS person sees where points come from and an admin which types deserve a rule of their own."""
    return [json_head(Src.DEFAULT_WEIGHT, f"Other activity: {t}") if d else json_head(Src.ENGAGEMENT_RULE, t)
            for t, d in zip(card.type_labels, card.rules.defaulted.tolist(), strict=True)]  # fmt: skip


def engagement_explanations(
    *, card: Scorecard, engagement: engine.Engagement, type_counts: np.ndarray, heads: list[str], score: np.ndarray
) -> list[str]:
    """Each account's engagement lines: points by signal type with the signals counted ("Demo request × 3", capped
    or not), and what keeping the score within bounds took away (``score``: its engagement, rounded)."""
    caps = card.rules.cap
    capped = np.isfinite(caps)[np.newaxis, :] & (np.abs(engagement.by_type) >= np.where(np.isfinite(caps), caps, 0))
    eng_lines, eng_sums = explanation_lines(
        np.abs(engagement.by_type) >= 0.005, engagement.by_type, [f"{h} × " for h in heads], middles=type_counts,
        tails=[json_text(f" (capped at {c:g})") for c in caps.tolist()], tailed=capped,
    )  # fmt: skip
    return clamp_lines(eng_lines, eng_sums, score, "Engagement is kept within 0–100")


def strength_explanations(
    *, card: Scorecard, strength: engine.SignalStrength, heads: list[str], score: np.ndarray
) -> list[str]:
    """Each account's signal strength lines: points by signal type, then segment boosts by type (``score``: its
    signal strength, rounded)."""
    n = len(score)
    str_lines, str_sums = explanation_lines(
        np.hstack([np.abs(strength.by_type) >= 0.005, np.abs(strength.boost_by_type) >= 0.005]).reshape(n, -1),
        np.hstack([strength.by_type, strength.boost_by_type]).reshape(n, -1),
        heads + [json_head(Src.BOOST, f"{t}: segment boost") for t in card.type_labels],
    )  # fmt: skip
    return clamp_lines(str_lines, str_sums, score, "Signal strength is never below 0")


def lead_explanations(*, fit_score: np.ndarray, engagement_score: np.ndarray, score: np.ndarray) -> list[str]:
    """Each account's lead lines: its fit and its engagement, and what keeping the lead within bounds took away."""
    lead_fit, lead_eng = json_head(Src.SCORE, "Fit"), json_head(Src.SCORE, "Engagement")
    lead_lines = [
        f'{lead_fit}","points":{f!r}}},{lead_eng}","points":{e!r}}}'
        for f, e in zip(fit_score.tolist(), engagement_score.tolist(), strict=True)
    ]
    return clamp_lines(lead_lines, fit_score + engagement_score, score, "Lead score is kept within 0–100")


def contributions_json(
    fit: Sequence[str], engagement: Sequence[str], lead: Sequence[str], strength: Sequence[str]
) -> list[str]:
    """Each account's ``AccountScore.contributions`` as JSON text, from its lines of each score."""
    return [
        f'{{"fit":[{a}],"engagement":[{b}],"lead":[{c}],"signal_strength":[{d}]}}'
        for a, b, c, d in zip(fit, engagement, lead, strength, strict=True)
    ]
