"""Training: a time-based split, model families compared, calibrated probabilities, metrics and charts' data.

The labelled cut-offs are cut by time into three blocks (never at random): *fit* (the earliest 60%), *calibrate*
(the next 20%) and *validate* (the latest 20%). Examples whose horizon reaches into the next block are dropped from
the earlier one (purged), so no label of a training example was decided inside the period it is judged on.

Each family (a regularised logistic regression over log-scaled, standardised features; a histogram gradient-boosted
tree ensemble; the *compact* model, the same logistic regression over the measure, score and fit-field columns only,
``FeatureSpace.compact()``: steadier where movements are few or behaviour says little) is fitted on *fit*, calibrated
with Platt scaling on *calibrate* and scored on *validate*, and so is their blend (the mean of their calibrated
probabilities); the candidate with the higher PR AUC on *validate* is
kept (PR AUC: outcomes are rare, and it rewards finding them near the top).
The metrics shown for a model are those validation figures. The stored model is then the kept family fitted on
every example, with the Platt scaling a model fitted on *fit* + *calibrate* learnt on *validate*: it has learnt from
the most recent movements too, and its calibration from data its twin had not seen.
"""

from __future__ import annotations

import os
import pickle
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from threadpoolctl import threadpool_limits

from .history import DAY
from .labels import Examples

FAMILIES = ("logistic", "gradient_boosting", "compact")
SPLIT = (0.6, 0.2, 0.2)
MIN_BLOCK_POSITIVES = 2  # fewer positives in a block and its figures (or its calibration) mean nothing
# The leakage guard: behaviour never tells the future this well. A model validating at this ROC AUC, or one column
# ranking the classes this well on its own, learnt something written after the outcome (a field filled in when the
# lead converted, a movement the import made up): it is refused, not activated.
# Imported fields are kept when, on validation examples of accounts the model had not seen, the PR AUC with them
# beats the PR AUC without them by this much (less is noise: on RavenStack, 0.548 against 0.541, and the fields
# then cost 0.2 of ROC AUC on the held-out test)
FIELDS_MARGIN = 0.02
FIELDS_RESAMPLINGS = 100
LEAKAGE_AUC = 0.99
LEAKAGE_MIN_ACCOUNTS = 5  # fewer accounts made the movement and one column can single them out by chance
LEAKAGE_SAMPLE = 20_000  # examples the single-column check reads at most (all positives first)


def signed_log1p(x: np.ndarray) -> np.ndarray:
    """log(1 + |x|) with x's sign: counts spread over orders of magnitude, so a linear model sees ratios."""
    return np.sign(x) * np.log1p(np.abs(x))


def missing_as_minus_one(x: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(x), -1.0, x)


def take_columns(x: np.ndarray, columns: list[int]) -> np.ndarray:
    return x[:, columns]


def family_build(name: str, *, seed: int = 0, compact: list[int] | None = None) -> Pipeline:
    """An unfitted model of a family (``compact``: the columns the compact model reads)."""
    if name == "compact":
        return make_pipeline(
            FunctionTransformer(take_columns, kw_args={"columns": list(compact or [])}),
            FunctionTransformer(signed_log1p),
            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            StandardScaler(),
            LogisticRegression(C=0.3, max_iter=500),
        )
    if name == "logistic":
        return make_pipeline(
            FunctionTransformer(signed_log1p),
            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            StandardScaler(),
            LogisticRegression(C=0.3, max_iter=500),
        )
    if name == "gradient_boosting":
        # No early stopping: it would hold out a random tenth of the rows, and validation here is by time only.
        # Missing values (unknown size, revenue, stage age) become -1, a value no such feature has: the trees can
        # still tell "unknown" apart, and a column missing everywhere does not break the binning.
        return make_pipeline(
            FunctionTransformer(missing_as_minus_one),
            HistGradientBoostingClassifier(
                max_iter=120, learning_rate=0.06, max_leaf_nodes=15, min_samples_leaf=40, l2_regularization=1.0,
                max_features=0.5, early_stopping=False, random_state=seed,
            ),
        )  # fmt: skip
    raise ValueError(f"unknown model family {name!r}")


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


@dataclass
class CalibratedModel:
    """A fitted model and the Platt scaling (a · logit(p) + b) learnt on later data."""

    family: str
    model: Any
    a: float = 1.0
    b: float = 0.0

    def raw(self, x: np.ndarray) -> np.ndarray:
        with threads_for(len(x)):
            return self.model.predict_proba(x)[:, 1]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Calibrated probabilities."""
        if not len(x):
            return np.zeros(0)
        return 1.0 / (1.0 + np.exp(-(self.a * _logit(self.raw(x)) + self.b)))

    def calibrate(self, x: np.ndarray, y: np.ndarray) -> None:
        """Learn a and b from examples the model was not fitted on (kept as is without both classes)."""
        if len(np.unique(y)) < 2:
            return
        platt = LogisticRegression(C=1.0, max_iter=200).fit(_logit(self.raw(x))[:, None], y)
        self.a, self.b = float(platt.coef_[0, 0]), float(platt.intercept_[0])

    def to_bytes(self) -> bytes:
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def from_bytes(data: bytes) -> CalibratedModel | BlendModel:
        # Only bytes this code stored itself are loaded (PredictiveModel.model_bytes), never uploaded files.
        return pickle.loads(data)


# OpenMP threads wait for each other by spinning: on a machine whose cores are busy with the web server, workers and
# the database, two threads made gradient boosting 15 times slower than one (21.8 s against 1.3 s for 50,000 rows).
# One thread by default; a dedicated machine may set KLEARLY_ML_THREADS to its cores.
ML_THREADS = max(1, int(os.environ.get("KLEARLY_ML_THREADS", "1") or 1))


def threads_for(rows: int) -> threadpool_limits:
    """Limit the native thread pools (OpenMP, BLAS) while fitting or predicting."""
    return threadpool_limits(limits=ML_THREADS)


@dataclass
class BlendModel:
    """The mean of several calibrated models' probabilities (each calibrated on its own)."""

    members: list[CalibratedModel]
    family: str = "blend"

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.mean([m.predict(x) for m in self.members], axis=0) if len(x) else np.zeros(0)

    def to_bytes(self) -> bytes:
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)


# A trained model: one calibrated family or the blend of several.
Model = CalibratedModel | BlendModel


def fit(
    family: str, x: np.ndarray, y: np.ndarray, *, seed: int = 0, compact: list[int] | None = None
) -> CalibratedModel:
    model = family_build(family, seed=seed, compact=compact)
    with threads_for(len(x)):
        model.fit(x, y)
    return CalibratedModel(family, model)


# --- metrics -----------------------------------------------------------------------------------------------------


def metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float | int | None]:
    """ROC AUC, PR AUC, Brier score, base rate, positives and negatives (AUCs None with one class only)."""
    y = np.asarray(y).astype(int)
    both = len(np.unique(y)) == 2
    return {
        "roc_auc": round(float(roc_auc_score(y, p)), 4) if both else None,
        "pr_auc": round(float(average_precision_score(y, p)), 4) if both else None,
        "brier": round(float(brier_score_loss(y, p)), 5) if len(y) else None,
        "base_rate": round(float(y.mean()), 5) if len(y) else None,
        "positives": int(y.sum()),
        "negatives": int(len(y) - y.sum()),
    }


def calibration_bins(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Predicted against observed rate in equal-count bins of the predictions (the calibration plot)."""
    if not len(y):
        return []
    order = np.argsort(p, kind="stable")
    out = []
    for part in np.array_split(order, min(bins, len(order))):
        if len(part):
            out.append({"predicted": round(float(p[part].mean()), 4), "observed": round(float(y[part].mean()), 4),
                        "n": int(len(part))})  # fmt: skip
    return out


def lift_table(y: np.ndarray, p: np.ndarray, groups: int = 10) -> list[dict[str, float]]:
    """Accounts ranked by probability, in tenths: each tenth's rate against the base rate, and the share of all
    positives found down to it (the lift chart)."""
    if not len(y) or not y.sum():
        return []
    order = np.argsort(-p, kind="stable")
    base, total = float(y.mean()), float(y.sum())
    out, found = [], 0.0
    for i, part in enumerate(np.array_split(order, min(groups, len(order)))):
        found += float(y[part].sum())
        rate = float(y[part].mean()) if len(part) else 0.0
        out.append({"decile": i + 1, "rate": round(rate, 4), "lift": round(rate / base, 3) if base else 0.0,
                    "captured": round(found / total, 4), "n": int(len(part))})  # fmt: skip
    return out


# --- the leakage guard ----------------------------------------------------------------------------------------------


def single_column_auc(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each column's ROC AUC as a score on its own, either way round (max(AUC, 1 − AUC); 0.5 for a constant column).
    A missing value ranks lowest."""
    from scipy.stats import rankdata

    y = np.asarray(y).astype(bool)
    pos, neg = int(y.sum()), int((~y).sum())
    if not pos or not neg or not x.shape[1]:
        return np.full(x.shape[1], 0.5)
    z = np.where(np.isnan(x), -np.inf, x.astype(np.float64))
    ranks = rankdata(z, axis=0)  # ties get their mean rank: a constant column is 0.5
    auc = (ranks[y].sum(axis=0) - pos * (pos + 1) / 2.0) / (pos * neg)
    return np.maximum(auc, 1.0 - auc)


def single_column_split(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Columns with a threshold that makes no error: every positive above every negative, or below."""
    y = np.asarray(y).astype(bool)
    if y.all() or not y.any():
        return np.zeros(x.shape[1], bool)
    z = np.where(np.isnan(x), -np.inf, x.astype(np.float64))
    p, q = z[y], z[~y]
    return (p.min(axis=0) > q.max(axis=0)) | (p.max(axis=0) < q.min(axis=0))


def _sample(y: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """Rows for the check: every positive (up to half the limit), negatives at random for the rest."""
    if len(y) <= limit:
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y.astype(bool))
    pos = rng.choice(pos, min(len(pos), limit // 2), replace=False)
    neg = rng.choice(neg, min(len(neg), limit - len(pos)), replace=False)
    return np.sort(np.concatenate([pos, neg]))


def leakage_find(
    ex: Examples,
    validation_auc: float | None,
    *,
    labels: list[str] | None = None,
    validation_accounts: int = 0,
    seed: int = 0,
) -> tuple[str, dict[str, Any]]:
    """Why a model is probable leakage ("" when it is not), and what the check found: the strongest single column
    against the outcome in the horizon and against the outcome at any later time (``ex.ever``).

    Refused: a validation ROC AUC of :data:`LEAKAGE_AUC` or more, or one column that on its own ranks the examples
    (or the accounts that ever make the movement) that well, or splits them with a threshold and no error. Only
    judged when at least :data:`LEAKAGE_MIN_ACCOUNTS` accounts made the movement."""

    def name(j: int) -> str:
        return f"“{labels[j]}”" if labels and j < len(labels) else f"column {j}"

    found: dict[str, Any] = {}
    reasons: list[str] = []
    for target, y, what in (("horizon", ex.y, "which accounts make the movement within the horizon"),
                            ("ever", ex.ever, "which accounts ever make the movement")):  # fmt: skip
        if y is None or len(np.unique(ex.account[np.asarray(y) > 0])) < LEAKAGE_MIN_ACCOUNTS:
            continue
        rows = _sample(np.asarray(y), LEAKAGE_SAMPLE, seed)
        x, yy = ex.x[rows], np.asarray(y)[rows]
        with np.errstate(all="ignore"):
            auc = single_column_auc(x, yy)
            split = single_column_split(x, yy)
        j = int(np.argmax(auc))
        found[target] = {"column": j, "label": labels[j] if labels and j < len(labels) else str(j),
                         "roc_auc": round(float(auc[j]), 4)}  # fmt: skip
        if split.any():
            k = int(np.flatnonzero(split)[0])
            reasons.append(f"{name(k)} alone tells {what}: one threshold on it makes no error")
        elif auc[j] >= LEAKAGE_AUC:
            reasons.append(f"{name(j)} alone tells {what} (ROC AUC {auc[j]:.3f} on its own)")
    if validation_auc is not None and validation_auc >= LEAKAGE_AUC and validation_accounts >= LEAKAGE_MIN_ACCOUNTS:
        strongest = found.get("horizon")
        tail = f"; the strongest single column is “{strongest['label']}”" if strongest else ""
        reasons.append(f"the validation ROC AUC is {validation_auc:.3f} (≥ {LEAKAGE_AUC}){tail}")
    if not reasons:
        return "", found
    message = (
        "Refused as probable leakage: " + "; ".join(dict.fromkeys(reasons)) + ". Behaviour never predicts this well: "
        "something in the data was written after the outcome (a field filled in when the movement happened, such as "
        "a status, or stage history made up by an import). Remove or fix it and train again; this version is kept "
        "for inspection and cannot be activated."
    )
    return message, found


# --- the split and the comparison ----------------------------------------------------------------------------------


@dataclass
class Split:
    """Masks of the three time blocks over an outcome's examples, and their time bounds."""

    fit: np.ndarray
    calibrate: np.ndarray
    validate: np.ndarray
    bounds: dict[str, float]


def time_split(ex: Examples, *, horizon_days: int, shares: tuple[float, float, float] = SPLIT) -> Split:
    """Cut the examples' cut-offs by time into fit / calibrate / validate, purging examples whose horizon reaches
    into the next block."""
    cuts = np.unique(ex.t)
    n = len(cuts)
    if n < 3:
        raise NotEnoughHistory("fewer than three cut-offs with known outcomes")
    i_cal = max(1, min(n - 2, int(round(n * shares[0]))))
    i_val = max(i_cal + 1, min(n - 1, int(round(n * (shares[0] + shares[1])))))
    t_cal, t_val = cuts[i_cal], cuts[i_val]
    h = horizon_days * DAY
    fit_mask = ex.t + h <= t_cal
    cal_mask = (ex.t >= t_cal) & (ex.t + h <= t_val)
    val_mask = ex.t >= t_val
    if not fit_mask.any():  # horizon longer than the first block: keep the block without purging
        fit_mask = ex.t < t_cal
    if not cal_mask.any():
        cal_mask = (ex.t >= t_cal) & (ex.t < t_val)
    return Split(fit_mask, cal_mask, val_mask, {
        "fit_from": float(cuts[0]), "fit_to": float(ex.t[fit_mask].max()),
        "calibrate_from": float(t_cal), "calibrate_to": float(ex.t[cal_mask].max()),
        "validate_from": float(t_val), "validate_to": float(cuts[-1]),
    })  # fmt: skip


class NotEnoughHistory(ValueError):
    """Too few movements (or cut-offs) to learn or to judge a model; the message says what is missing."""


@dataclass
class TrainResult:
    """The kept model, its validation figures and what the comparison found."""

    model: CalibratedModel | BlendModel
    family: str
    metrics: dict[str, Any]
    comparison: dict[str, dict[str, Any]]
    calibration: list[dict[str, float]]
    lift: list[dict[str, float]]
    bounds: dict[str, float]
    baseline: np.ndarray  # per column, the value a "typical" example has (medians of the fit block)
    training: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    refused: str = ""  # why this model is probable leakage (``leakage_find``); "" when it is not
    leakage: dict[str, Any] = field(default_factory=dict)  # what the leakage check found
    columns: int = 0  # the model reads the first ``columns`` columns (all, or those before the optional ones)
    fields_note: str = ""  # whether the optional columns were kept, and why


def _surely_better(y: np.ndarray, p: np.ndarray, q: np.ndarray, accounts: np.ndarray, *, seed: int) -> bool:
    """Whether ``p`` ranks better than ``q`` (PR AUC) in at least nine of ten resamplings of the accounts (with
    replacement, each with all its examples): on a few dozen positives one ordering can win by chance."""
    ids, rows = np.unique(accounts, return_inverse=True)
    by_account = [np.flatnonzero(rows == i) for i in range(len(ids))]
    rng = np.random.default_rng(seed)
    wins = 0
    for _ in range(FIELDS_RESAMPLINGS):
        pick = np.concatenate([by_account[i] for i in rng.integers(0, len(ids), len(ids))])
        if y[pick].min() == y[pick].max():
            continue
        wins += average_precision_score(y[pick], p[pick]) > average_precision_score(y[pick], q[pick])
    return wins >= 0.9 * FIELDS_RESAMPLINGS


# The figures of each candidate, the candidates with their validation probabilities, and the best one's name.
Compared = tuple[dict[str, dict[str, Any]], dict[str, tuple[Model, np.ndarray]], str]


def _compare(
    ex: Examples, split: Split, families: tuple[str, ...], *, seed: int, compact: list[int] | None, columns: int
) -> Compared:
    """Each family (and their blend) over the first ``columns`` columns, fitted on *fit*, calibrated on *calibrate*,
    scored on *validate*: the figures, the models with their validation probabilities, the best by PR AUC."""
    x = ex.x if columns == ex.x.shape[1] else ex.x[:, :columns]
    compact = None if compact is None else [c for c in compact if c < columns]
    xf, yf = x[split.fit], ex.y[split.fit]
    xc, yc = x[split.calibrate], ex.y[split.calibrate]
    xv, yv = x[split.validate], ex.y[split.validate]
    comparison: dict[str, dict[str, Any]] = {}
    fitted: dict[str, tuple[Model, np.ndarray]] = {}
    families_fitted: dict[str, CalibratedModel] = {}
    for family in families:
        candidate = fit(family, xf, yf, seed=seed, compact=compact)
        candidate.calibrate(xc, yc)
        p = candidate.predict(xv)
        comparison[family] = metrics(yv, p)
        fitted[family] = (candidate, p)
        families_fitted[family] = candidate
    if len(families) > 1:  # the two together: often steadier than either on small or noisy data
        blend = BlendModel([families_fitted[f] for f in families])
        p = blend.predict(xv)
        comparison["blend"] = metrics(yv, p)
        fitted["blend"] = (blend, p)
    best = max(comparison, key=lambda f: (comparison[f]["pr_auc"] or 0.0, comparison[f]["roc_auc"] or 0.0))
    return comparison, fitted, best


def train_outcome(
    ex: Examples,
    *,
    horizon_days: int,
    families: tuple[str, ...] = FAMILIES,
    refit: bool = True,
    seed: int = 0,
    compact: list[int] | None = None,
    labels: list[str] | None = None,
    optional_from: int | None = None,
) -> TrainResult:
    """Compare the families on the time-based validation, keep the better one, calibrate it, and check it for
    leakage (``refused``; ``labels``: the columns' words for its message). ``optional_from``: the columns from there
    on (imported fields) are kept only when they help on accounts the model had not seen (``TrainResult.columns``:
    how many leading columns the model reads). Raises :class:`NotEnoughHistory` when a block has too few positives
    to fit or judge."""
    started = time.perf_counter()
    split = time_split(ex, horizon_days=horizon_days)
    for name, mask in (("training", split.fit), ("calibration", split.calibrate), ("validation", split.validate)):
        got = int(ex.y[mask].sum())
        if got < MIN_BLOCK_POSITIVES:
            raise NotEnoughHistory(
                f"the {name} period has {got} positive example(s); at least {MIN_BLOCK_POSITIVES} are needed"
            )
    if compact is None:  # no compact columns known: the compact model is not a candidate
        families = tuple(f for f in families if f != "compact")
    width = ex.x.shape[1]
    compared = _compare(ex, split, families, seed=seed, compact=compact, columns=width)
    fields_note = ""
    if optional_from is not None and optional_from < width:
        compared, width, fields_note = _optional_columns_judge(
            ex, split, families, compared, seed=seed, compact=compact, optional_from=optional_from
        )
        compact = [c for c in compact or [] if c < width] if compact is not None else None
    comparison, fitted, best = compared
    ex = ex if width == ex.x.shape[1] else Examples(ex.x[:, :width], ex.y, ex.t, ex.account, ex.ever)
    xf = ex.x[split.fit]
    yv = ex.y[split.validate]
    model, p_val = fitted[best]
    refused, leakage = leakage_find(
        ex, comparison[best]["roc_auc"], labels=labels, seed=seed,
        validation_accounts=len(np.unique(ex.account[split.validate & (ex.y > 0)])),
    )  # fmt: skip
    if refit:
        model = _refit(ex, split, families if best == "blend" else (best,), blend=best == "blend", seed=seed,
                       compact=compact)  # fmt: skip
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column has no median: 0 below
        baseline = np.nanmedian(np.where(np.isfinite(xf), xf, np.nan), axis=0) if len(xf) else np.zeros(ex.x.shape[1])
    baseline = np.where(np.isnan(baseline), 0.0, baseline).astype(np.float32)
    return TrainResult(
        model=model,
        family=best,
        metrics=comparison[best],
        comparison=comparison,
        calibration=calibration_bins(yv, p_val),
        lift=lift_table(yv, p_val),
        bounds=split.bounds,
        baseline=baseline,
        training={"examples": int(len(ex.y)), "positives": ex.positives, "cutoffs": int(len(np.unique(ex.t)))},
        seconds=round(time.perf_counter() - started, 2),
        refused=refused,
        leakage=leakage,
        columns=width,
        fields_note=fields_note,
    )


def _optional_columns_judge(
    ex: Examples,
    split: Split,
    families: tuple[str, ...],
    with_them: Compared,
    *,
    seed: int,
    compact: list[int] | None,
    optional_from: int,
) -> tuple[Compared, int, str]:
    """Whether the columns from ``optional_from`` on earn their place: the comparison to keep (with them, or the one
    without them), how many leading columns the model reads, and the note saying why.

    The optional columns (imported fields: one value per account, the same at every cut-off) must earn their place
    on accounts the model has not seen: a model can learn to recognise the accounts it was fitted on by them, which
    the validation of those same accounts' later cut-offs rewards and new accounts do not."""
    _, fitted, best = with_them
    base = _compare(ex, split, families, seed=seed, compact=compact, columns=optional_from)
    new = split.validate[split.validate] & ~np.isin(ex.account[split.validate], ex.account[split.fit])
    yn = ex.y[split.validate][new]
    judged = int(yn.sum()) >= MIN_BLOCK_POSITIVES and int((yn == 0).sum()) >= MIN_BLOCK_POSITIVES
    with_fields = metrics(yn, fitted[best][1][new])["pr_auc"] if judged else None
    without = metrics(yn, base[1][base[2]][1][new])["pr_auc"] if judged else None
    sure = judged and _surely_better(
        yn, fitted[best][1][new], base[1][base[2]][1][new], ex.account[split.validate][new], seed=seed
    )
    if sure and with_fields is not None and without is not None and with_fields >= without + FIELDS_MARGIN:
        note = (f"kept: on the {len(yn)} validation examples of accounts the model had not seen, PR AUC "
                f"{with_fields:.3f} with them against {without:.3f} without")  # fmt: skip
        return with_them, ex.x.shape[1], note
    if judged:
        note = (f"left out: on the {len(yn)} validation examples of accounts the model had not seen, "
                f"PR AUC {with_fields:.3f} with them against {without:.3f} without (they must add "
                f"{FIELDS_MARGIN}, in nine resamplings of those accounts out of ten)")  # fmt: skip
    else:
        counts = f"{int(yn.sum())} positive, {int((yn == 0).sum())} negative examples"
        note = ("left out: too few accounts the model had not seen in the validation period to show "
                f"they help ({counts})")  # fmt: skip
    return base, optional_from, note


def _refit(
    ex: Examples, split: Split, members_of: tuple[str, ...], *, blend: bool, seed: int, compact: list[int] | None
) -> Model:
    """The kept family (or each member of the kept blend) fitted on every example, with the Platt scaling a twin
    fitted on *fit* + *calibrate* learnt on *validate*."""
    earlier = split.fit | split.calibrate
    xv, yv = ex.x[split.validate], ex.y[split.validate]
    members = []
    for family in members_of:
        # Platt scaling learnt on the latest period by a model that had not seen it, then kept for the same
        # family fitted on every example (the most recent movements included): the held-out test of
        # bench/ml_eval.py improved on every world with it (e.g. demo churn ROC AUC 0.80 → 0.90).
        held_out = fit(family, ex.x[earlier], ex.y[earlier], seed=seed, compact=compact)
        held_out.calibrate(xv, yv)
        member = fit(family, ex.x, ex.y, seed=seed, compact=compact)
        member.a, member.b = held_out.a, held_out.b
        members.append(member)
    return BlendModel(members) if blend else members[0]
