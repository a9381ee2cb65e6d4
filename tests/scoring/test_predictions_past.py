"""Probabilities as of a past date beside what happened after it: ``account_probabilities_at`` and
``manage.py predict --at`` (issue 11, item 6)."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command

from scoring import predictions
from scoring.predictions import account_probabilities_at
from tests.scoring.test_unseen_world import world_import

pytestmark = pytest.mark.django_db


@pytest.fixture
def judged(tmp_path):
    """The unseen world, with a conversion model trained on what was known 50 days ago."""
    world = world_import(tmp_path)
    trained_at = world["now"] - timedelta(days=50)
    model = predictions.models_train(now=trained_at, outcomes=("conversion",), rescore=False).trained["conversion"]
    assert model.is_active
    return world, trained_at


def test_probabilities_at_a_past_date_beside_the_outcome_after_it(judged):
    world, trained_at = judged
    at = trained_at + timedelta(days=5)  # after everything the model learnt from: a fair test
    result = account_probabilities_at(at=at, now=world["now"])
    assert result.outcome_known and result.horizon_days == 30
    rows = {r["external_id"]: r for r in result.rows}
    scored = [r for r in rows.values() if r["conversion_probability"] is not None]
    assert scored and all(r["stage"] == "lead" for r in scored)  # conversion applies to free accounts then
    for r in scored:  # the outcome: a conversion in the 30 days after the date, from the imported history
        when = world["converted"].get(r["external_id"])
        assert r["converted_within_30d"] == (when is not None and at < when <= at + timedelta(days=30))
    assert all(r["expansion_probability"] is None and r["converted_within_30d"] is None for r in rows.values()
               if r["conversion_probability"] is None)  # fmt: skip
    same = predictions.probabilities_at(account_ids=[r["account_id"] for r in scored], at=at)["conversion"]
    assert all(same[r["account_id"]] == r["conversion_probability"] for r in scored)
    summary = result.summary["conversion"]
    assert summary["accounts"] == len(scored) and summary["positives"] >= 2
    assert summary["roc_auc"] > 0.6 and not summary["inside_training_period"]
    assert result.summary["churn"]["model_version"] is None


def test_the_command_writes_csv_or_json_and_a_summary(judged, tmp_path, capsys):
    world, trained_at = judged
    day = (trained_at + timedelta(days=5)).date().isoformat()
    out = io.StringIO()
    call_command("predict", "--at", day, stdout=out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows and set(rows[0]) >= {"external_id", "stage", "conversion_probability", "converted_within_30d"}
    assert any(r["conversion_probability"] for r in rows)
    assert "conversion: model v1," in capsys.readouterr().err

    target = tmp_path / "past.json"
    call_command("predict", "--at", day, "--format", "json", "--output", str(target), stdout=io.StringIO())
    payload = json.loads(target.read_text())
    assert payload["outcome_known"] and payload["summary"]["conversion"]["roc_auc"] is not None
    assert len(payload["accounts"]) == len(rows)

    recent = call_command  # the horizon after yesterday has not passed: probabilities, no outcomes
    out = io.StringIO()
    recent("predict", "--at", (world["now"] - timedelta(days=1)).date().isoformat(), stdout=out)
    assert "outcomes are not known yet" in capsys.readouterr().err
    assert all(r["converted_within_30d"] == "" for r in csv.DictReader(io.StringIO(out.getvalue())))


@pytest.mark.parametrize("value, message", [("2026-13-01", "is not a date"), ("2999-01-01", "is in the future")])
def test_the_command_refuses_a_bad_date(value, message):
    with pytest.raises(CommandError, match=message):
        call_command("predict", "--at", value)
