"""Experiments: reproducible, even assignment to variants; only the assigned variant fires; goal rates with Wilson
intervals in the admin."""

from __future__ import annotations

from collections import Counter

import pytest
from django.urls import reverse
from django.utils import timezone

from playbooks.experiments import experiment_results, variant_index, wilson_interval
from playbooks.models import ExperimentGroup, PlaybookRun
from playbooks.runs import playbooks_run_score_changes
from tests.factories import AccountFactory
from tests.playbooks.factories import PlaybookFactory


def test_assignment_is_reproducible_and_even():
    first = [variant_index(group_id=7, account_id=a, n=2) for a in range(4000)]
    assert first == [variant_index(group_id=7, account_id=a, n=2) for a in range(4000)]
    counts = Counter(first)
    assert abs(counts[0] - counts[1]) < 200  # about 2,000 each
    other = [variant_index(group_id=8, account_id=a, n=2) for a in range(4000)]
    assert first != other  # another experiment splits the accounts differently


def test_wilson_interval():
    low, high = wilson_interval(10, 100)
    assert round(low, 3) == 0.055 and round(high, 3) == 0.174
    assert wilson_interval(0, 0) == (0.0, 0.0)
    low, high = wilson_interval(0, 20)
    assert low == 0.0 and 0.15 < high < 0.17


@pytest.mark.django_db
def test_only_the_assigned_variant_fires_and_results_are_shown(admin_client):
    group = ExperimentGroup.objects.create(name="Trial follow-up")
    call = PlaybookFactory(name="Call", experiment_group=group, variant="A")
    email = PlaybookFactory(name="Email", experiment_group=group, variant="B", create_task=False,
                            webhook_url="", task_title_template="")  # control: records entries only  # fmt: skip
    accounts = [AccountFactory() for _ in range(40)]
    changes = [{"account": a.pk, "before": {"lead": 10.0}, "after": {"lead": 80.0}, "hits_set": [], "hits_cleared": []}
               for a in accounts]  # fmt: skip
    playbooks_run_score_changes(changes=changes, computed_at="2026-06-01T12:00:00+00:00")
    runs = PlaybookRun.objects.filter(playbook__experiment_group=group)
    assert runs.count() == 40  # each account entered exactly one variant
    variants = [v for v in (call, email)]
    for run in runs:
        expected = variants[variant_index(group_id=group.pk, account_id=run.account_id, n=2)]
        assert run.playbook_id == expected.pk and run.variant == expected.variant
    assert call.tasks.count() == runs.filter(playbook=call).count() and email.tasks.count() == 0
    PlaybookRun.objects.filter(pk__in=list(runs.filter(playbook=call).values_list("pk", flat=True)[:3])).update(
        goal_reached_at=timezone.now(), goal_checked_at=timezone.now()
    )
    results = {r.variant: r for r in experiment_results(group=group)}
    assert results["A"].reached == 3 and results["A"].entries + results["B"].entries == 40
    assert results["A"].low < results["A"].rate < results["A"].high
    page = admin_client.get(reverse("admin:playbooks_experimentgroup_change", args=[group.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Conversion" in text and f"{results['A'].entries}" in text
