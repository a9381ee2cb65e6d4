"""manage.py predict --at DATE [--format csv|json] [--output FILE] [--horizon DAYS]: each account's probabilities
from what was known at a past date, beside what happened after it (``scoring.predictions.past``)."""

from __future__ import annotations

import contextlib
import csv
import json
import sys
from datetime import UTC, datetime, time
from io import TextIOBase
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from scoring.predictions import account_probabilities_at


def _moment(text: str) -> datetime:
    """A date (its midnight, UTC) or an ISO-8601 date and time (UTC when no zone is given)."""
    try:
        value = parse_datetime(text)
        day = parse_date(text) if value is None else None
    except ValueError:
        value = day = None
    if value is None and day is None:
        raise CommandError(f"--at: {text!r} is not a date (YYYY-MM-DD) or an ISO-8601 date and time")
    if value is None:
        assert day is not None  # one of them was parsed
        value = datetime.combine(day, time.min)
    return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = (
        "Print each account's conversion, expansion and churn probability as the active models give it from what "
        "was known at a past date, with whether the account made the movement within the horizon after it, and "
        "ROC AUC, PR AUC and Brier score per outcome: judge the models on your own past."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--at", required=True, help="The past date (YYYY-MM-DD, or an ISO-8601 date and time).")
        parser.add_argument("--format", choices=("csv", "json"), default="csv")
        parser.add_argument("--output", help="Write to this file instead of the standard output.")
        parser.add_argument("--horizon", type=int, default=None, help="Days after the date (default: the settings').")

    def handle(self, *args: Any, **options: Any) -> None:
        at = _moment(options["at"])
        now = timezone.now()
        if at > now:
            raise CommandError(f"--at: {options['at']} is in the future; give a past date")
        if options["horizon"] is not None and not 1 <= options["horizon"] <= 365:
            raise CommandError("--horizon: give a number of days from 1 to 365")
        result = account_probabilities_at(at=at, horizon_days=options["horizon"], now=now)
        with contextlib.ExitStack() as stack:
            out: TextIOBase = self.stdout
            if options["output"]:
                out = stack.enter_context(open(options["output"], "w", newline="", encoding="utf-8"))
            if options["format"] == "json":
                payload = {"at": at.isoformat(), "horizon_days": result.horizon_days,
                           "outcome_known": result.outcome_known, "summary": result.summary,
                           "accounts": result.rows}  # fmt: skip
                out.write(json.dumps(payload, indent=2, default=str) + "\n")
            else:
                writer = csv.DictWriter(out, fieldnames=result.columns, lineterminator="\n")
                writer.writeheader()
                writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in result.rows)
        if options["format"] == "csv" or options["output"]:
            self._summary(result, sys.stderr if not options["output"] else self.stdout)

    def _summary(self, result: Any, stream: Any) -> None:
        """Per outcome, how the probabilities did against what happened (to the standard error beside a CSV)."""
        when = f"{result.at:%Y-%m-%d %H:%M} UTC"
        if not result.outcome_known:
            stream.write(f"Probabilities at {when}; the {result.horizon_days} days after it have not all passed: "
                         "outcomes are not known yet.\n")  # fmt: skip
        for outcome, s in result.summary.items():
            if s["model_version"] is None:
                stream.write(f"{outcome}: no active model with enough history.\n")
                continue
            line = f"{outcome}: model v{s['model_version']}, {s['accounts']} accounts"
            if s.get("positives") is not None:
                roc = "—" if s["roc_auc"] is None else s["roc_auc"]
                pr = "—" if s["pr_auc"] is None else s["pr_auc"]
                line += (f", {s['positives']} made the movement within {result.horizon_days} days; ROC AUC {roc}, "
                         f"PR AUC {pr}, Brier {s['brier']}")  # fmt: skip
            if s["inside_training_period"]:
                line += " (the date is inside the period this model learnt from: optimistic figures)"
            stream.write(line + ".\n")
