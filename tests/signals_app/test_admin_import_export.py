"""CSV import and export in the admin: preview, partial confirm, idempotence, permissions, safe export."""

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Account
from signals_app.models import Signal
from tests.factories import AccountFactory, UserFactory

pytestmark = pytest.mark.django_db

ACCOUNTS_CSV = (
    "external_id,name,domain,industry,employees,annual_revenue,country,created_at,stage,owner_email,plan\n"
    "acme,Acme,acme.com,Software,120,1000000,US,2026-01-01,Trial,,gold\n"
    "beta,Beta,beta.io,Retail,abc,,FR,2026-02-01,Starter,,\n"
    'gamma,"=HYPERLINK(""http://evil"")",g.com,Retail,5,,DE,2026-02-01,Starter,,\n'
)
IMPORT_URL = "/admin/accounts/account/import/"


def upload(client, url: str, text: str, name: str = "accounts.csv"):
    return client.post(url, {"format": "0", "import_file": SimpleUploadedFile(name, text.encode(), "text/csv")})


def confirm(client, url: str, preview):
    form = preview.context["confirm_form"]
    data = {name: form.initial.get(name, "") for name in form.fields}
    return client.post(url.replace("/import/", "/process_import/"), data)


def test_preview_lists_bad_rows_with_line_and_reason_then_confirm_loads_the_good_ones(admin_client):
    preview = upload(admin_client, IMPORT_URL, ACCOUNTS_CSV)

    assert preview.status_code == 200
    assert Account.objects.count() == 0  # a dry run
    html = preview.content.decode()
    assert "line 3: &#x27;abc&#x27; is not a whole number" in html
    assert "1 row(s) have errors (listed below) and will be skipped" in html
    result = preview.context["result"]
    assert [row.number for row in result.invalid_rows] == [2]
    assert preview.context["confirm_form"] is not None

    done = confirm(admin_client, IMPORT_URL, preview)

    assert done.status_code == 302
    assert set(Account.objects.values_list("external_id", flat=True)) == {"acme", "gamma"}
    acme = Account.objects.get(external_id="acme")
    assert (acme.stage.key, acme.traits) == ("trial", {"plan": "gold"})

    again = upload(admin_client, IMPORT_URL, ACCOUNTS_CSV)
    totals = again.context["result"].totals
    assert (totals["new"], totals["update"], totals["skip"]) == (0, 0, 2)
    assert "confirm_form" not in again.context  # nothing new to confirm
    assert Account.objects.count() == 2


def test_a_file_without_the_required_columns_is_refused_whole(admin_client):
    response = upload(admin_client, IMPORT_URL, "name,domain\nAcme,acme.com\n")
    assert response.status_code == 200
    assert "line 1: missing column(s) external_id" in response.content.decode()
    assert "confirm_form" not in response.context or not response.context["confirm_form"]


def test_signals_import_in_admin_creates_types_and_never_duplicates(admin_client):
    AccountFactory(external_id="acme")
    csv_text = (
        "message_id,account_external_id,contact_external_id,type,detail,topic,direction,source,occurred_at,properties\n"
        "m1,acme,,Pricing page view,,Analytics > Dashboards,inbound,marketing,2026-03-01T10:00:00Z,\n"
        "m2,acme,,Pricing page view,,,,,2026-03-02T10:00:00Z,\n"
        "m3,acme,,Pricing page view,,,,,31/12/2026,\n"
    )
    url = "/admin/signals_app/signal/import/"
    preview = upload(admin_client, url, csv_text, "signals.csv")
    assert "line 4: &#x27;31/12/2026&#x27; is not an ISO-8601 date" in preview.content.decode()
    confirm(admin_client, url, preview)
    assert Signal.objects.count() == 2
    again = upload(admin_client, url, csv_text, "signals.csv")
    assert again.context["result"].totals["skip"] == 2
    assert Signal.objects.count() == 2


def test_import_needs_the_import_permission(client):
    clerk = UserFactory(username="clerk", is_staff=True)
    clerk.user_permissions.add(*Permission.objects.filter(codename__in=["view_account", "change_account"]))
    client.force_login(clerk)
    assert client.get(IMPORT_URL).status_code == 403
    assert upload(client, IMPORT_URL, ACCOUNTS_CSV).status_code == 403
    assert b"/import/" not in client.get("/admin/accounts/account/").content

    clerk.user_permissions.add(Permission.objects.get(codename="import_account"))
    assert client.get(IMPORT_URL).status_code == 200


def test_export_neutralises_formulas(admin_client):
    AccountFactory(external_id="safe", name="Plain Co", annual_revenue=-5)
    AccountFactory(external_id="evil", name='=HYPERLINK("http://evil")', industry="@SUM(A1)", country="+1+1")
    url = "/admin/accounts/account/export/"
    form = admin_client.get(url).context["form"]
    data = {"format": "0", "resource": "0"}
    data.update({name: "on" for name, field in form.fields.items() if field.__class__.__name__ == "BooleanField"})
    response = admin_client.post(url, data)
    assert response.status_code == 200
    text = response.content.decode()
    assert '\'=HYPERLINK(""http://evil"")' in text
    assert ",'@SUM(A1)," in text
    assert "'+1+1" in text
    assert "-5.00" in text and "'-5.00" not in text


def test_the_admin_reads_files_with_the_importers_checks_and_true_line_numbers(admin_client):
    """The admin used tablib's reader: a cell over 128 KB was a read error for the whole file, an unterminated quote
    swallowed rows, and line numbers assumed one line per row."""
    text = (
        "external_id,name,employees\n"
        'a1,"Acme\nInc",5\n'  # a quoted cell over two lines: the next rows' lines move on
        "a2,Beta,1e400\n"
        "a3,Gamma,99999999999\n"
        f"a4,{'x' * 200_000},5\n"  # over the csv module's default limit (128 K), under MAX_CELL_CHARS
        "a5,Delta,7,extra\n"
        'a6,"Epsilon,8\n'
    )
    preview = upload(admin_client, IMPORT_URL, text)
    assert preview.status_code == 200
    html = preview.content.decode()
    assert "line 4: &#x27;1e400&#x27; is out of range (at most 2147483647)" in html
    assert "line 5: must be at most 2147483647" in html
    assert "line 6: is longer than 255 characters" in html  # read, then refused by the name's length
    assert "line 7: has 4 values but the header has 3" in html
    assert "line 8: a quote opened on line 8 is never closed" in html
    done = confirm(admin_client, IMPORT_URL, preview)
    assert done.status_code == 302
    assert list(Account.objects.values_list("external_id", "name")) == [("a1", "Acme\nInc")]


def test_the_admin_refuses_repeated_columns(admin_client):
    response = upload(admin_client, IMPORT_URL, "external_id,name,name\na,A,B\n")
    assert "line 1: column(s) name appear more than once; keep one of each" in response.content.decode()
    assert not Account.objects.exists()
