"""manage.py train_models [--outcome O ...] [--no-rescore]: train new predictive model versions, with a progress bar."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from tqdm import tqdm

from scoring import predictions
from scoring.ml.history import OUTCOMES


class Command(BaseCommand):
    help = (
        "Train a new model version of each outcome (conversion, expansion, churn) from the stage movements in the "
        "database, store its metrics, activate it per the prediction settings, refresh smart-signal proposals, "
        "then queue a rescore of every account with the active models."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--outcome", action="append", choices=OUTCOMES, help="Only this outcome (repeatable).")
        parser.add_argument("--no-rescore", action="store_true", help="Do not rescore every account afterwards.")

    def handle(self, *args: Any, **options: Any) -> None:
        quiet = options["verbosity"] == 0
        with tqdm(total=0, unit="cut-off", disable=quiet, file=self.stderr, desc="examples") as bar:

            def total(n: int) -> None:
                bar.total = n
                bar.refresh()

            report = predictions.models_train(
                outcomes=tuple(options["outcome"] or OUTCOMES),
                progress=bar.update,
                on_cutoffs=total,
                rescore=not options["no_rescore"],
            )
        for outcome, model in report.trained.items():
            m = model.metrics
            state = "activated" if outcome in report.activated else "stored, not activated (the active one is better)"
            if outcome in report.refused:
                state = f"stored, REFUSED. {report.refused[outcome]}"
            self.stdout.write(
                f"{outcome}: v{model.version} {model.family}, validation ROC AUC {m['roc_auc']}, PR AUC {m['pr_auc']}, "
                f"Brier {m['brier']}, base rate {m['base_rate']} ({m['positives']} positives) — {state}."
            )
        for outcome, why in report.skipped.items():
            self.stdout.write(f"{outcome}: skipped. {why}")
        self.stdout.write(f"{report.proposals} new smart-signal proposals; {report.seconds:.1f} s.")
        if report.activated and not options["no_rescore"]:
            self.stdout.write("A full rescore with the active models was queued (run now when tasks are eager).")
