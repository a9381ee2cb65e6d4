"""A CS person works the inbox in a real browser: log in, filter, complete, snooze, bulk, open an account."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from playbooks.models import Task
from tests.browser.conftest import log_in

pytestmark = pytest.mark.services


def test_log_in_filter_complete_snooze_and_open_the_account(page, cs_world):
    tasks = cs_world["tasks"]
    log_in(page)
    rows = page.locator("#tasklist .task")
    expect(rows).to_have_count(4)
    expect(page.locator("#views-nav [data-view=mine] .count")).to_have_text("4")

    # Filter: grade A only (the filter applies as soon as the select changes).
    page.select_option("#f-grade", "A")
    expect(rows).to_have_count(2)
    assert "grade=A" in page.url

    # Complete the first task with an outcome, from the keyboard.
    expect(page.locator("#detail h2")).to_have_text("Call Acme")
    expect(page.locator("#detail")).to_contain_text("Pricing page view × 4")  # the reason is on the task
    page.keyboard.press("c")
    expect(page.locator("#detail select[name=outcome]")).to_be_focused()
    page.select_option("#detail select[name=outcome]", "meeting_booked")
    page.fill("#detail textarea[name=note]", "Demo booked for Tuesday")
    page.click("#detail form[data-action=complete] button[type=submit]")
    expect(page.locator(f"#task-{tasks['Acme'].pk}")).to_contain_text("Done: Meeting booked")
    expect(page.locator("#views-nav [data-view=mine] .count")).to_have_text("3")
    done = Task.objects.get(pk=tasks["Acme"].pk)
    assert done.status == "done" and done.outcome == "meeting_booked"
    assert done.comments.get().body == "Demo booked for Tuesday"

    # The cursor moved on to the next task; snooze it (first with a day in the past: a clear message).
    expect(page.locator("#detail h2")).to_have_text("Call Globex")
    page.keyboard.press("s")
    until = page.locator("#detail input[name=until]")
    expect(until).to_be_focused()
    until.fill((timezone.localdate() - timedelta(days=1)).isoformat())
    page.click("#detail form[data-action=snooze] button[type=submit]")
    expect(page.locator("#detail")).to_contain_text("Snooze until: Pick a day after today.")
    day = timezone.localdate() + timedelta(days=3)
    page.locator("#detail input[name=until]").fill(day.isoformat())
    page.click("#detail form[data-action=snooze] button[type=submit]")
    expect(page.locator(f"#task-{tasks['Globex'].pk}")).to_contain_text("Snoozed until")
    snoozed = Task.objects.get(pk=tasks["Globex"].pk)
    assert snoozed.status == "snoozed" and timezone.localtime(snoozed.snoozed_until).date() == day

    # Open the account page: the chart and the reasons.
    page.locator(f"#task-{tasks['Acme'].pk} .meta a").first.click()
    expect(page.locator("h1")).to_have_text("Acme")
    chart = page.locator("section[aria-label='Score history'] svg.chart")
    expect(chart).to_be_visible()
    assert chart.locator("polyline").count() == 3  # lead, fit, engagement
    expect(page.locator("#scores")).to_contain_text("Software company")
    expect(page.locator(".badges")).to_contain_text("Potential problem account")
    expect(page.locator("section[aria-label='Tasks']")).to_contain_text("Done: Meeting booked")


def test_bulk_complete_from_the_keyboard_and_the_help(page, cs_world):
    tasks = cs_world["tasks"]
    log_in(page)
    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#help")).to_be_hidden()
    expect(page.locator("#bulk")).to_be_hidden()
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("x")
    expect(page.locator("#bulk-count")).to_have_text("2 selected:")
    page.select_option("#bulk select[name=action]", "complete")
    page.select_option("#bulk select[name=outcome]", "no_answer")
    page.click("#bulk button[type=submit]")
    expect(page.locator("#messages")).to_contain_text("2 tasks completed")
    expect(page.locator("#tasklist .task")).to_have_count(2)
    assert set(Task.objects.filter(status="done").values_list("pk", flat=True)) == {
        tasks["Acme"].pk,
        tasks["Globex"].pk,
    }


def test_usable_on_a_phone(browser, live_server, cs_world):
    context = browser.new_context(viewport={"width": 390, "height": 844}, base_url=live_server.url, is_mobile=True)
    page = context.new_page()
    log_in(page)
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the inbox scrolls sideways on a phone: {width}"
    # On a phone a task opens as its own page (the side pane would be off screen).
    page.locator("#tasklist .task a.title").first.click()
    page.wait_for_url("**/tasks/*/**")
    expect(page.locator("#detail form[data-action=complete]")).to_be_visible()
    context.close()


def test_without_javascript_everything_still_works_as_plain_pages(browser, live_server, cs_world):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    log_in(page)
    page.select_option("#f-grade", "A")
    page.click("#filters button[type=submit]")  # no JavaScript: the Apply button submits the filters
    expect(page.locator("#tasklist .task")).to_have_count(2)
    page.locator("#tasklist .task a.title").nth(1).click()  # the task opens as its own page
    expect(page.locator("h2")).to_have_text("Call Globex")
    # A day in the past: the server's answer names the field, on the task's page.
    page.locator("form[data-action=snooze] input[name=until]").fill(
        (timezone.localdate() - timedelta(days=2)).isoformat()
    )
    page.click("form[data-action=snooze] button[type=submit]")
    expect(page.locator(".field-error")).to_contain_text("Snooze until: Pick a day after today.")
    page.select_option("form[data-action=complete] select[name=outcome]", "reached")
    page.click("form[data-action=complete] button[type=submit]")
    expect(page.locator("#messages")).to_contain_text("Completed: Reached, no next step.")
    assert "grade=A" in page.url  # back to the filtered inbox
    assert Task.objects.get(pk=cs_world["tasks"]["Globex"].pk).outcome == "reached"
    context.close()
