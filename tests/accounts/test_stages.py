"""accounts.stages: which numbers apply to an account in a free, paying or churned stage (one place)."""

from __future__ import annotations

import pytest

from accounts.models import Account
from accounts.stages import (
    OUTCOME_STAGE_KINDS,
    can_expand,
    expandable_q,
    is_pre_sale,
    outcome_applies,
    paying_q,
    pre_sale_q,
    stage_standing,
    top_paying_rank,
)
from tests.factories import AccountFactory, stage


def test_the_models_and_the_product_agree_on_what_applies_where():
    from scoring.ml.history import OUTCOME_KINDS

    assert {o: tuple(map(str, kinds)) for o, kinds in OUTCOME_STAGE_KINDS.items()} == OUTCOME_KINDS


@pytest.mark.django_db
def test_standing_and_what_applies():
    top = top_paying_rank()
    assert top == 3  # the default journey: Starter 1, Corporate 2, Enterprise 3
    assert [stage_standing(k) for k in (None, "", "free", "paying", "churn")] == [
        "prospect", "prospect", "prospect", "customer", "churned",
    ]  # fmt: skip
    assert is_pre_sale(None) and is_pre_sale("free") and not is_pre_sale("paying") and not is_pre_sale("churn")
    assert can_expand("paying", 2, top) and not can_expand("paying", 3, top) and not can_expand("free", 0, top)
    assert outcome_applies("conversion", "free", 0, top) and not outcome_applies("conversion", "paying", 1, top)
    assert outcome_applies("churn", "paying", 3, top) and not outcome_applies("churn", "free", 0, top)
    assert not outcome_applies("churn", "churn", 0, top) and not outcome_applies("expansion", "paying", 3, top)


@pytest.mark.django_db
def test_query_filters():
    made = {key: AccountFactory(external_id=key or "none", stage=stage(key) if key else None)
            for key in (None, "trial", "starter", "enterprise", "churn")}  # fmt: skip

    def keys(q):
        return sorted(Account.objects.filter(q).values_list("external_id", flat=True))

    assert keys(pre_sale_q()) == ["none", "trial"]
    assert keys(paying_q()) == ["enterprise", "starter"]
    assert keys(expandable_q()) == ["starter"]
    assert len(made) == 5
