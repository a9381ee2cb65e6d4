"""Writing the simulated demo world in one transaction: accounts and contacts through ``accounts.upsert``, stage
history and signals with bulk inserts, then segments; ``accounts.services`` derives the movements and current
stages. Also what seed_demo reports, and deleting the world (``--reset``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Q

from accounts.models import Account, Contact, JourneyStage, Segment, StageTransition
from accounts.services import segments_evaluate_all, stage_history_rebuild
from accounts.upsert import Upsert, accounts_upsert, contacts_upsert
from klearly.demo.catalog import STAGE_KEYS, TOPICS, TYPES
from klearly.demo.setup import demo_catalog_ensure, demo_playbooks_ensure, demo_users_ensure, demo_write_key_ensure
from klearly.demo.simulation import DemoWorld, demo_simulate
from klearly.demo.timing import WINDOW_DAYS, aware_datetimes
from klearly.demo.workspace import DEMO_SEGMENTS, OWNERS, DemoLogin
from scoring.services import scoring_defaults_ensure
from signals_app.choices import IngestionKind
from signals_app.models import IngestionSource, Signal, SignalTopic, SignalType

DEMO_PREFIX = "demo-"  # external ids of demo accounts and contacts start with it; --reset deletes by it
DEMO_SOURCE_NAME = "Demo data"
BATCH_SIZE = 5000


@dataclass
class DemoReport:
    """What ``seed_demo`` did and what is there now: counts, movements, segments, logins and the write key."""

    created: bool
    accounts: int = 0
    contacts: int = 0
    signals: int = 0
    movements: dict[str, int] = field(default_factory=dict)
    segments: dict[str, int] = field(default_factory=dict)
    logins: list[tuple[DemoLogin, bool]] = field(default_factory=list)  # (login, created now)
    write_key: str = ""  # the secret, only when it was created now
    write_key_prefix: str = ""
    seconds: float = 0.0


def _demo_accounts() -> Any:
    return Account.objects.filter(external_id__startswith=DEMO_PREFIX)


def demo_world_exists() -> bool:
    """Whether a demo world is already in the database (demo accounts, or signals from the demo source)."""
    return _demo_accounts().exists() or Signal.objects.filter(ingestion_source__name=DEMO_SOURCE_NAME).exists()


def demo_world_delete() -> dict[str, int]:
    """Delete the demo world: its signals, accounts (with their contacts, transitions, memberships) and segments.

    Users, signal types, topics and sources stay: they are shared with real data and cheap to keep.
    """
    with transaction.atomic():
        signals, _ = Signal.objects.filter(ingestion_source__name=DEMO_SOURCE_NAME).delete()
        contacts, _ = Contact.objects.filter(external_id__startswith=DEMO_PREFIX).delete()
        accounts, _ = _demo_accounts().delete()
        segments, _ = Segment.objects.filter(
            name__in=[name for name, _d, _c in DEMO_SEGMENTS],
            description__in=[description for _n, description, _c in DEMO_SEGMENTS],
        ).delete()
    return {"signals": signals, "contacts": contacts, "accounts": accounts, "segments": segments}


def demo_world_build(
    *,
    accounts: int = 300,
    seed: int = 42,
    reset: bool = False,
    now: datetime | None = None,
    on_step: Callable[[str], None] | None = None,
    on_signals: Callable[[int, int], None] | None = None,
) -> DemoReport:
    """Build the demo world (or report the one already there). ``reset`` deletes the demo world first.

    The same ``seed`` on the same day (``now`` is taken to midnight UTC) builds the same world. Everything is
    written in one transaction, so a failure leaves nothing half built.
    """
    began = time.monotonic()
    step = on_step or (lambda _message: None)
    with transaction.atomic():
        if reset:
            step("Deleting the demo world")
            demo_world_delete()
        logins = demo_users_ensure()
        demo_playbooks_ensure()
        if demo_world_exists():
            report = _report(DemoReport(created=False, logins=logins))
            report.write_key, report.write_key_prefix = demo_write_key_ensure(reset=False)
            report.seconds = time.monotonic() - began
            return report

        step(f"Simulating {accounts} accounts over {WINDOW_DAYS} days (seed {seed})")
        world = demo_simulate(accounts=accounts, seed=seed, now=now)
        _world_write(world, step=step, on_signals=on_signals)
        report = DemoReport(created=True, logins=logins)
        report.write_key, report.write_key_prefix = demo_write_key_ensure(reset=reset)
        _report(report)
    report.seconds = time.monotonic() - began
    return report


def _world_write(
    world: DemoWorld, *, step: Callable[[str], None], on_signals: Callable[[int, int], None] | None
) -> None:
    """Write a simulated world: catalog rows, accounts, contacts, stage history, signals, then the segments."""
    types, topics = demo_catalog_ensure()
    # The default engagement rules of the demo's signal types, now that the types exist: the rescores, the
    # models' training and the score history of the past all count engagement with the same rules.
    scoring_defaults_ensure()
    source, _ = IngestionSource.objects.get_or_create(name=DEMO_SOURCE_NAME, defaults={"kind": IngestionKind.API})
    owners = {u.username: u for u in get_user_model().objects.filter(username__in=OWNERS)}
    stage_by_key = {s.key: s for s in JourneyStage.objects.filter(key__in=STAGE_KEYS)}
    missing = set(STAGE_KEYS) - set(stage_by_key)
    if missing:
        raise RuntimeError(f"journey stages missing (run migrate): {', '.join(sorted(missing))}")

    step(f"Writing {len(world.names)} accounts and {len(world.c_account)} contacts")
    account_ids = _accounts_write(world, owners=owners)
    contact_ids = _contacts_write(world, account_ids=account_ids)

    step(f"Writing {len(world.tr_account)} stage transitions")
    _transitions_write(world, account_ids=account_ids, stage_ids=[stage_by_key[key].pk for key in STAGE_KEYS])
    stage_history_rebuild(account_ids=account_ids.tolist())

    step(f"Writing {len(world.s_type)} signals")
    _signals_write(
        world,
        account_ids=account_ids,
        contact_ids=contact_ids,
        types=types,
        topics=topics,
        source=source,
        on_signals=on_signals,
    )

    step("Creating segments and evaluating them")
    for name, description, criteria in DEMO_SEGMENTS:
        Segment.objects.get_or_create(name=name, defaults={"description": description, "criteria": criteria})
    segments_evaluate_all()


def _accounts_write(world: DemoWorld, *, owners: dict[str, Any]) -> np.ndarray:
    """The world's accounts, in its order, through the one upsert (no source: the demo owns every field); returns
    their ids (index: the simulation's account number)."""
    created = aware_datetimes(world.start, world.account_created)
    external_ids = [f"{DEMO_PREFIX}acc-{a + 1:05d}" for a in range(len(world.names))]
    result = accounts_upsert(
        rows=[
            Upsert(
                external_ids[a],
                {
                    "name": world.names[a],
                    "domain": world.domains[a],
                    "industry": world.industries[a],
                    "employees": int(world.employees[a]) if world.employees[a] >= 0 else None,
                    "annual_revenue": None if np.isnan(world.revenue[a]) else Decimal(int(world.revenue[a])),
                    "country": world.countries[a],
                    "created_at": created[a],
                    "owner_id": owner.pk if (name := world.account_owner[a]) and (owner := owners.get(name)) else None,
                },
                world.account_traits[a],
            )
            for a in range(len(world.names))
        ]
    )
    return np.array([result.ids[ext] for ext in external_ids], dtype=np.int64)


def _contacts_write(world: DemoWorld, *, account_ids: np.ndarray) -> np.ndarray:
    """The world's contacts, through the one upsert; returns their ids, with a last entry 0 so that index -1 (no
    contact) maps to 0."""
    contact_created = aware_datetimes(world.start, world.c_created)
    last_seen = aware_datetimes(world.start, np.maximum(world.c_last_seen, 0))
    external_ids = [f"{DEMO_PREFIX}ct-{c + 1:06d}" for c in range(len(world.c_account))]
    result = contacts_upsert(
        rows=[
            Upsert(
                external_ids[c],
                {
                    "account_id": int(account_ids[world.c_account[c]]),
                    "email": world.c_email[c],
                    "first_name": world.c_first[c],
                    "last_name": world.c_last[c],
                    "title": world.c_title[c],
                    "created_at": contact_created[c],
                    "last_seen_at": last_seen[c] if world.c_last_seen[c] >= 0 else None,
                },
            )
            for c in range(len(world.c_account))
        ]
    )
    return np.array([result.ids[ext] for ext in external_ids] + [0], dtype=np.int64)  # [-1] -> 0 -> None


def _transitions_write(world: DemoWorld, *, account_ids: np.ndarray, stage_ids: list[int]) -> None:
    """The world's stage changes; ``stage_ids`` are the journey stages' ids in the order of ``STAGE_KEYS``."""
    changed = aware_datetimes(world.start, world.tr_time)
    StageTransition.objects.bulk_create(
        [
            # "entry" is a placeholder: stage_history_rebuild derives from_stage and the movement
            StageTransition(
                account_id=int(account_ids[a]), to_stage_id=stage_ids[s], changed_at=changed[i], movement="entry"
            )
            for i, (a, s) in enumerate(zip(world.tr_account.tolist(), world.tr_stage.tolist(), strict=True))
        ],
        batch_size=BATCH_SIZE,
    )


def _signals_write(
    world: DemoWorld,
    *,
    account_ids: np.ndarray,
    contact_ids: np.ndarray,
    types: dict[str, SignalType],
    topics: dict[str, SignalTopic],
    source: IngestionSource,
    on_signals: Callable[[int, int], None] | None,
) -> None:
    """The world's signals, a batch at a time (``on_signals(done, total)`` after each)."""
    total = len(world.s_type)
    type_rows = [types[spec.key] for spec in TYPES]
    type_ids = [t.pk for t in type_rows]
    directions = [t.default_direction for t in type_rows]
    sources = [t.default_source for t in type_rows]
    topic_ids = [topics[key].pk for key, _l, _p in TOPICS] + [None]  # [-1] -> None
    for begin in range(0, total, BATCH_SIZE):
        end = min(begin + BATCH_SIZE, total)
        part = slice(begin, end)
        occurred = aware_datetimes(world.start, world.s_time[part])
        received = aware_datetimes(world.start, world.s_time[part] + world.s_received_delay[part])
        rows = []
        for i, (a, t, c, tp) in enumerate(
            zip(
                account_ids[world.s_account[part]].tolist(),
                world.s_type[part].tolist(),
                contact_ids[world.s_contact[part]].tolist(),
                world.s_topic[part].tolist(),
                strict=True,
            )
        ):
            n = begin + i
            rows.append(
                Signal(
                    account_id=a,
                    contact_id=c or None,
                    anonymous_id=world.s_anonymous[n],
                    type_id=type_ids[t],
                    detail=world.s_detail[n],
                    topic_id=topic_ids[tp],
                    direction=directions[t],
                    source=sources[t],
                    occurred_at=occurred[i],
                    received_at=received[i],
                    properties=world.s_properties[n],
                    ingestion_source=source,
                    idempotency_key=f"demo-{n}",
                )
            )
        Signal.objects.bulk_create(rows, batch_size=BATCH_SIZE)
        if on_signals:
            on_signals(end, total)


def _report(report: DemoReport) -> DemoReport:
    """Fill the counts of what is in the database now."""
    accounts = _demo_accounts()
    report.accounts = accounts.count()
    report.contacts = Contact.objects.filter(account__in=accounts).count()
    report.signals = Signal.objects.filter(ingestion_source__name=DEMO_SOURCE_NAME).count()
    report.movements = dict(
        StageTransition.objects.filter(account__in=accounts)
        .values_list("movement")
        .annotate(n=Count("id"))
        .order_by("movement")
    )
    report.segments = dict(
        Segment.objects.filter(name__in=[name for name, _d, _c in DEMO_SEGMENTS])
        .annotate(n=Count("memberships", filter=Q(memberships__exited_at__isnull=True)))
        .values_list("name", "n")
        .order_by("name")
    )
    return report
