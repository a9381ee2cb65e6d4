"""Speed of the predictive scores' pure code (``scoring.ml``) at 100,000 accounts.

    .venv/bin/python bench/ml_speed.py [--accounts 100000] [--weeks 34] [--volume 0.6] [--repeat 2]

The world is synthetic (``scoring.ml.synthetic``, not timed): arrays of the size asked for, built in memory, with
outcomes that follow behaviour. Goals (issue 5): training on 100,000 accounts with weekly cut-offs over six months
within 2 minutes; predicting for 100,000 accounts within 5 seconds.

The history carries a scorecard (engagement rules of every type, three fit rules), as ``train_models`` passes the
live one: the scorecard's scores at each cut-off are features.

- *training* = the feature space, 26 weekly cut-offs (six months), examples of the three outcomes (at most
  ``max_examples`` = 150,000 each, a uniform sample, as ``PredictionSettings`` sets by default), the comparison of the
  candidates (logistic, gradient boosting, compact, blend) with calibration and the refit, and the impact of every
  signal and measure: all ``train_models`` does besides reading the database and storing the result.
  Baseline, same run: scikit-learn's default ``LogisticRegression`` fitted once on the churn examples' matrix.
- *predicting* = features of every account now and the three active models' probabilities; and, separately, with
  the reasons (top contributors up and down) of every account.
  Baseline, same run: one ``np.bincount`` of every signal by account (the least any prediction reading the signals
  must do).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scoring.ml import explain
from scoring.ml.features import FeatureSpace, features_at
from scoring.ml.history import OUTCOMES
from scoring.ml.labels import cutoffs_weekly, eligible_at, examples_build
from scoring.ml.scores import ScorecardSpec
from scoring.ml.synthetic import synthetic_history
from scoring.ml.training import train_outcome

HORIZON = 30


def train_all(h):
    started = time.perf_counter()
    space = FeatureSpace.from_history(h)
    cuts = cutoffs_weekly(h, horizon_days=HORIZON, span_days=182)
    t_cuts = time.perf_counter()
    examples = examples_build(h, space, cuts, horizon_days=HORIZON, max_examples=150_000)
    t_examples = time.perf_counter()
    models, parts = {}, {}
    for outcome in OUTCOMES:
        t0 = time.perf_counter()
        ex = examples[outcome]
        result = train_outcome(ex, horizon_days=HORIZON, compact=space.compact())  # as train_models does
        val = ex.t >= result.bounds["validate_from"]
        impact = explain.impact(result.model, ex.x[val], result.baseline, space)
        models[outcome] = (result, impact)
        parts[outcome] = (time.perf_counter() - t0, result.family, len(ex.y), ex.positives, result.metrics["roc_auc"])
    total = time.perf_counter() - started
    return space, cuts, examples, models, total, t_examples - t_cuts, parts


def predict_all(h, space, models, *, with_reasons: bool):
    started = time.perf_counter()
    now = h.data_end + 1
    out = {}
    applies = {o: eligible_at(h, o, now, current_stage=True) for o in models}
    union = np.unique(np.concatenate(list(applies.values())))
    x_all = features_at(h, space, now, union, current_stage=True)  # once for every outcome: one feature space
    for outcome, (result, impact) in models.items():
        x = x_all[np.searchsorted(union, applies[outcome])]
        if with_reasons:
            out[outcome] = explain.reasons(result.model, x, result.baseline, space, [r["group"] for r in impact[:10]])
        else:
            out[outcome] = result.model.predict(x)
    return time.perf_counter() - started, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--weeks", type=int, default=34, help="Six months of cut-offs + the horizon + a lookback.")
    parser.add_argument("--volume", type=float, default=0.6, help="Scales signals per account and week.")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    t0 = time.perf_counter()
    h = synthetic_history(accounts=args.accounts, weeks=args.weeks, volume=args.volume, seed=1)
    # a scorecard as the live one is passed: engagement rules of every type, fit rules over the account's fields
    h.scorecard = ScorecardSpec(
        engagement={k: (5.0, 14.0, None, 30.0) for k in h.type_keys},
        fit_rules=[("industry", "in", ["Software", "Fintech"], 20.0), ("employees", "range", {"min": 50}, 25.0),
                   ("country", "equals", "DE", 5.0)],
    )  # fmt: skip
    print(f"world: {h.n:,} accounts, {len(h.ev_time):,} signals, {len(h.tr_time):,} movements "
          f"(built in {time.perf_counter() - t0:.1f} s, not timed)")  # fmt: skip
    from sklearn.linear_model import LogisticRegression

    for run in range(args.repeat):
        space, cuts, examples, models, total, t_examples, parts = train_all(h)
        ex = examples["churn"]
        b0 = time.perf_counter()
        LogisticRegression(max_iter=1000).fit(ex.x[:, :20], ex.y)
        baseline = time.perf_counter() - b0
        print(f"[run {run + 1}] training: {total:.1f} s for {len(cuts)} weekly cut-offs "
              f"(examples {t_examples:.1f} s; goal 120 s) — baseline: default LogisticRegression on the churn "
              f"examples {baseline:.1f} s")  # fmt: skip
        for outcome, (secs, family, n, pos, auc) in parts.items():
            print(f"    {outcome}: {secs:.1f} s, {n:,} examples ({pos:,} positive), kept {family}, ROC AUC {auc}")
        b0 = time.perf_counter()
        np.bincount(h.ev_account, minlength=h.n)
        floor = time.perf_counter() - b0
        secs, preds = predict_all(h, space, models, with_reasons=False)
        scored = sum(len(p) for p in preds.values())
        print(f"[run {run + 1}] predicting: {secs:.2f} s for {h.n:,} accounts ({scored:,} account-outcomes; goal 5 s) "
              f"— baseline: one bincount of the signals by account {floor:.2f} s")  # fmt: skip
        secs, _ = predict_all(h, space, models, with_reasons=True)
        print(f"[run {run + 1}] predicting with reasons: {secs:.2f} s")


if __name__ == "__main__":
    main()
