"""/api/v1/scores/ with probabilities, reasons and health; /api/v1/predictive-models/."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Account
from scoring import predictions, services
from tests.scoring.test_predictions import world_write

pytestmark = pytest.mark.django_db


@pytest.fixture
def predicted(db):
    now = world_write()
    predictions.models_train(now=now, rescore=False)
    services.accounts_rescore(account_ids=Account.objects.values_list("pk", flat=True), now=now)
    return now


def test_scores_carry_probabilities_with_reasons_and_health(read_api, predicted):
    paying = Account.objects.filter(stage__kind="paying", prediction__churn_status="ok").first()
    body = read_api.get(f"/api/v1/scores/{paying.external_id}/").json()
    churn = body["probabilities"]["churn"]
    assert churn["status"] == "ok" and 0 <= churn["probability"] <= 1 and churn["model_version"] == 1
    assert "up" in churn and "down" in churn
    assert body["probabilities"]["conversion"]["status"] == "not_applicable"
    assert body["health"]["band"] in ("good", "normal", "bad") and body["health"]["since"]
    bad = read_api.get("/api/v1/scores/?health=bad").json()
    assert all(row["health"]["band"] == "bad" for row in bad["results"])
    risky = read_api.get("/api/v1/scores/?churn_min=0.2").json()
    assert all(row["probabilities"]["churn"]["probability"] >= 0.2 for row in risky["results"])


def test_scores_list_queries_do_not_grow_with_page_size(read_api, predicted):
    def count(size: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert read_api.get(f"/api/v1/scores/?page_size={size}").status_code == 200
        return len(ctx.captured_queries)

    count(1)  # the key's last use is written once a minute: not by the requests compared
    assert count(2) == count(40)


def test_predictive_models_list_their_figures(read_api, predicted):
    body = read_api.get("/api/v1/predictive-models/?outcome=churn").json()
    (model,) = body["results"]
    assert model["version"] == 1 and model["is_active"] and "roc_auc" in model["metrics"] and model["impact"]
    assert "model_bytes" not in model
