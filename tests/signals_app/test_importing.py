"""The streaming importer (``import_csv`` and background jobs), on the embedded database."""

import io
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Account, Contact, StageTransition
from signals_app.importing import import_csv_stream
from signals_app.models import Signal, SignalTopic, SignalType
from tests.factories import AccountFactory, ContactFactory, UserFactory

pytestmark = pytest.mark.django_db

SIGNALS = """message_id,account_external_id,contact_external_id,type,detail,topic,direction,source,occurred_at,properties
m1,acme,ada,Pricing page view,,Analytics > Dashboards,inbound,product,2026-03-01T10:00:00Z,"{""path"": ""/pricing""}"
m2,acme,,Demo request,,,,,2026-03-02,
m3,nobody,,Demo request,,,,,2026-03-02,
m4,acme,,Demo request,,,sideways,,2026-13-02,[1]
,acme,,Webinar attended,renewal,,,marketing,2026-03-05T00:00:00,
m6,acme,grace,Demo request,,,,,2026-03-06,
"""


def run(kind: str, text: str, **kwargs):
    return import_csv_stream(kind=kind, stream=io.StringIO(text), **kwargs)


@pytest.fixture
def acme():
    account = AccountFactory(external_id="acme")
    ContactFactory(external_id="ada", account=account)
    ContactFactory(external_id="grace", account=AccountFactory(external_id="other"))
    return account


def test_good_rows_load_and_bad_rows_are_reported_by_line_and_column(acme):
    report = run("signals", SIGNALS, batch_size=2)

    assert (report.rows_read, report.created, report.failed) == (6, 3, 3)
    assert report.errors == [
        {"line": 4, "field": "account_external_id", "message": "no account has external id 'nobody'"},
        {"line": 5, "field": "direction", "message": "'sideways' is not one of inbound, outbound"},
        {"line": 5, "field": "occurred_at", "message": "'2026-13-02' is not an ISO-8601 date or time (e.g. 2026-03-01T14:30:00Z)"},
        {"line": 5, "field": "properties", "message": 'must be a JSON object, like {"plan": "pro"}'},
        {"line": 7, "field": "contact_external_id", "message": "'grace' belongs to another account"},
    ]  # fmt: skip
    pricing = Signal.objects.get(idempotency_key="m1")
    assert pricing.contact.external_id == "ada"
    assert pricing.topic.key == "analytics--dashboards" and pricing.topic.parent.key == "analytics"
    assert pricing.properties == {"path": "/pricing"}
    assert pricing.occurred_at == datetime(2026, 3, 1, 10, tzinfo=UTC)
    demo = Signal.objects.get(idempotency_key="m2")
    assert (demo.direction, demo.source) == ("inbound", "product")  # the new type's defaults
    webinar = Signal.objects.get(type__key="webinar-attended")
    assert (webinar.detail, webinar.source) == ("renewal", "marketing")


def test_unknown_types_and_topics_are_created_once_with_a_guessed_category(acme):
    run("signals", SIGNALS)
    assert SignalType.objects.get(key="webinar-attended").category == "webinars"
    assert SignalType.objects.get(key="pricing-page-view").category == "web_visits"
    assert SignalType.objects.get(key="demo-request").label == "Demo request"
    assert SignalTopic.objects.filter(key__startswith="analytics").count() == 2


def test_reimporting_the_same_file_adds_nothing(acme):
    run("signals", SIGNALS)
    again = run("signals", SIGNALS, batch_size=1)
    assert (again.created, again.skipped, again.failed) == (0, 3, 3)
    assert Signal.objects.count() == 3


def test_quoted_cells_over_several_lines_keep_line_numbers_right(acme):
    text = (
        "message_id,account_external_id,type,occurred_at,detail\n"
        'a,acme,Note,2026-01-01,"line one\nline two"\n'
        "b,acme,Note,not-a-date,\n"
    )
    report = run("signals", text)
    assert report.created == 1
    assert report.errors[0]["line"] == 4


def test_a_row_with_too_many_values_is_reported(acme):
    report = run("signals", "account_external_id,type,occurred_at\nacme,Note,2026-01-01,extra\n")
    assert report.errors == [{"line": 2, "field": "row", "message": "has 4 values but the header has 3"}]


def test_missing_required_columns_stop_before_any_row():
    report = run("signals", "account,type\nacme,Note\n")
    assert report.fatal.startswith("line 1: missing column(s) account_external_id, occurred_at")
    assert run("signals", "").fatal == "line 1: the file is empty (a header row is required)"


def test_accounts_upsert_keep_traits_and_record_stage_movements():
    owner = UserFactory(email="ann@klearly.test")
    text = (
        "external_id,name,employees,created_at,stage,owner_email,plan\n"
        "acme,Acme,120,2026-01-01,Trial,ann@klearly.test,gold\n"
        "beta,Beta,lots,2026-01-01,Trial,,\n"
        "gamma,Gamma,5,2026-01-01,Nope,,\n"
        "delta,Delta,5,2026-01-01,,nobody@x.io,\n"
    )
    report = run("accounts", text)
    assert (report.created, report.failed) == (1, 3)
    assert [(e["line"], e["field"]) for e in report.errors] == [
        (3, "employees"),
        (4, "stage"),
        (5, "owner_email"),
    ]
    acme = Account.objects.get(external_id="acme")
    assert (acme.owner, acme.traits, acme.stage.key) == (owner, {"plan": "gold"}, "trial")
    assert acme.stage_transitions.get().changed_at == datetime(2026, 1, 1, tzinfo=UTC)

    unchanged = run("accounts", text)
    assert (unchanged.created, unchanged.updated, unchanged.skipped) == (0, 0, 1)

    moved = run("accounts", "external_id,stage,seats\nacme,Starter,12\n")
    assert (moved.updated, moved.created) == (1, 0)
    acme.refresh_from_db()
    assert acme.stage.key == "starter"
    assert acme.name == "Acme"  # columns absent from the file are left alone
    assert acme.traits == {"plan": "gold", "seats": "12"}
    assert list(acme.stage_transitions.order_by("changed_at").values_list("movement", flat=True)) == [
        "entry",
        "conversion",
    ]


def test_contacts_upsert_and_link_to_accounts(acme):
    text = (
        "external_id,account_external_id,email,first_name,last_name,title,linkedin\n"
        "c1,acme,Ann@Acme.com,Ann,Lee,CTO,ann-lee\n"
        "c2,ghost,b@acme.com,B,,,\n"
        "c3,acme,not-an-email,C,,,\n"
    )
    report = run("contacts", text)
    assert (report.created, report.failed) == (1, 2)
    c1 = Contact.objects.get(external_id="c1")
    assert (c1.account, c1.email, c1.traits) == (acme, "ann@acme.com", {"linkedin": "ann-lee"})
    assert run("contacts", text).skipped == 1


def test_stage_transitions_import_derives_movements_in_time_order(acme):
    text = (
        "account_external_id,stage,changed_at\n"
        "acme,Corporate,2026-03-01\n"
        "acme,trial,2026-01-01\n"
        "acme,Starter,2026-02-01\n"
        "acme,Platinum,2026-02-01\n"
        "nobody,Trial,2026-02-01\n"
    )
    report = run("stage_transitions", text, batch_size=2)
    assert (report.created, report.failed) == (3, 2)
    moves = list(StageTransition.objects.order_by("changed_at").values_list("to_stage__key", "movement"))
    assert moves == [("trial", "entry"), ("starter", "conversion"), ("corporate", "expansion")]
    acme.refresh_from_db()
    assert acme.stage.key == "corporate"
    again = run("stage_transitions", text)
    assert (again.created, again.skipped) == (0, 3)


def test_command_prints_summary_and_errors(acme, tmp_path, capsys):
    path = tmp_path / "signals.csv"
    path.write_text(SIGNALS, encoding="utf-8")
    call_command("import_csv", "signals", str(path), "--no-progress")
    out, err = capsys.readouterr()
    assert "6 rows read: 3 created, 0 updated, 0 already present, 3 rejected" in out
    assert f"{path}: line 4, account_external_id: no account has external id 'nobody'" in err


def test_command_refuses_missing_files_and_bad_headers(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_csv", "signals", str(tmp_path / "nope.csv"))
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n")
    with pytest.raises(CommandError, match="line 1: missing column"):
        call_command("import_csv", "accounts", str(bad), "--no-progress")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("external_id,name\nx,Soci\xe9t\xe9\n".encode("latin-1"))
    with pytest.raises(CommandError, match="not UTF-8"):
        call_command("import_csv", "accounts", str(latin), "--no-progress")


def test_values_postgresql_cannot_store_are_reported_not_fatal(acme):
    text = (
        "message_id,account_external_id,type,occurred_at,properties,detail\n"
        'n1,acme,Note,2026-01-01,"{""x"": NaN}",\n'
        "n2,acme,Note,2026-01-01,,bad\x00detail\n"
        "n3,acme,Note,2026-01-01,,fine\n"
    )
    report = run("signals", text)
    assert report.created == 1
    assert report.errors == [
        {"line": 2, "field": "properties", "message": "is not valid JSON (NaN is not allowed in JSON)"},
        {"line": 3, "field": "detail", "message": "contains a NUL character (\\x00), which cannot be stored"},
    ]


def test_imports_mark_the_accounts_they_change_for_rescoring(acme):
    from accounts.models import RescoreMark

    run("signals", SIGNALS)
    assert list(RescoreMark.objects.values_list("account_id", flat=True)) == [acme.pk]
    RescoreMark.objects.all().delete()
    run("signals", SIGNALS)  # nothing new: nothing to rescore
    assert not RescoreMark.objects.exists()
    run("stage_transitions", "account_external_id,stage,changed_at\nacme,Trial,2026-01-01\n")
    assert RescoreMark.objects.filter(account=acme).exists()


def test_a_signal_dated_beyond_the_event_endpoints_limit_is_refused_by_line(acme):
    from datetime import timedelta

    from django.utils import timezone

    soon = (timezone.now() + timedelta(hours=20)).isoformat()  # within a day: a clock a little ahead
    report = run(
        "signals",
        "message_id,account_external_id,type,occurred_at\n"
        f"f1,acme,Demo request,2031-05-01T10:00:00Z\nf2,acme,Demo request,{soon}\nf3,acme,Demo request,2026-03-02\n",
    )
    assert (report.created, report.failed) == (2, 1)
    assert report.errors == [
        {"line": 2, "field": "occurred_at", "message": "'2031-05-01T10:00:00Z' is more than a day in the future"}
    ]
    assert not Signal.objects.filter(idempotency_key="f1").exists()


# --- the accounts file's stage and the stage history (issue 11, item 4) ----------------------------------------------

ACCOUNTS_WITH_STAGE = (
    "external_id,name,created_at,stage\n"
    "won,Won,2026-01-01T00:00:00Z,Starter\n"
    "open,Open,2026-01-01T00:00:00Z,Lead\n"
    "early,Early,2026-01-10T00:00:00Z,Starter\n"
    "alone,Alone,2026-01-01T00:00:00Z,Trial\n"
)
HISTORY = (
    "account_external_id,stage,changed_at\n"
    "won,Lead,2026-01-01T00:00:00Z\n"
    "won,Starter,2026-02-01T00:00:00Z\n"
    "open,Lead,2026-01-01T00:00:00Z\n"
    "open,Trial,2026-02-15T00:00:00Z\n"
    "early,Lead,2025-12-01T00:00:00Z\n"
    "early,Starter,2026-03-01T00:00:00Z\n"
)


def _moves(external_id: str) -> list[tuple[str, str]]:
    rows = StageTransition.objects.filter(account__external_id=external_id).order_by("changed_at", "id")
    return list(rows.values_list("to_stage__key", "movement"))


@pytest.mark.parametrize("batch_size", [1, 1000])
def test_the_stage_history_wins_over_the_accounts_files_stage(batch_size):
    """Accounts imported with their current stage, then their history: one movement per real change, no spurious
    contraction at the creation instant (every converted lead had one: the conversion model learnt it as the
    answer)."""
    run("accounts", ACCOUNTS_WITH_STAGE)
    report = run("stage_transitions", HISTORY, batch_size=batch_size)
    assert report.failed == 0

    assert _moves("won") == [("lead", "entry"), ("starter", "conversion")]
    assert _moves("open") == [("lead", "entry"), ("trial", "progression")]
    # the history starts before the creation the accounts file gave: the file's "Starter at creation" is dropped
    assert _moves("early") == [("lead", "entry"), ("starter", "conversion")]
    assert _moves("alone") == [("trial", "entry")]  # no history: the file's stage at creation stands
    assert not StageTransition.objects.filter(movement="contraction").exists()
    won = Account.objects.get(external_id="won")
    assert (won.stage.key, won.stage_changed_at) == ("starter", datetime(2026, 2, 1, tzinfo=UTC))
    early = Account.objects.get(external_id="early")
    assert (early.stage.key, early.stage_changed_at) == ("starter", datetime(2026, 3, 1, tzinfo=UTC))
    open_ = Account.objects.get(external_id="open")
    assert open_.stage.key == "trial"

    again = run("stage_transitions", HISTORY)  # re-importing changes nothing
    assert (again.created, again.skipped) == (0, 6)
    assert _moves("won") == [("lead", "entry"), ("starter", "conversion")]
    run(
        "accounts",
        ACCOUNTS_WITH_STAGE.replace("open,Open,2026-01-01T00:00:00Z,Lead", "open,Open,2026-01-01T00:00:00Z,Trial"),
    )
    assert _moves("open") == [("lead", "entry"), ("trial", "progression")]


def test_no_movement_between_equal_instants_or_to_the_same_stage(acme):
    text = (
        "account_external_id,stage,changed_at\n"
        "acme,Trial,2026-01-01\n"
        "acme,Starter,2026-02-01\n"
        "acme,Trial,2026-02-01\n"  # the same instant: the later row of the file is where acme was then
        "acme,Trial,2026-02-10\n"  # the same stage again
        "acme,Corporate,2026-03-01\n"
    )
    run("stage_transitions", text)
    assert _moves("acme") == [
        ("trial", "entry"), ("starter", "none"), ("trial", "none"), ("trial", "none"), ("corporate", "conversion"),
    ]  # fmt: skip
    acme.refresh_from_db()
    assert (acme.stage.key, acme.stage_changed_at) == ("corporate", datetime(2026, 3, 1, tzinfo=UTC))


def test_a_history_row_equal_to_the_accounts_files_stage_is_kept_as_history():
    run("accounts", "external_id,created_at,stage\nacme,2026-01-01T00:00:00Z,Lead\n")
    run("stage_transitions", "account_external_id,stage,changed_at\nacme,Lead,2026-01-01T00:00:00Z\n")
    run("stage_transitions", "account_external_id,stage,changed_at\nacme,Trial,2026-02-01T00:00:00Z\n")
    assert _moves("acme") == [("lead", "entry"), ("trial", "progression")]


def test_the_migration_heals_histories_imported_before_the_fix():
    """Rows as the old importer left them: the accounts file's stage at creation, a contraction at the same instant
    (the history's first row), then the conversion."""
    import importlib

    from django.apps import apps

    from accounts.models import JourneyStage, RescoreMark

    stages = {s.key: s for s in JourneyStage.objects.all()}
    created = datetime(2026, 1, 1, tzinfo=UTC)
    won = AccountFactory(external_id="won", created_at=created, stage=stages["starter"])
    kept = AccountFactory(external_id="kept", created_at=created, stage=stages["starter"])
    StageTransition.objects.bulk_create([
        StageTransition(account=won, to_stage=stages["starter"], changed_at=created, movement="entry"),
        StageTransition(account=won, from_stage=stages["starter"], to_stage=stages["lead"], changed_at=created,
                        movement="contraction"),
        StageTransition(account=won, from_stage=stages["lead"], to_stage=stages["starter"],
                        changed_at=datetime(2026, 2, 1, tzinfo=UTC), movement="conversion"),
        # a history recorded live: entered at creation, converted later (nothing to heal)
        StageTransition(account=kept, to_stage=stages["lead"], changed_at=created, movement="entry"),
        StageTransition(account=kept, from_stage=stages["lead"], to_stage=stages["starter"],
                        changed_at=datetime(2026, 2, 1, tzinfo=UTC), movement="conversion"),
    ])  # fmt: skip
    migration = importlib.import_module("accounts.migrations.0006_stage_history_from_accounts_file")
    migration.heal(apps, None)

    assert _moves("won") == [("lead", "entry"), ("starter", "conversion")]
    assert _moves("kept") == [("lead", "entry"), ("starter", "conversion")]
    assert RescoreMark.objects.filter(account=won).exists()


# --- files that used to abort the whole import, or load wrong rows without a word ------------------------------------

ACCOUNTS_HEADER = "external_id,name,employees,annual_revenue\n"
SIGNALS_HEADER = "message_id,account_external_id,type,occurred_at,properties\n"


def test_numbers_no_column_holds_are_row_errors_and_the_good_rows_load():
    """employees=1e400 (OverflowError) and 99999999999 (integer out of range on PostgreSQL) aborted the import."""
    text = ACCOUNTS_HEADER + "a,A,1e400,\nb,B,99999999999,\nc,C,120,1e20\nd,D,1e308,\ne,E,42,\n"
    report = run("accounts", text)
    assert report.errors == [
        {"line": 2, "field": "employees", "message": "'1e400' is out of range (at most 2147483647)"},
        {"line": 3, "field": "employees", "message": "must be at most 2147483647"},
        {"line": 4, "field": "annual_revenue", "message": "'1e20' is out of range (less than 10^14)"},
        {"line": 5, "field": "employees", "message": "must be at most 2147483647"},
    ]
    assert list(Account.objects.values_list("external_id", "employees")) == [("e", 42)]


def test_non_finite_numbers_and_impossible_dates_in_signals_are_row_errors(acme):
    """A properties number of 1e999 reads as infinity in Python, which PostgreSQL's jsonb refuses: the import
    aborted there (and SQLite stored JSON no reader accepts)."""
    text = SIGNALS_HEADER + (
        'm1,acme,Demo,2026-03-01,"{""n"": 1e999}"\n'
        'm2,acme,Demo,2026-03-01,"{""n"": -1e400, ""ok"": 1}"\n'
        "m3,acme,Demo,0001-01-01T00:00:00+01:00,\n"
        "m4,acme,Demo,9999-12-31T23:59:59-05:00,\n"
        'm5,acme,Demo,2026-03-01,"{""n"": 1e308}"\n'
    )
    report = run("signals", text)
    assert [(e["line"], e["field"]) for e in report.errors] == [
        (2, "properties"), (3, "properties"), (4, "occurred_at"), (5, "occurred_at")
    ]  # fmt: skip
    assert "the number 1e999 is out of range" in report.errors[0]["message"]
    assert report.errors[2]["message"] == "must be between 1900 and 2200"
    [(key, properties)] = Signal.objects.values_list("idempotency_key", "properties")
    assert key == "m5" and float(properties["n"]) == 1e308  # PostgreSQL's jsonb gives it back as an integer


def test_a_cell_over_the_limit_is_a_row_error_naming_its_line(acme, monkeypatch):
    """A cell over 128 KB stopped the import with a _csv.Error traceback; now cells up to MAX_CELL_CHARS load and
    a longer one is refused with its line, the next rows still read."""
    from signals_app import importing

    big = "x" * 200_000  # over the csv module's default limit (128 K)
    monkeypatch.setattr(importing, "MAX_CELL_CHARS", 300_000)
    text = SIGNALS_HEADER + f'm1,acme,Demo,2026-03-01,"{{""blob"": ""{big}""}}"\n'
    text += f'm2,acme,Demo,2026-03-01,"{{""blob"": ""{big * 2}""}}"\nm3,acme,Demo,2026-03-02,\n'
    report = run("signals", text)
    assert report.errors == [
        {"line": 3, "field": "row", "message": "a cell is over 292 KB, the largest cell read; line 3 not loaded"}
    ]
    assert sorted(Signal.objects.values_list("idempotency_key", flat=True)) == ["m1", "m3"]


def test_an_unterminated_quote_at_the_end_is_reported_at_the_line_it_opened(acme):
    """It used to swallow the next rows into one cell and report success."""
    text = SIGNALS_HEADER + 'm1,acme,Demo,2026-03-01,\nm2,acme,"Demo,2026-03-02,\nm3,acme,Demo,2026-03-03,\n'
    report = run("signals", text)
    assert report.errors == [
        {"line": 3, "field": "file", "message": (
            "a quote opened on line 3 is never closed, so lines 3 to 4 (the end of the file) were read as one cell "
            'and not loaded: close the quote, or write a quote inside a cell as ""')}
    ]  # fmt: skip
    assert report.failed == 1 and list(Signal.objects.values_list("idempotency_key", flat=True)) == ["m1"]


def test_a_quote_that_swallows_the_next_row_is_caught_and_real_multiline_cells_load(acme):
    text = (
        "message_id,account_external_id,type,occurred_at,detail\n"
        'm1,acme,Note,2026-01-01,"first line\nsecond line, with a comma"\n'  # a real multi-line cell
        'm2,acme,"Note,2026-01-02,\nm3,acme,Note,2026-01-03,5"\n'  # the quote before Note is never closed ...
        "m4,acme,Note,2026-01-04,\n"  # ... until the stray one after 5 on line 5
        'm5,acme,Note,2026-01-05,"a ""quoted"" word"\n'
    )
    report = run("signals", text)
    assert report.errors == [{"line": 4, "field": "row", "message": (
        "the quoted cell in column type runs on to line 5, which reads like a row of its own: is a closing quote "
        "missing? Lines from 4 not loaded")}]  # fmt: skip
    assert sorted(Signal.objects.values_list("idempotency_key", "detail")) == [
        ("m1", "first line\nsecond line, with a comma"), ("m4", ""), ("m5", 'a "quoted" word')
    ]  # fmt: skip


def test_text_after_a_closing_quote_is_a_row_error_and_the_next_rows_load(acme):
    text = SIGNALS_HEADER + 'm1,acme,"Demo"x,2026-03-01,\nm2,acme,Demo,2026-03-02,\n'
    report = run("signals", text)
    assert [(e["line"], e["field"]) for e in report.errors] == [(2, "row")]
    assert "a closing quote is followed by more text" in report.errors[0]["message"]
    assert list(Signal.objects.values_list("idempotency_key", flat=True)) == ["m2"]


def test_repeated_columns_refuse_the_file_naming_them():
    """The last of two "employees" columns used to win without a word."""
    report = run("accounts", "external_id,employees,name,employees,,\na,5,A,7,,\n")
    assert report.fatal == "line 1: column(s) employees appear more than once; keep one of each"
    assert not Account.objects.exists()


def test_an_unreadable_header_refuses_the_file():
    report = run("accounts", 'external_id,"name\na,A\n')
    assert report.fatal.startswith("line 1: the header row cannot be read: a quote opened on line 1 is never closed")
