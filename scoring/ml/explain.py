"""Why a probability is what it is: reasons per account, and the impact of each signal and measure per model.

Both use the same question, so they agree with each other and work for any model family: *how would the
probability change if this part of the account's picture were typical?* A part is a group of columns (a signal
type's counts in every window and its trend; a topic; a measure; the stage; the industry; a rule). Its effect on an
account is p(account) − p(account with that group set to the typical values of the training examples); the impact of
a group on a model is the mean absolute effect over validation accounts, with the direction it mostly pushes.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from .features import Column, FeatureSpace
from .training import (
    ML_THREADS,
    BlendModel,
    CalibratedModel,
    Model,
    _logit,
    missing_as_minus_one,
    signed_log1p,
    take_columns,
    threads_for,
)
from .traits import trait_label

IRRELEVANT_IMPACT = 0.002  # a mean effect under 0.2 percentage points: the signal no longer matters to the model
MIN_REASON_EFFECT = 0.005


def group_of(column: Column) -> str:
    if column.kind in ("signal_count", "signal_trend"):
        return f"type:{column.key}"
    if column.kind in ("trait_number", "trait_band", "trait_category"):
        return f"trait:{column.key}"
    if column.kind == "category":
        return column.name.split(":", 1)[0]
    if column.kind == "stage":
        return "stage"
    return column.name


def groups(space: FeatureSpace) -> OrderedDict[str, list[int]]:
    """Column indexes of each group, in column order."""
    out: OrderedDict[str, list[int]] = OrderedDict()
    for i, c in enumerate(space.columns):
        out.setdefault(group_of(c), []).append(i)
    return out


def group_label(space: FeatureSpace, name: str) -> str:
    """A group's name in product words (for the impact chart)."""
    cols = [space.columns[i] for i in groups(space)[name]]
    first = cols[0]
    if name.startswith("type:"):
        return f"{first.label} (signals)"
    if name == "stage":
        return "Journey stage"
    if name in ("industry", "country"):
        return name.capitalize()
    if name.startswith("trait:"):
        return trait_label(first.key)
    return first.label


def describe_group(space: FeatureSpace, name: str, cols: list[int], values: np.ndarray) -> str:
    """An account's values of a group in product words."""
    columns = [space.columns[i] for i in cols]
    if name.startswith("type:"):
        counts = {c.window_days: values[j] for j, c in enumerate(columns) if c.kind == "signal_count"}
        label = columns[0].label
        if counts.get(90, 0) == 0:
            return f"{label}: none in 90 days"
        parts = [f"{int(counts[w])} in {w} days" for w in (7, 30, 90) if w in counts and (counts[w] or w == 7)]
        return f"{label}: {', '.join(parts[:2])}"
    if name.startswith("trait:") and columns[0].kind == "trait_category":
        on = [c for j, c in enumerate(columns) if values[j] >= 0.5]
        return on[0].label if on else f"{trait_label(columns[0].key)} unknown"
    if name == "stage" or name in ("industry", "country"):
        on = [c for j, c in enumerate(columns) if values[j] >= 0.5]
        if not on:
            return {"stage": "Stage unknown", "industry": "Industry: other", "country": "Country: other"}[name]
        return on[0].label
    return columns[0].describe(float(values[0]))


def _effects(model: Model, x: np.ndarray, baseline: np.ndarray, space: FeatureSpace, names: list[str]):
    """Each account's probability and, per group, p(account) − p(account with the group typical)."""
    if isinstance(model, BlendModel):  # a blend is the mean of its members' probabilities: so are its effects
        parts = [_effects(m, x, baseline, space, names) for m in model.members]
        return np.mean([p for p, _ in parts], axis=0), np.mean([e for _, e in parts], axis=0)
    gmap = groups(space)
    fast = _fast_raw(model, x, baseline) if len(x) else None
    if fast is None:  # any model: predict every variant in full
        base_p = model.predict(x)
        out = np.zeros((len(x), len(names)))
        for j, name in enumerate(names):
            typical = x.copy()
            typical[:, gmap[name]] = baseline[gmap[name]]
            out[:, j] = base_p - model.predict(typical)
        return base_p, out
    # Known families, the same numbers for less work: only the rows whose group is not typical already are
    # predicted again, and of a boosted model only the trees that split on the group's columns.
    raw, again = fast
    base_p = _calibrated(model, raw)
    out = np.zeros((len(x), len(names)))
    for j, name in enumerate(names):
        cols = gmap[name]
        rows = np.flatnonzero((x[:, cols] != baseline[cols]).any(axis=1))
        if not len(rows):
            continue
        typical = x[rows]
        typical[:, cols] = baseline[cols]
        out[rows, j] = base_p[rows] - _calibrated(model, raw[rows] + again(rows, typical, cols))
    return base_p, out


def _calibrated(model: CalibratedModel, raw: np.ndarray) -> np.ndarray:
    """``model.predict`` from the fitted estimator's raw output (the log-odds its predict_proba takes the sigmoid
    of)."""
    p = 1.0 / (1.0 + np.exp(-raw))
    return 1.0 / (1.0 + np.exp(-(model.a * _logit(p) + model.b)))


def _fast_raw(model: CalibratedModel, x: np.ndarray, baseline: np.ndarray):
    """The raw output of a logistic regression or gradient-boosted pipeline, and a function giving how it changes
    for some rows set to other values in some columns; None for anything else (or if the shortcut does not
    reproduce scikit-learn's own output on these rows, e.g. after a change of scikit-learn's internals)."""
    pipeline = getattr(model, "model", None)
    steps = getattr(pipeline, "steps", None)
    if pipeline is None or not steps:
        return None
    pre, est = pipeline[:-1], steps[-1][1]
    with threads_for(len(x)):
        z = np.ascontiguousarray(pre.transform(x), dtype=np.float64)
        # the typical account once through the preprocessing (column by column: any group's columns are taken there)
        zb = np.asarray(pre.transform(np.asarray(baseline, dtype=x.dtype)[None, :]), dtype=np.float64)[0]
        if isinstance(est, LogisticRegression) and est.coef_.shape[0] == 1:
            raw = est.decision_function(z)
            outputs = _columnwise_outputs(pre, x.shape[1])
            coef = est.coef_[0]

            def again(rows: np.ndarray, typical: np.ndarray, cols: list[int]) -> np.ndarray:
                if outputs is None:
                    return est.decision_function(np.asarray(pre.transform(typical), dtype=np.float64)) - raw[rows]
                # Each input column goes to its own output columns: only the group's change the decision.
                out = [o for c in cols for o in outputs[c]]
                return (zb[out] - z[np.ix_(rows, np.asarray(out, dtype=np.intp))]) @ coef[out]

        elif isinstance(est, HistGradientBoostingClassifier) and z.shape[1] == x.shape[1]:
            trees = _trees(est)
            elementwise = all(isinstance(s, FunctionTransformer) and s.func in ELEMENTWISE for _, s in steps[:-1])
            if trees is None or not elementwise:
                return None  # only elementwise preprocessing keeps a column where the trees expect it
            predict, used = trees
            per_tree = np.stack([predict(t, z) for t in range(len(used))], axis=1)
            raw = per_tree.sum(axis=1) + float(np.ravel(est._baseline_prediction)[0])

            def again(rows: np.ndarray, typical: np.ndarray, cols: list[int]) -> np.ndarray:
                # elementwise preprocessing: the rows' own transformed values, the group's set typical
                zt = z[rows]
                zt[:, cols] = zb[cols]
                affected = [t for t, u in enumerate(used) if u.intersection(cols)]
                if not affected:
                    return np.zeros(len(rows))
                return sum(predict(t, zt) - per_tree[rows, t] for t in affected)

        else:
            return None
        check = slice(0, min(len(x), 64))
        if not np.allclose(1.0 / (1.0 + np.exp(-raw[check])), est.predict_proba(z[check])[:, 1], rtol=0, atol=1e-12):
            return None
    return raw, again


ELEMENTWISE = (signed_log1p, missing_as_minus_one)


def _columnwise_outputs(pre: Any, n: int) -> list[list[int]] | None:
    """Which output columns of the preprocessing each input column becomes, when every step works column by column
    (the elementwise functions above, a selection of columns, scaling, imputing with indicators appended at the
    end); None otherwise."""
    outputs = [[c] for c in range(n)]
    width = n
    for _, step in pre.steps:
        if isinstance(step, FunctionTransformer) and step.func in ELEMENTWISE or isinstance(step, StandardScaler):
            continue
        if isinstance(step, FunctionTransformer) and step.func is take_columns:
            taken = list((step.kw_args or {}).get("columns", []))
            position: dict[int, list[int]] = {c: [] for c in range(width)}
            for k, c in enumerate(taken):
                position[c].append(k)
            outputs = [[k for o in outs for k in position[o]] for outs in outputs]
            width = len(taken)
            continue
        if isinstance(step, SimpleImputer) and step.keep_empty_features:
            indicator = step.indicator_
            if indicator is not None:
                owner = {o: c for c, outs in enumerate(outputs) for o in outs}
                for k, o in enumerate(indicator.features_):
                    outputs[owner[int(o)]].append(width + k)
                width += len(indicator.features_)
            continue
        return None
    return outputs


def _trees(est: HistGradientBoostingClassifier):
    """A function predicting one tree's output, and the columns each tree splits on (binary classification, no
    categorical features); None where the fitted model is not laid out as this scikit-learn version lays it out."""
    try:
        predictors = [it[0] for it in est._predictors]
        if any(len(it) != 1 for it in est._predictors) or est.is_categorical_ is not None:
            return None
        bitsets, f_idx_map = est._bin_mapper.make_known_categories_bitsets()
        used = [set(p.nodes["feature_idx"][p.nodes["is_leaf"] == 0].tolist()) for p in predictors]
    except (AttributeError, TypeError, ValueError, IndexError):
        return None

    def predict(t: int, z: np.ndarray) -> np.ndarray:
        return predictors[t].predict(z, bitsets, f_idx_map, ML_THREADS)

    return predict, used


def impact(
    model: Model,
    x: np.ndarray,
    baseline: np.ndarray,
    space: FeatureSpace,
    *,
    sample: int = 2000,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """The impact of every group on a model over (a sample of) validation examples, largest first:
    ``{group, label, impact (mean |effect|), direction (raises/lowers/mixed)}``."""
    if len(x) > sample:
        x = x[np.random.default_rng(seed).choice(len(x), sample, replace=False)]
    names = list(groups(space))
    if not len(x):
        return [{"group": n, "label": group_label(space, n), "impact": 0.0, "direction": "mixed"} for n in names]
    _, eff = _effects(model, x, baseline, space, names)
    out: list[dict[str, Any]] = []
    for j, name in enumerate(names):
        e = eff[:, j]
        mean_abs = float(np.abs(e).mean())
        up, down = float(e[e > 0].sum()), float(-e[e < 0].sum())
        direction = "raises" if up > 2 * down else "lowers" if down > 2 * up else "mixed"
        out.append({"group": name, "label": group_label(space, name), "impact": round(mean_abs, 5),
                    "direction": direction})  # fmt: skip
    out.sort(key=lambda r: -r["impact"])
    return out


def impact_change(current: list[dict[str, Any]], previous: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Each group's impact beside the previous version's: the change, and ``irrelevant`` when it fell below
    :data:`IRRELEVANT_IMPACT` (``became_irrelevant`` when it mattered before)."""
    before = {r["group"]: r for r in previous or []}
    out = []
    for r in current:
        prev = before.get(r["group"])
        was = prev["impact"] if prev else None
        irrelevant = r["impact"] < IRRELEVANT_IMPACT
        out.append({
            **r,
            "previous": was,
            "change": None if was is None else round(r["impact"] - was, 5),
            "irrelevant": irrelevant,
            "became_irrelevant": bool(irrelevant and was is not None and was >= IRRELEVANT_IMPACT),
        })  # fmt: skip
    return out


def reasons(
    model: Model,
    x: np.ndarray,
    baseline: np.ndarray,
    space: FeatureSpace,
    top_groups: list[str],
    *,
    per_side: int = 3,
) -> tuple[np.ndarray, list[dict[str, list[dict[str, Any]]]]]:
    """Probabilities and, per account, the top contributors up and down among ``top_groups`` (the model's most
    impactful groups, which keeps this fast): ``{"up": [{text, effect}], "down": [...]}``; effect in probability."""
    gmap = groups(space)
    names = [g for g in top_groups if g in gmap]
    p, eff = _effects(model, x, baseline, space, names)
    order = np.argsort(-eff, axis=1, kind="stable")
    ups, downs = order[:, :per_side], order[:, ::-1][:, :per_side]
    up_ok = np.take_along_axis(eff, ups, axis=1) >= MIN_REASON_EFFECT
    down_ok = np.take_along_axis(eff, downs, axis=1) <= -MIN_REASON_EFFECT
    # The strongest first, each side stopping at its first effect too small to tell. Texts are made a group at a
    # time from plain numbers (no NumPy scalar per reason).
    rows, slots = np.nonzero(np.concatenate([up_ok, down_ok], axis=1))
    groups_of = np.concatenate([ups, downs], axis=1)[rows, slots]
    text: dict[tuple[int, int], str] = {}
    for j in np.unique(groups_of).tolist():
        cols = gmap[names[j]]
        which = rows[groups_of == j]
        for i, values in zip(which.tolist(), x[np.ix_(which, cols)].tolist(), strict=True):
            text[i, j] = describe_group(space, names[j], cols, values)
    effect = np.round(eff, 4).tolist()
    out: list[dict[str, list[dict[str, Any]]]] = [{"up": [], "down": []} for _ in range(len(x))]
    for i, slot, j in zip(rows.tolist(), slots.tolist(), groups_of.tolist(), strict=True):
        out[i]["up" if slot < per_side else "down"].append({"text": text[i, j], "effect": effect[i][j]})
    return p, out
