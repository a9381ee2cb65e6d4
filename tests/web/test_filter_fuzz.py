"""Every filter of every web list, sent malformed values: the page answers (never a 5xx), shows the refused filter
with its error and leaves it out, and still applies the others.

The lists read their filters through the shared FilterSets and, when some are refused, run again with the rest: so
one request per (list, value) with *every* filter parameter set to that value checks each filter's validation and,
for the values a filter accepts, its query. (The account page's timeline used to drop every filter when one was
refused, which would have hidden the others; it now leaves out only the refused ones, like the lists.)
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.urls import reverse

from klearly.web.filters import AccountListFilterSet
from playbooks.filters import TaskFilterSet
from signals_app.filters import SignalFilterSet
from tests.factories import SignalFactory, SignalTypeFactory

pytestmark = pytest.mark.django_db

# The same kinds of mistakes as the API's fuzzing (tests/api/test_schemathesis.py), plus the page parameter's.
MALFORMED = [
    ",", " , ", "1,,2", "x", "-1", "1.5", "1e400", "99999999999999999999", "NaN", "\x00", "☃" * 300,
    "0001-01-01T00:00:00+23:59", "2026-02-30", "true,false", "A,B,", "-pk",
]  # fmt: skip

# Each web list, and the query parameters it reads: its FilterSet's filters and the view's own.
LISTS = {
    "web:inbox": [*TaskFilterSet.base_filters, "sort", "page"],
    "web:accounts": [*AccountListFilterSet.base_filters, "page"],
    "web:call": [*AccountListFilterSet.base_filters, "page"],
    "web:surging": [*AccountListFilterSet.base_filters, "page"],
    "web:at_risk": [*AccountListFilterSet.base_filters, "page"],
    "web:account": [*SignalFilterSet.base_filters, "page"],
}


def url_of(name: str, world) -> str:
    return reverse(name, args=[world["mine"].account_id]) if name == "web:account" else reverse(name)


@pytest.mark.parametrize("value", MALFORMED, ids=repr)
@pytest.mark.parametrize("name", LISTS)
def test_every_filter_of_every_web_list_survives_a_malformed_value(client, world, name, value):
    client.force_login(world["boss"])
    response = client.get(url_of(name, world) + "?" + urlencode(dict.fromkeys(LISTS[name], value)))
    assert response.status_code == 200


@pytest.mark.parametrize(
    "name, query, error",
    [
        ("web:inbox", "playbook=1,,2&due=week", "Playbook: "),
        ("web:inbox", "playbook=99999999999999999999", "Playbook: "),
        ("web:inbox", "segment=1e400", "Segment: "),
        ("web:accounts", "signal_days=99999999999999999999&grade=A", "Within days: "),
        ("web:accounts", "lead_min=NaN", "Lead score from: "),
        ("web:account", "topic=a,,b", "Topic: "),
        ("web:account", "direction=sideways&type=demo", "Direction: "),
    ],
)
def test_a_refused_filter_is_shown_and_left_out(client, world, name, query, error):
    client.force_login(world["boss"])
    page = client.get(url_of(name, world) + "?" + query).content.decode()
    assert error in page and "(left out)" in page


def test_the_timeline_keeps_the_filters_it_accepts_when_one_is_refused(client, world):
    account = world["mine"].account
    SignalFactory(account=account, type=SignalTypeFactory(key="demo", label="Demo request"))
    SignalFactory(account=account, type=SignalTypeFactory(key="login", label="Login"))
    client.force_login(world["boss"])
    page = client.get(reverse("web:account", args=[account.pk]) + "?direction=sideways&type=demo").content.decode()
    assert "Demo request" in page.split('id="timeline"')[1] and "Login" not in page.split('id="timeline"')[1]


def test_the_inbox_filters_by_every_grade_listed(client, world):
    """``?grade=A,B`` used to reach the comma-separated filter as a list, of which it read only the last grade."""
    client.force_login(world["alice"])
    page = client.get(reverse("web:inbox") + "?grade=A,B&view=mine").content.decode()
    assert "Call Acme" in page and "Call Globex" in page  # grades A and B
