"""Benchmark: the web inbox, the account page and the account lists with 100,000 accounts and 1,000,000 tasks in
PostgreSQL: p95 server time and query count of each page, beside the raw SQL of the page's main query.

    .venv/bin/python bench/inbox.py [--accounts 100000] [--tasks 1000000] [--runs 40]
                                    [--database-url postgres://postgres@127.0.0.1:5432/klearly_bench_inbox]

The world is generated inside PostgreSQL with generate_series (not timed) and kept between runs of the same size:
40 operators in 8 teams and an admin; accounts with scores, 3 contacts each (with contact scores), 10 signals each,
90 days of score history for 2,000 of them, rule hits on 5%; tasks spread over the accounts with 10% still open or
snoozed (the rest closed, as an inbox that has been worked for a while). Pages are requested through Django's test
client (middleware, session, template rendering: the whole server side, without the network), each ``--runs``
times after a warm-up. Baseline: the page's main query (the task or account rows of the page) sent as raw SQL on
the same connection. Goal (issue 6): every page's p95 within 150 ms, and the same number of queries for a page of
10 rows as for a page of 50.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/klearly_bench_inbox"
OPERATORS, TEAMS = 40, 8
GOAL_MS = 150.0


def setup(database_url: str) -> None:
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(database_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = database_url
    # Production-like: no DEBUG (no query log kept), a real secret, the test client's host allowed.
    os.environ.update({"DEBUG": "false", "SECRET_KEY": "bench-inbox", "ALLOWED_HOSTS": "testserver"})
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "klearly.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def build_world(accounts: int, tasks: int, rebuild: bool = False) -> None:
    """Everything the pages read, made by the database itself (set-based), unless a world of this size is there."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from accounts.models import Segment
    from playbooks.models import Playbook, Team
    from scoring.models import SignalRule
    from signals_app.models import IngestionSource, SignalType

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM accounts_account WHERE external_id LIKE 'ib-%%'")
        have_accounts = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM playbooks_task")
        have_tasks = cursor.fetchone()[0]
    if have_accounts == accounts and have_tasks == tasks and not rebuild:
        print(f"reusing the world: {accounts:,} accounts, {tasks:,} tasks")
        return
    print(f"building {accounts:,} accounts and {tasks:,} tasks in PostgreSQL (not timed) ...", flush=True)
    started = time.perf_counter()
    user_model = get_user_model()
    operators = []
    for i in range(OPERATORS):
        user, _ = user_model.objects.get_or_create(
            username=f"bench.op{i}", defaults={"first_name": f"Op{i}", "email": f"op{i}@bench.example"}
        )
        operators.append(user)
    admin, _ = user_model.objects.get_or_create(username="bench.admin", defaults={"is_staff": True})
    teams = []
    for t in range(TEAMS):
        team, _ = Team.objects.get_or_create(name=f"Bench team {t}")
        team.members.set(operators[t::TEAMS])
        teams.append(team)
    playbooks = [
        Playbook.objects.get_or_create(name=name, defaults={"trigger_kind": "score_crossing", "trigger_params": {
            "score": "lead", "threshold": 65, "direction": "up"}})[0]
        for name in ("Bench trial to paid", "Bench expansion", "Bench churn risk")
    ]  # fmt: skip
    segment, _ = Segment.objects.get_or_create(name="Bench trials")
    rule, _ = SignalRule.objects.get_or_create(name="Potential problem account", defaults={"conditions": {}})
    source, _ = IngestionSource.objects.get_or_create(name="Bench inbox")
    types = [
        SignalType.objects.get_or_create(key=key, defaults={"label": key.replace("-", " ").capitalize()})[0].pk
        for key in ("pricing-page-view", "demo-request", "login", "report-exported", "email-click")
    ]
    op_ids = [u.pk for u in operators]
    team_of = [teams[i % TEAMS].pk for i in range(OPERATORS)]  # operator i is in team i % TEAMS
    contributions = (
        '{"lead": [{"source": "score", "label": "Fit", "points": 40}, {"source": "score", "label": "Engagement", '
        '"points": 30}], "fit": [{"source": "fit_rule", "label": "Software company", "points": 30}, {"source": '
        '"penalty", "label": "Missing country", "points": -5}], "engagement": [{"source": "engagement_rule", '
        '"label": "Pricing page view × 4", "points": 18.5}, {"source": "engagement_rule", "label": "Demo request", '
        '"points": 12}], "signal_strength": []}'
    )
    reason = (
        '{"summary": "Lead score rose to 71 (crossed 65)", "score": "lead", "before": 58, "after": 71, "top": '
        '[{"label": "Pricing page view × 4", "points": 18.5}, {"label": "Demo request", "points": 12}]}'
    )
    with connection.cursor() as cursor:
        # The bench database is the bench's own: start from empty accounts and everything that hangs on them.
        cursor.execute("TRUNCATE accounts_account CASCADE")
        cursor.execute("SELECT array_agg(id ORDER BY position) FROM accounts_journeystage")
        stages = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO accounts_account (external_id, name, domain, industry, employees, country, created_at, "
            "owner_id, stage_id, traits, updated_at) SELECT 'ib-' || g, 'Bench company ' || g, 'b' || g || '.example', "
            "(ARRAY['Software','Retail','Finance','Health'])[1 + g %% 4], 10 + (g * 7919) %% 3000, 'US', "
            "now() - ((g %% 900) || ' days')::interval, (%s::bigint[])[1 + g %% %s], (%s::bigint[])[1 + g %% %s], "
            "'{}', now() FROM generate_series(1, %s) g",
            [op_ids, OPERATORS, stages, len(stages), accounts],
        )
        cursor.execute("SELECT min(id) FROM accounts_account WHERE external_id LIKE 'ib-%%'")
        first = cursor.fetchone()[0]
        # Random but seeded (the same world every build), so flags do not line up with owners or teams by arithmetic.
        cursor.execute("SELECT setseed(0.17)")
        cursor.execute(
            "INSERT INTO scoring_accountscore (account_id, fit, completeness, engagement, lead, grade, temperature, "
            "qualified, qualified_at, signal_strength, signal_strength_baseline, surging, tenure_days, size_band, "
            "active_users_7d, active_users_30d, total_users, active_ratio_30d, contributions, config_version, "
            "computed_at) SELECT id, l / 2, 100, l / 2, l, CASE WHEN l >= 80 THEN 'A' WHEN l >= 60 THEN 'B' "
            "WHEN l >= 40 THEN 'C' ELSE 'D' END, CASE WHEN l >= 80 THEN 'hot' WHEN l >= 30 THEN 'warm' ELSE 'cold' "
            "END, l >= 65, CASE WHEN l >= 65 THEN now() END, (id %% 37), (id %% 23), random() < 0.02, 100, "
            "'medium', 2, 3, 3, 1, %s::jsonb, 1, now() FROM (SELECT id, ((id * 7919) %% 10001) / 100.0 AS l "
            "FROM accounts_account WHERE external_id LIKE 'ib-%%') a",
            [contributions],
        )
        cursor.execute(
            "INSERT INTO accounts_contact (external_id, account_id, email, first_name, last_name, title, created_at, "
            "traits) SELECT 'ib-' || a.id || '-' || u, a.id, 'u' || u || '@' || a.domain, 'Ann', 'Lee', "
            "(ARRAY['CEO','VP Sales','Engineer'])[u], a.created_at, '{}' FROM accounts_account a "
            "CROSS JOIN generate_series(1, 3) u WHERE a.external_id LIKE 'ib-%%'",
            [],
        )
        cursor.execute(
            "INSERT INTO scoring_contactscore (contact_id, account_id, engagement, last_activity_at, active, "
            "computed_at) SELECT id, account_id, id %% 40, now() - ((id %% 30) || ' days')::interval, id %% 3 = 0, "
            "now() FROM accounts_contact WHERE external_id LIKE 'ib-%%'",
            [],
        )
        cursor.execute(
            "INSERT INTO signals_app_signal (account_id, contact_id, anonymous_id, type_id, detail, direction, source, "
            "occurred_at, received_at, properties, ingestion_source_id, idempotency_key) SELECT a.id, NULL, '', "
            "(%s::bigint[])[1 + (a.id + g) %% 5], '', (ARRAY['inbound','outbound'])[1 + g %% 2], 'product', "
            "now() - ((g * 3 + a.id %% 7) || ' days')::interval, now(), '{}', %s, 'ib-' || a.id || '-' || g "
            "FROM accounts_account a CROSS JOIN generate_series(1, 10) g WHERE a.external_id LIKE 'ib-%%'",
            [types, source.pk],
        )
        cursor.execute(
            "INSERT INTO scoring_scorehistory (account_id, date, fit, engagement, lead, signal_strength, grade, "
            "temperature, qualified, surging, config_version, computed_at) SELECT a.id, current_date - d, 40, "
            "20 + d %% 10, 60 + d %% 10, 5, 'B', 'warm', false, false, 1, now() - d * interval '1 day' "
            "FROM accounts_account a "
            "CROSS JOIN generate_series(0, 89) d WHERE a.id < %s",
            [first + 2000],
        )
        cursor.execute(
            "INSERT INTO signals_app_rulehit (rule_id, account_id, set_at, values, evaluated_at) SELECT %s, id, now(), "
            "'{}', now() FROM accounts_account WHERE external_id LIKE 'ib-%%' AND random() < 0.05",
            [rule.pk],
        )
        cursor.execute(
            "INSERT INTO accounts_segmentmembership (segment_id, account_id, entered_at) SELECT %s, id, now() "
            "FROM accounts_account WHERE external_id LIKE 'ib-%%' AND random() < 0.2",
            [segment.pk],
        )
        # Tasks on random accounts (seeded: the same world every build): 8% open, 2% snoozed, the rest done or
        # dismissed; 40% of the active ones unassigned; the team is the account owner's, the assignee one of it.
        cursor.execute("SELECT setseed(0.42)")
        cursor.execute(
            "INSERT INTO playbooks_task (account_id, playbook_id, reason_key, title, body, reason, status, outcome, "
            "dismiss_reason, priority, due_at, snoozed_until, assignee_id, team_id, likelihood, created_at, "
            "updated_at, closed_at) SELECT s.account_id, (%s::bigint[])[1 + g %% 3], 'r' || g, "
            "'Call ' || a.name, '', %s::jsonb, s.status, CASE WHEN s.status = 'done' THEN 'reached' ELSE '' END, "
            "CASE WHEN s.status = 'dismissed' THEN 'not_relevant' ELSE '' END, 1 + floor(s.r3 * 4)::int, "
            "now() + (s.r4 * 25 - 5) * interval '1 day', "
            "CASE WHEN s.status = 'snoozed' THEN now() + interval '3 days' END, "
            "CASE WHEN s.status IN ('open', 'snoozed') AND s.r2 < 0.4 THEN NULL ELSE "
            "(%s::bigint[])[1 + ((a.owner_idx + %s * floor(s.r2 * 5)::int) %% %s)] END, "
            "(%s::bigint[])[1 + a.owner_idx %% %s], sc.lead, now() - s.r4 * interval '30 days', now(), "
            "CASE WHEN s.status IN ('done', 'dismissed') THEN now() - s.r4 * interval '20 days' END "
            "FROM (SELECT g, r1, r2, r3, r4, %s + floor(r0 * %s)::bigint AS account_id, CASE WHEN r1 < 0.08 THEN "
            "'open' WHEN r1 < 0.10 THEN 'snoozed' WHEN r1 < 0.80 THEN 'done' ELSE 'dismissed' END AS status "
            "FROM (SELECT g, random() r0, random() r1, random() r2, random() r3, random() r4 "
            "FROM generate_series(1, %s) g) r) s JOIN (SELECT id, name, array_position(%s::bigint[], "
            "owner_id) - 1 AS owner_idx FROM accounts_account) a ON a.id = s.account_id "
            "JOIN scoring_accountscore sc ON sc.account_id = s.account_id",
            [[p.pk for p in playbooks], reason, op_ids, TEAMS, OPERATORS, team_of, OPERATORS, first, accounts, tasks,
             op_ids],
        )  # fmt: skip
    # As autovacuum leaves a table in production: statistics and the visibility map (index-only scans) up to date.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"built in {time.perf_counter() - started:.0f} s", flush=True)


class QueryCount:
    """Counts the queries run inside it (works with DEBUG off, unlike Django's query log)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)

    def __len__(self) -> int:
        return self.count


def counting(connection):
    """``with counting(connection) as ctx: ...`` then ``len(ctx)``."""
    from contextlib import contextmanager

    @contextmanager
    def run():
        counter = QueryCount()
        with connection.execute_wrapper(counter):
            yield counter

    return run()


def measure(fn: Callable[[], object], runs: int) -> list[float]:
    for _ in range(3):
        fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20)[-1] if len(times) >= 2 else times[0]


def main() -> None:  # noqa: PLR0915 — a benchmark script read top to bottom: set up, time, print
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument(
        "--rebuild", action="store_true", help="build the world again even if one of this size is there"
    )
    args = parser.parse_args()
    setup(args.database_url)
    build_world(args.accounts, args.tasks, args.rebuild)

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from accounts.models import Account, Segment
    from klearly.web import account_page, inbox, lists, selectors
    from klearly.web.common import querydict
    from klearly.web.filters import AccountListFilterSet
    from playbooks.filters import TaskFilterSet
    from playbooks.models import Playbook
    from playbooks.selectors import account_list_for_user

    user_model = get_user_model()
    operator = user_model.objects.get(username="bench.op3")
    admin = user_model.objects.get(username="bench.admin")
    clients = {}
    for user in (operator, admin):
        client = Client()
        client.force_login(user)
        clients[user.username] = client
    first_id = Account.objects.filter(external_id__startswith="ib-").order_by("id").values_list("id", flat=True)[0]
    # Accounts the operator may see and that have a score history (the chart's line).
    visible = list(
        account_list_for_user(user=operator).filter(pk__lt=first_id + 2000).values_list("pk", flat=True)[:20]
    )
    playbook_id = Playbook.objects.filter(name="Bench trial to paid").values_list("id", flat=True)[0]
    segment_id = Segment.objects.get(name="Bench trials").pk

    def task_sql(user, params: dict) -> tuple[str, list]:
        data = {"status": "open", "view": "mine", "ordering": inbox.SORTS["priority"][1], **params}
        base = selectors.task_inbox_for_user(user=user, view=data["view"])
        qs = TaskFilterSet(querydict(data), queryset=base, user=user).qs
        return qs[: inbox.INBOX_PAGE_SIZE].query.sql_with_params()

    def list_sql(user, preset: dict) -> tuple[str, list]:
        data = querydict(preset, AccountListFilterSet)
        qs = AccountListFilterSet(data, queryset=selectors.account_scores_for_user(user=user)).qs
        return qs[: lists.LIST_PAGE_SIZE].query.sql_with_params()

    def account_sql(account_id: int) -> tuple[str, list]:
        qs = selectors.account_signal_timeline(account_id=account_id)[: account_page.TIMELINE_PAGE_SIZE]
        return qs.query.sql_with_params()

    pages = [
        ("inbox: my tasks (operator)", operator, "/", task_sql(operator, {})),
        ("inbox: my team by likelihood (operator)", operator, "/?view=team&sort=likelihood",
         task_sql(operator, {"view": "team", "ordering": inbox.SORTS["likelihood"][1]})),
        ("inbox: unassigned, grade A, due this week (op.)", operator, "/?view=unassigned&grade=A&due=week",
         task_sql(operator, {"view": "unassigned", "grade": "A", "due": "week"})),
        ("inbox: all open, by priority (admin)", admin, "/?view=all", task_sql(admin, {"view": "all"})),
        ("inbox: all, playbook + segment, by due (admin)", admin,
         f"/?view=all&playbook={playbook_id}&segment={segment_id}&sort=due",
         task_sql(admin, {"view": "all", "playbook": str(playbook_id), "segment": str(segment_id),
                          "ordering": inbox.SORTS["due"][1]})),
        ("inbox: all done tasks (admin)", admin, "/?view=all&status=done",
         task_sql(admin, {"view": "all", "status": "done"})),
        ("call list (operator)", operator, "/lists/call/", list_sql(operator, lists.list_preset("call")[0])),
        ("call list (admin)", admin, "/lists/call/", list_sql(admin, lists.list_preset("call")[0])),
        ("at-risk accounts (admin)", admin, "/lists/at-risk/", list_sql(admin, lists.list_preset("at_risk")[0])),
        ("surging accounts (operator)", operator, "/lists/surging/",
         list_sql(operator, lists.list_preset("surging")[0])),
    ]  # fmt: skip
    rows = []
    for name, user, url, (sql, params) in pages:
        client = clients[user.username]
        assert client.get(url).status_code == 200, url
        with counting(connection) as ctx:
            client.get(url)
        times = measure(lambda client=client, url=url: client.get(url), args.runs)

        def raw(sql=sql, params=params) -> None:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                cursor.fetchall()

        rows.append((name, p95(times), statistics.median(times), p95(measure(raw, args.runs)), len(ctx)))
    # The account page: a different visible account each request.
    cycle = iter(visible * (args.runs + 10))
    client = clients[operator.username]
    with counting(connection) as ctx:
        client.get(f"/accounts/{visible[0]}/")
    times = measure(lambda: client.get(f"/accounts/{next(cycle)}/"), args.runs)
    sql, params = account_sql(visible[0])

    def raw_account() -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            cursor.fetchall()

    rows.append(("account page (operator, 20 accounts)", p95(times), statistics.median(times),
                 p95(measure(raw_account, args.runs)), len(ctx)))  # fmt: skip
    with counting(connection) as ctx:
        client.get(f"/accounts/{visible[0]}/?type=login&direction=inbound")
    filtered_account_queries = len(ctx)

    # Queries do not grow with the page: the same page at 10 and at 50 rows.
    sizes = {}
    for size in (10, 50):
        inbox.INBOX_PAGE_SIZE = lists.LIST_PAGE_SIZE = size
        with counting(connection) as ctx:
            clients[admin.username].get("/?view=all")
            clients[admin.username].get("/lists/call/")
        sizes[size] = len(ctx)

    print()
    print(f"{'page':<50} {'p95 ms':>8} {'median':>8} {'main SQL p95':>13} {'queries':>8}")
    for name, page95, median, sql95, count in rows:
        flag = "" if page95 <= GOAL_MS else "  > goal"
        print(f"{name:<50} {page95:>8.1f} {median:>8.1f} {sql95:>13.1f} {count:>8}{flag}")
    print()
    worst = max(row[1] for row in rows)
    print(f"{args.accounts:,} accounts, {args.tasks:,} tasks, {args.runs} runs per page after 3 warm-up requests")
    print(f"account page with timeline filters: {filtered_account_queries} queries")
    print(f"queries for the admin inbox + call list at 10 rows/page: {sizes[10]}, at 50 rows/page: {sizes[50]}")
    print(f"goal: every page p95 <= {GOAL_MS:.0f} ms -> {'met' if worst <= GOAL_MS else 'NOT met'} "
          f"(worst {worst:.1f} ms); queries independent of page size -> "
          f"{'met' if sizes[10] == sizes[50] else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    main()
