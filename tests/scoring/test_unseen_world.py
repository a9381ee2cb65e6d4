"""A world not written for the demo, imported as a customer would (issue 11, "Show it").

Leads imported through ``import_csv``: accounts with their current stage, then their stage history; contacts whose
imported columns (traits: lead source, country, occupation, total visits) are all that tells who converts; signals
with snake_case event names that carry no knowledge. Checked: no spurious movement, engagement above 0, the leakage
guard catches leaking columns, and the reasons of a probability name the imported fields.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, StageTransition
from scoring import predictions, services
from scoring.ml.features import FeatureSpace
from scoring.models import AccountPrediction, AccountScore, PredictiveModel

pytestmark = pytest.mark.django_db

LEADS = 320
DAYS = 260
SOURCES = {"Referral": 2.2, "Google": 0.3, "Direct traffic": -0.2, "Olark chat": -1.4}
OCCUPATIONS = {"Working professional": 2.0, "Unemployed": 0.0, "Student": -0.8}
COUNTRIES = ["India", "Germany", "Brazil"]
EVENTS = ["pricing_page_view", "feature_used", "invite_sent"]


def _write(path: Path, header: list[str], rows: list[list]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def world_import(
    folder: Path, *, status: bool = False, revenue_at_close: bool = False, fields_tell: bool = True, seed: int = 5
) -> dict:
    """Write the world's four files and import them with ``import_csv``; returns who converted.

    ``status``: contacts also carry ``status`` (converted / open), today's value of a field that restates the stage.
    ``revenue_at_close``: sales filled in ``annual_revenue`` on the accounts that converted, when they did.
    ``fields_tell``: False, and who converts has nothing to do with the imported fields."""
    rng = np.random.default_rng(seed)
    now = timezone.now().replace(microsecond=0)
    start = now - timedelta(days=DAYS)
    accounts, contacts, history, signals = [], [], [], []
    converted = {}
    for i in range(LEADS):
        ext = f"lead-{i}"
        created = start + timedelta(days=float(rng.uniform(0, DAYS - 5)), hours=int(rng.integers(0, 24)))
        source = rng.choice(list(SOURCES))
        occupation = rng.choice(list(OCCUPATIONS))
        visits = int(rng.poisson(4))
        z = -1.6 + SOURCES[source] + OCCUPATIONS[occupation] + 0.15 * (visits - 4) + rng.normal(0, 0.5)
        z = z if fields_tell else rng.normal(-0.5, 1.0)
        converts = rng.random() < 1 / (1 + np.exp(-z))
        when = created + timedelta(days=float(rng.uniform(5, 40)))
        if converts and when < now - timedelta(days=1):
            converted[ext] = when
        stage = "Starter" if ext in converted else "Lead"
        revenue = "250000" if revenue_at_close and ext in converted else ""
        accounts.append([ext, f"Lead {i}", created.isoformat(), stage, revenue])
        row = [f"person-{i}", ext, f"p{i}@example.com", created.isoformat(), source, rng.choice(COUNTRIES),
               occupation, visits]  # fmt: skip
        if status:
            row.append("converted" if ext in converted else "open")
        contacts.append(row)
        history.append([ext, "Lead", created.isoformat()])
        if ext in converted:
            history.append([ext, "Starter", converted[ext].isoformat()])
        for k in range(int(rng.poisson(6))):  # the same behaviour whoever converts: the knowledge is in the fields
            at = created + timedelta(days=float(rng.uniform(0, 60)))
            if at < now:
                signals.append([f"{ext}-{k}", ext, f"person-{i}", rng.choice(EVENTS), "", "", "", "", at.isoformat(),
                                ""])  # fmt: skip
    files = {
        "accounts": _write(folder / "accounts.csv", ["external_id", "name", "created_at", "stage", "annual_revenue"],
                           accounts),
        "contacts": _write(folder / "contacts.csv", ["external_id", "account_external_id", "email", "created_at",
                           "lead_source", "country", "occupation", "total_visits", *(["status"] if status else [])],
                           contacts),
        "stage_transitions": _write(folder / "stage_transitions.csv", ["account_external_id", "stage", "changed_at"],
                                    history),
        "signals": _write(folder / "signals.csv", ["message_id", "account_external_id", "contact_external_id",
                          "type", "detail", "topic", "direction", "source", "occurred_at", "properties"], signals),
    }  # fmt: skip
    for kind in ("accounts", "contacts", "stage_transitions", "signals"):  # the order a customer imports in
        call_command("import_csv", kind, str(files[kind]), "--no-progress", stdout=io.StringIO())
    return {"converted": converted, "now": now}


@pytest.fixture
def world(tmp_path):
    return world_import(tmp_path)


def test_accounts_imported_with_a_stage_and_their_history_make_no_spurious_movement(world):
    assert len(world["converted"]) >= 30
    assert not StageTransition.objects.exclude(movement__in=["entry", "conversion"]).exists()
    for ext in list(world["converted"])[:10]:
        rows = StageTransition.objects.filter(account__external_id=ext).order_by("changed_at")
        assert list(rows.values_list("to_stage__key", "movement")) == [("lead", "entry"), ("starter", "conversion")]
    assert StageTransition.objects.filter(movement="conversion").count() == len(world["converted"])
    assert Account.objects.filter(stage__key="starter").count() == len(world["converted"])


def test_snake_case_events_count_for_engagement(world):
    services.accounts_rescore(account_ids=list(Account.objects.values_list("pk", flat=True)), now=world["now"])
    engaged = AccountScore.objects.filter(account__signals__isnull=False).distinct()
    assert engaged.exists()
    assert engaged.filter(engagement__gt=0).count() == engaged.count()


def test_probabilities_come_from_the_imported_fields_and_say_so(world):
    report = predictions.models_train(now=world["now"], outcomes=("conversion",), rescore=False)
    model = report.trained["conversion"]
    assert not model.refused_reason and model.is_active
    assert model.metrics["roc_auc"] > 0.7
    assert model.training["fields"].startswith("kept: on the ")  # they helped on leads the model had not seen
    space = model.feature_space
    assert {"lead_source", "occupation", "country"} <= set(space["trait_keys"]) and "total_visits" in space[
        "trait_numeric"]  # fmt: skip
    services.accounts_rescore(account_ids=list(Account.objects.values_list("pk", flat=True)), now=world["now"])
    leads = AccountPrediction.objects.filter(account__stage__key="lead", conversion_status="ok")
    assert leads.count() > 20
    # the leads that may still convert (older ones never will: their probability is ~0, with no reason to give)
    open_leads = [p for p in leads if p.reasons["conversion"]["up"] or p.reasons["conversion"]["down"]]
    assert len(open_leads) >= 15
    named = ("Lead source is ", "Occupation is ", "Total visits: ", "Country is ")
    with_field = [p for p in open_leads if any(r["text"].startswith(named) for side in ("up", "down")
                                               for r in p.reasons["conversion"][side])]  # fmt: skip
    assert len(with_field) >= 0.8 * len(open_leads)
    # the probabilities follow the fields: referred working professionals above chat-sourced students
    best = [p.conversion for p in open_leads if "Lead source is Referral" in str(p.reasons)]
    worst = [p.conversion for p in open_leads if "Lead source is Olark chat" in str(p.reasons)]
    assert best and worst and np.mean(best) > np.mean(worst)


def test_a_status_field_that_restates_the_stage_is_left_out(tmp_path):
    world_import(tmp_path, status=True)
    model = predictions.models_train(now=timezone.now(), outcomes=("conversion",), rescore=False).trained["conversion"]
    left_out = dict(model.feature_space["trait_left_out"])
    assert "status" in left_out and "restates each account's current stage" in left_out["status"]
    assert "status" not in model.feature_space["trait_keys"] + model.feature_space["trait_numeric"]
    assert not model.refused_reason and model.is_active


def test_a_field_filled_in_at_the_close_makes_training_refuse_the_model(tmp_path, admin_client):
    world_import(tmp_path, revenue_at_close=True)
    report = predictions.models_train(now=timezone.now(), outcomes=("conversion",), rescore=False)
    model = report.trained["conversion"]
    assert report.refused["conversion"] == model.refused_reason
    assert model.refused_reason.startswith("Refused as probable leakage: “Annual revenue” alone tells")
    assert not model.is_active and not PredictiveModel.objects.filter(is_active=True).exists()
    with pytest.raises(predictions.ModelRefused):
        predictions.predictive_model_activate(model=model)
    page = admin_client.get(reverse("admin:scoring_predictivemodel_change", args=[model.pk]))
    assert (
        "Refused, not activated." in page.content.decode() and "“Annual revenue” alone tells" in page.content.decode()
    )
    assert 'name="_activate"' not in page.content.decode()


def test_imported_fields_that_tell_nothing_are_left_out_and_the_model_still_predicts(tmp_path):
    world = world_import(tmp_path, fields_tell=False)
    model = predictions.models_train(now=world["now"], outcomes=("conversion",), rescore=False).trained["conversion"]
    space = model.feature_space
    assert space["trait_keys"] == [] and space["trait_numeric"] == []
    left_out = dict(space["trait_left_out"])
    assert {"lead_source", "occupation", "total_visits"} <= set(left_out)
    assert left_out["lead_source"].startswith("left out: ") and model.training["fields"].startswith("left out: ")
    assert model.is_active and len(model.baseline) == len(FeatureSpace.from_json(space).columns)
    services.accounts_rescore(account_ids=list(Account.objects.values_list("pk", flat=True)), now=world["now"])
    leads = AccountPrediction.objects.filter(account__stage__key="lead", conversion_status="ok")
    assert leads.exists()
    texts = {r["text"] for p in leads for side in ("up", "down") for r in p.reasons["conversion"][side]}
    assert not any(t.startswith(("Lead source", "Occupation", "Total visits")) for t in texts)
