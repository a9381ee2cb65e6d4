"""Browser tests: Debian's Chromium driven by Playwright against a live server (marked ``services``; .ci/run
installs chromium when this folder exists)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

# Playwright's sync API runs an event loop in the test's thread; the ORM calls the tests make around it are
# ordinary synchronous calls, so Django's async guard must not refuse them.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("KLEARLY_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser() -> Iterator:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"the browser tests need Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, base_url=live_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture
def migrated_db(transactional_db, django_db_serialized_rollback):
    """A committed database (the live server reads it from its own thread) that starts every test as the migrations
    left it. A transactional test ends by emptying every table, so without the serialized rollback only the first
    test of a run would have the rows the data migrations made (the journey, the default scorecard, the shipped
    signal rules), and a fixture that made a missing one would save a model whose save queues a full rescore of the
    world it had just written: each test's world would depend on which tests ran before it."""


@pytest.fixture(autouse=True)
def _nothing_left_queued(settings):
    """No worker consumes the broker during the browser tests: what a test queued (a rescore's playbook runs) is
    dropped after it, with the rows it was about, so the worker the service tests start later in the same run never
    acts on another test's data."""
    yield
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        from klearly.celery import app

        app.control.purge()


def shipped_rule(name: str):
    """A signal rule the data migrations ship (``migrated_db`` restores it for every test), read rather than saved
    again: saving a rule queues a full rescore, which would replace the scores a fixture wrote."""
    from scoring.models import SignalRule

    return SignalRule.objects.get(name=name)


@pytest.fixture
def cs_world(migrated_db):
    """A CS operator with four tasks on scored accounts (one with a score history and a rule hit)."""
    from scoring.models import AccountScore, RuleHit, ScoreHistory
    from tests.factories import AccountFactory, UserFactory
    from tests.playbooks.factories import PlaybookFactory, TaskFactory, TeamFactory

    alice = UserFactory(username="cs.alice", first_name="Alice", last_name="Martin")
    alice.set_password("klearly-demo")
    alice.save()
    team = TeamFactory(name="CS team")
    team.members.add(alice)
    playbook = PlaybookFactory(name="Trial to paid", assign_team=team)
    now = timezone.now()
    reason = {
        "summary": "Lead score crossed 65",
        "score": "lead",
        "before": 58,
        "after": 71,
        "top": [{"label": "Pricing page view × 4", "points": 18.5}, {"label": "Demo request", "points": 12}],
    }
    tasks = {}
    for i, (name, grade, lead) in enumerate(
        (("Acme", "A", 88), ("Globex", "A", 81), ("Initech", "C", 45), ("Umbrella", "B", 66))
    ):
        account = AccountFactory(name=name, owner=alice)
        AccountScore.objects.create(
            account=account, lead=lead, fit=50, engagement=lead - 50, grade=grade, qualified=lead >= 65,
            computed_at=now, contributions={"fit": [{"source": "fit_rule", "label": "Software company", "points": 30}]},
        )  # fmt: skip
        for days in range(0, 60, 5):
            ScoreHistory.objects.create(
                account=account, date=timezone.localdate() - timedelta(days=days), fit=50, engagement=lead - 50 - days / 3,
                lead=lead - days / 2, signal_strength=10, grade=grade, temperature="warm", qualified=False, surging=False,
                config_version=1, computed_at=now - timedelta(days=days),
            )  # fmt: skip
        tasks[name] = TaskFactory(
            account=account, team=team, assignee=alice, playbook=playbook, title=f"Call {name}", reason=reason,
            priority=4 - i, due_at=now + timedelta(days=i), likelihood=lead,
        )  # fmt: skip
    rule = shipped_rule("Potential problem account")
    RuleHit.objects.create(rule=rule, account=tasks["Acme"].account, set_at=now, evaluated_at=now)
    return {"alice": alice, "tasks": tasks}


def log_in(page, username: str = "cs.alice", password: str = "klearly-demo") -> None:
    page.goto("/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_selector("#tasklist")
