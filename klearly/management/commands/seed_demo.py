"""python manage.py seed_demo [--accounts N] [--seed S] [--reset]"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from klearly.demo import DEMO_SOURCE_NAME, SEGMENT_SOURCE_NAME, DemoReport, demo_world_build
from playbooks.models import Task
from scoring.predictions import models_train
from scoring.services import accounts_rescore_all, score_history_backfill


class Command(BaseCommand):
    help = (
        "Build a demo B2B SaaS world: accounts, contacts, about nine months of signals, stage movements that "
        "follow from behaviour, segments, and demo logins. Rerunning adds nothing; --reset rebuilds it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=int, default=300, help="Number of accounts (default 300).")
        parser.add_argument("--seed", type=int, default=42, help="Random seed; the same seed builds the same world.")
        parser.add_argument("--reset", action="store_true", help="Delete the demo world first, then build it again.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args: Any, accounts: int, seed: int, reset: bool, no_progress: bool, **options: Any) -> None:
        if accounts < 1:
            raise CommandError("--accounts must be at least 1")
        bar: tqdm | None = None

        def on_step(message: str) -> None:
            self.stdout.write(f"· {message}")

        def on_signals(done: int, total: int) -> None:
            nonlocal bar
            if bar is None:
                bar = tqdm(total=total, unit="signal", unit_scale=True, disable=no_progress, desc="signals")
            bar.update(done - bar.n)

        # One transaction: the rescores the build's writes request (and the playbooks they run) wait for its end, so
        # the demo is scored once, with its engagement rules and its trained models, and its tasks carry the
        # probabilities and reasons (scored before training, health came from the engagement trend alone).
        try:
            with transaction.atomic():
                report = demo_world_build(
                    accounts=accounts, seed=seed, reset=reset, on_step=on_step, on_signals=on_signals
                )
                if report.created:
                    self._train_and_score(on_step)
        finally:
            if bar is not None:
                bar.close()
        if report.created:
            # The score changes ran the shipped playbooks (on the worker, or at commit in eager mode): the inbox has
            # tasks.
            on_step(f"playbooks opened {Task.objects.filter(account__external_id__startswith='demo-').count():,} tasks")
        self._print(report)

    def _train_and_score(self, on_step: Any) -> None:
        """Models, six months of history and today's scores of the world just built."""
        # Predictive models learnt from the demo's nine months of stage movements, so the rescore below gives
        # every account its conversion / expansion / churn probability, reasons and health.
        on_step("training predictive models from the stage movements")
        trained = models_train(rescore=False)
        on_step(", ".join(f"{o} v{m.version} ({m.family}, ROC AUC {m.metrics['roc_auc']})"
                          for o, m in trained.trained.items()) or "no model: too little history")  # fmt: skip
        # Six months of score history (every two weeks, the scores as they were then), so the account pages'
        # charts show a trend from the first visit, not a single point.
        on_step("score history of the last six months (every two weeks)")
        now = timezone.now()
        rows = score_history_backfill(moments=[now - timedelta(days=d) for d in range(182, 0, -14)])
        on_step(f"{rows:,} history points")
        # Scores, measures and explanations for every account, so the demo opens with numbers to read.
        on_step("scoring every account")
        stats = accounts_rescore_all()
        on_step(f"scored {stats.accounts:,} accounts")

    def _print(self, report: DemoReport) -> None:
        if report.created:
            self.stdout.write(self.style.SUCCESS(f"Demo world built in {report.seconds:.1f} s."))
        else:
            self.stdout.write(
                self.style.WARNING(
                    f'The demo world is already there (source "{DEMO_SOURCE_NAME}"); nothing added. '
                    "Use --reset to rebuild it."
                )
            )
        self.stdout.write(f"Accounts {report.accounts:,}, contacts {report.contacts:,}, signals {report.signals:,}.")
        movements = ", ".join(f"{name} {count}" for name, count in sorted(report.movements.items()))
        self.stdout.write(f"Stage movements: {movements or 'none'}.")
        segments = ", ".join(f"{name} {count}" for name, count in report.segments.items())
        self.stdout.write(f"Segments (members): {segments or 'none'}.")
        self.stdout.write("Logins (username / password):")
        for login, created in report.logins:
            note = "" if created else "  (existed already; password left unchanged)"
            self.stdout.write(f"  {login.username:<12} / {login.password:<14} {login.role}{note}")
        if report.write_key:
            self.stdout.write(f'Write key for "{SEGMENT_SOURCE_NAME}" (shown once): {report.write_key}')
        elif report.write_key_prefix:
            self.stdout.write(
                f'Write key for "{SEGMENT_SOURCE_NAME}": {report.write_key_prefix}… (created earlier; '
                "make a new one in the admin, or rerun with --reset)"
            )
