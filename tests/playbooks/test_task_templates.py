"""Task templates are plain text: rendered without HTML escaping (pages escape once, on display), in a sandbox whose
cost is bounded (no nested loops, no tags or filters beyond a short list), checked on save with a clear error."""

from __future__ import annotations

import time

import pytest
from django.core.exceptions import ValidationError

from playbooks.models import Playbook, Task
from playbooks.runs import playbooks_run_score_changes
from tests.factories import AccountFactory, UserFactory
from tests.playbooks.factories import PlaybookFactory

pytestmark = pytest.mark.django_db
AT = "2026-06-01T12:00:00+00:00"
# Three loops inside each other over a 120-character text: 1.7 million turns (the took 22 s on save).
NESTED = "{% for a in account.name %}{% for b in account.name %}{% for c in account.name %}.{% endfor %}{% endfor %}{% endfor %}"
NESTED_LITERAL = "{% for a in '" + "x" * 120 + "' %}{% for b in '" + "x" * 120 + "' %}{% for c in '" + "x" * 120 + \
    "' %}.{% endfor %}{% endfor %}{% endfor %}"  # fmt: skip


def fire(account) -> None:
    change = {"account": account.pk, "before": {"lead": 10.0}, "after": {"lead": 80.0}, "hits_set": [],
              "hits_cleared": []}  # fmt: skip
    playbooks_run_score_changes(changes=[change], computed_at=AT)


def errors_of(**fields) -> dict[str, list[str]]:
    values = {"name": "P", "trigger_kind": "score_crossing", "trigger_params": {"score": "lead", "threshold": 65},
              "task_title_template": "Call"}  # fmt: skip
    try:
        Playbook(**{**values, **fields}).full_clean()
    except ValidationError as exc:
        return exc.message_dict
    return {}


def test_titles_and_bodies_are_plain_text_and_the_inbox_escapes_them_once(client):
    owner = UserFactory(username="cs.olga")
    account = AccountFactory(name="O'Brien & <Sons>", owner=owner)
    PlaybookFactory(
        task_title_template="Call {{ account.name }}", task_body_template="{{ account.name }}: {{ reason.summary }}"
    )
    fire(account)
    task = Task.objects.get(account=account)
    assert task.title == "Call O'Brien & <Sons>"  # stored as written: no &#x27;, no &amp;
    assert task.body == "O'Brien & <Sons>: Lead score rose to 80 (crossed 65)"
    client.force_login(owner)
    page = client.get("/").content.decode()
    assert "Call O&#x27;Brien &amp; &lt;Sons&gt;" in page  # escaped once, on display
    assert "&amp;#x27;" not in page and "&amp;amp;" not in page and "<Sons>" not in page
    detail = client.get(f"/tasks/{task.pk}/").content.decode()
    assert "O&#x27;Brien &amp; &lt;Sons&gt;: Lead score rose to 80" in detail and "<Sons>" not in detail


def test_a_script_in_an_account_name_is_shown_as_text_everywhere(client):
    owner = UserFactory(username="cs.olga")
    account = AccountFactory(name="<script>alert(1)</script>", owner=owner)
    PlaybookFactory(task_title_template="Call {{ account.name }}", task_body_template="{{ account.name }}")
    fire(account)
    task = Task.objects.get(account=account)
    assert task.title == "Call <script>alert(1)</script>"
    client.force_login(owner)
    for url in ("/", f"/tasks/{task.pk}/", f"/accounts/{account.pk}/"):
        page = client.get(url).content.decode()
        assert "<script>alert(1)" not in page, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, url


def test_the_nested_loop_template_is_refused_on_save_at_once():
    for template in (NESTED, NESTED_LITERAL):
        started = time.perf_counter()
        errors = errors_of(task_body_template=template)
        assert time.perf_counter() - started < 1.0
        assert "a {% for %} inside another {% for %} is not allowed" in " ".join(errors["task_body_template"])


def test_a_stored_nested_loop_template_does_not_stall_a_run():
    """A template saved before the sandbox existed (not through the form) is refused when the run compiles it: the
    task still opens, with a plain title and the reason as body, at once."""
    PlaybookFactory(name="Old", task_title_template=NESTED, task_body_template=NESTED_LITERAL)
    account = AccountFactory(name="x" * 120)
    started = time.perf_counter()
    fire(account)
    assert time.perf_counter() - started < 1.0
    task = Task.objects.get(account=account)
    assert task.title == f"Old: {'x' * 120}" and task.body == "Lead score rose to 80 (crossed 65)"


def test_one_loop_over_the_top_reasons_is_fine():
    PlaybookFactory(task_body_template="Top: {% for c in reason.top %}{{ c.label }}{% if not forloop.last %}, "
                    "{% endif %}{% empty %}none{% endfor %}.")  # fmt: skip
    account = AccountFactory()
    fire(account)
    assert Task.objects.get(account=account).body == "Top: none."
    assert errors_of(task_body_template="{% for c in reason.top %}{{ c.label }}{% endfor %}") == {}


@pytest.mark.parametrize(
    ("template", "words"),
    [
        ("{% load humanize %}{{ score.lead|intcomma }}", "Invalid block tag on line 1: 'load'. Task templates allow"),
        ("{% include 'base.html' %}", "Invalid block tag on line 1: 'include'"),
        ("{% debug %}", "Invalid block tag on line 1: 'debug'"),
        ("{% widthratio 1 1 100000000 %}", "'widthratio'"),
        ("{{ account.name|center:'99999999' }}", "Invalid filter: 'center'. Task templates allow only the filters"),
        ("{{ account.name|stringformat:'099999999d' }}", "Invalid filter: 'stringformat'"),
        ("{{ reason.clear }}", "'reason.clear' is not allowed: '.clear' would change the data"),
        ("{% for c in reason.top %}{{ c.pop }}{% endfor %}", "'c.pop' is not allowed"),
        ("{% if reason.top.reverse %}x{% endif %}", "'reason.top.reverse' is not allowed"),
        ("{% for c in 'abc' %}{{ c }}{% endfor %}", "walks a value of the task"),
        ("x" * 5001, "Template too long: 5001 characters, at most 5000"),
    ],
)
def test_what_the_sandbox_refuses_is_named_on_the_field(template, words):
    errors = errors_of(task_body_template=template)
    assert words in " ".join(errors["task_body_template"]), errors


def test_lookalikes_inside_quotes_are_text_not_lookups():
    assert errors_of(task_body_template="{{ reason.summary|default:'call reason.clear now' }}") == {}


def test_floatformat_precision_is_capped():
    from playbooks.validation import task_template_compile, task_text_render

    template = task_template_compile("{{ score.lead|floatformat:100000 }}")
    started = time.perf_counter()
    assert task_text_render(template, {"score": {"lead": 71.5}}) == "71." + "5" + "0" * 9
    assert time.perf_counter() - started < 0.1


def test_a_title_template_longer_than_the_field_is_refused():
    errors = errors_of(task_title_template="{{ account.name }}" + "x" * 300)
    assert "Template too long" in " ".join(errors["task_title_template"])
