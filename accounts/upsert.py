"""The one way accounts and contacts are created and changed by external id: events (``signals_app.ingest``), the
REST API (``accounts.services``), CSV imports (``signals_app.importing``, the admin's import through it) and the
demo all go through ``accounts_upsert`` and ``contacts_upsert``. Set-based: one query reads the records a batch
names, one ``bulk_create`` and one ``bulk_update`` write them, one query reads their ids.

**Absent and null** (fields and traits alike, whichever door a value came through):

- a field or trait that is not sent is kept as stored;
- a trait sent as null is removed; a field sent as null is cleared (blank text, no number). Fields that cannot be
  empty (``created_at``) ignore a null.

Each door says what "not sent" and "null" are in its own format: in JSON (REST, events) a missing key and
``null``; in a CSV file a missing column and an empty cell (events treat an empty string for a field as null too).

**Who may change what**: a write made for an ingestion ``source`` (a write key's events) creates unknown records
with ``origin_source_id`` set to it, and changes an existing record's field only where
``source.may_update(origin_source_id=…, field="account.name")`` allows; the changes it may not make are returned in
``UpsertResult.held`` (the caller keeps them in ``signals_app.TraitsHistory``). Without a source (REST API, CSV,
admin, demo) every change is applied.

Accounts whose records were created or changed (and, for contacts, the accounts they left) are marked for
rescoring in the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, cast

from django.db import connection
from django.utils import timezone

from . import services
from .models import Account, Contact

# What the REST API may set on each (``external_id`` renames a record on update).
ACCOUNT_FIELDS = ("external_id", "name", "domain", "industry", "employees", "annual_revenue", "country", "created_at")
CONTACT_FIELDS = ("external_id", "email", "first_name", "last_name", "title", "created_at")
# Columns a null clears to blank text rather than to NULL.
_TEXT_FIELDS = {"name", "domain", "industry", "country", "email", "first_name", "last_name", "title", "external_id"}
_NOT_NULL = {"created_at"}
_LOWERED = {"domain", "email"}
_MISSING = object()
_CHUNK = 2000  # ids per IN list: well inside SQLite's parameter limit


def traits_merge(current: dict[str, Any], changes: dict[str, Any] | None) -> dict[str, Any]:
    """Traits after a write: new keys added, changed keys replaced, keys sent as null removed."""
    merged = {**current, **(changes or {})}
    return {key: value for key, value in merged.items() if value is not None}


class WritingSource(Protocol):
    """What the upsert needs of an ingestion source (``signals_app.IngestionSource``) to apply its ownership rule."""

    pk: Any

    def may_update(self, *, origin_source_id: int | None, field: str) -> bool: ...


@dataclass(slots=True)
class Upsert:
    """One write to the record with ``external_id``: the ``fields`` (model attribute names: ``owner_id``,
    ``account_id``, ``stage_id`` included) and ``traits`` sent. ``first_seen`` dates a record this write creates when
    ``created_at`` is not sent; ``ref`` is the caller's (an event, a line), handed back with held changes."""

    external_id: str
    fields: dict[str, Any] = field(default_factory=dict)
    traits: dict[str, Any] = field(default_factory=dict)
    first_seen: datetime | None = None
    ref: Any = None


@dataclass(slots=True)
class Held:
    """Changes a source sent for a record it may not change (``changes``: field -> value, ``traits`` -> dict)."""

    ref: Any
    record_id: int
    changes: dict[str, Any]


@dataclass
class UpsertResult:
    """What an upsert did, by the external ids written to."""

    ids: dict[str, int] = field(default_factory=dict)  # every external id named -> its record's id
    created: set[str] = field(default_factory=set)
    updated: set[str] = field(default_factory=set)  # existing records with at least one value changed
    records: dict[str, Any] = field(default_factory=dict)  # external id -> the model instance written (or read)
    held: list[Held] = field(default_factory=list)
    moved: dict[int, int | None] = field(default_factory=dict)  # contact id -> account it left (contacts only)
    contacts: dict[str, tuple[int, int | None]] = field(default_factory=dict)  # contacts only: id, account id


def accounts_upsert(
    *,
    rows: Sequence[Upsert],
    source: WritingSource | None = None,
    bare: Iterable[str] = (),
    bare_created_at: datetime | None = None,
) -> UpsertResult:
    """Create or change accounts by external id, in the order of ``rows`` (a later write to the same id sees the
    earlier ones). ``bare``: external ids to create, empty, when they do not exist (first seen ``bare_created_at``)."""
    result = UpsertResult()
    names = {r.external_id for r in rows} | set(bare)
    result.records = _existing(Account, names)
    changed = _apply("account", rows, source, result)
    _add_bare("account", names, bare_created_at, source, result)
    Account.objects.bulk_create(_created(result), batch_size=1000, ignore_conflicts=True)
    if changed:
        now = timezone.now()
        for account, _ in changed.values():
            account.updated_at = now
        columns = {"updated_at"}.union(*(columns for _, columns in changed.values()))
        Account.objects.bulk_update([a for a, _ in changed.values()], sorted(columns), batch_size=1000)
    result.ids = {ext: r.pk for ext, r in result.records.items() if ext not in result.created}
    for chunk in _chunks(sorted(result.created)):
        result.ids.update(Account.objects.filter(external_id__in=chunk).values_list("external_id", "pk"))
    services.accounts_mark_for_rescore(account_ids=[result.ids.get(ext) for ext in result.created | result.updated])
    return result


def contacts_upsert(
    *,
    rows: Sequence[Upsert],
    source: WritingSource | None = None,
    bare: Iterable[str] = (),
    bare_created_at: datetime | None = None,
) -> UpsertResult:
    """Create or change contacts by external id (see ``accounts_upsert``); ``account_id`` in a row's fields moves
    the contact (``moved`` gives the account each existing contact left). ``contacts`` gives every named contact's
    id and account id."""
    result = UpsertResult()
    names = {r.external_id for r in rows} | set(bare)
    if not rows:  # only bare contacts (users named by track events): ids are all the caller needs
        result.contacts = contact_ids_load(names)
        missing = names - set(result.contacts)
        if missing:
            origin = source.pk if source is not None else None
            created_at = bare_created_at or timezone.now()
            Contact.objects.bulk_create(
                [Contact(external_id=ext, created_at=created_at, traits={}, origin_source_id=origin)
                 for ext in sorted(missing)],
                ignore_conflicts=True,
            )  # fmt: skip
            result.contacts.update(contact_ids_load(missing))
            result.created = missing
        result.ids = {ext: pk for ext, (pk, _) in result.contacts.items()}
        return result
    result.records = _existing(Contact, names)
    changed = _apply("contact", rows, source, result)
    _add_bare("contact", names, bare_created_at, source, result)
    Contact.objects.bulk_create(_created(result), batch_size=1000, ignore_conflicts=True)
    if changed:
        columns = set().union(*(columns for _, columns in changed.values()))
        Contact.objects.bulk_update([c for c, _ in changed.values()], sorted(columns), batch_size=1000)
    result.contacts = {ext: (r.pk, r.account_id) for ext, r in result.records.items() if ext not in result.created}
    result.contacts.update(contact_ids_load(result.created))
    result.ids = {ext: pk for ext, (pk, _) in result.contacts.items()}
    touched = [result.contacts.get(ext, (None, None))[1] for ext in result.created | result.updated]
    services.accounts_mark_for_rescore(account_ids=[*touched, *result.moved.values()])
    return result


def contact_ids_load(external_ids: Iterable[str]) -> dict[str, tuple[int, int | None]]:
    """External id -> (id, account id) of the contacts that exist."""
    wanted = sorted(set(external_ids))
    found: dict[str, tuple[int, int | None]] = {}
    if not wanted:
        return found
    if connection.vendor == "postgresql":
        # One array parameter instead of an IN list of hundreds: PostgreSQL parses and plans it in a fraction of the
        # time, and ingestion runs it for every batch.
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT external_id, id, account_id FROM {Contact._meta.db_table} WHERE external_id = ANY(%s)",
                [wanted],
            )
            rows: Iterable[tuple[str, int, int | None]] = cursor.fetchall()
            return {ext: (pk, account_id) for ext, pk, account_id in rows}
    for chunk in _chunks(wanted):
        for ext, pk, account_id in Contact.objects.filter(external_id__in=chunk).values_list(
            "external_id", "pk", "account_id"
        ):
            found[cast(str, ext)] = (pk, account_id)  # external_id__in matches no NULL
    return found


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _existing(model: type[Account] | type[Contact], names: set[str]) -> dict[str, Any]:
    records: dict[str, Any] = {}
    for chunk in _chunks(sorted(names)):
        records.update((cast(str, r.external_id), r) for r in model._default_manager.filter(external_id__in=chunk))
    return records


def _created(result: UpsertResult) -> list[Any]:
    """The records this write creates, in the order of its rows (then the bare ones), so that their ids follow it."""
    return [record for ext, record in result.records.items() if ext in result.created]


def _new(kind: str, external_id: str, created_at: datetime | None, origin: int | None) -> Account | Contact:
    model = Account if kind == "account" else Contact
    record = model(external_id=external_id, traits={}, origin_source_id=origin)
    if created_at is not None:
        record.created_at = created_at
    return record


def _add_bare(
    kind: str, names: set[str], created_at: datetime | None, source: WritingSource | None, result: UpsertResult
) -> None:
    """Empty records for the names no row wrote and no record has."""
    missing = names - set(result.records)
    origin = source.pk if source is not None else None
    for ext in sorted(missing):
        result.records[ext] = _new(kind, ext, created_at, origin)
        result.created.add(ext)


def _column(name: str) -> str:
    """The field a value is for (``owner_id`` -> ``owner``)."""
    return name[:-3] if name.endswith("_id") and name != "external_id" else name


def _normalised(fields: dict[str, Any]) -> dict[str, Any]:
    """Fields as stored: null clears text to blank (and is ignored where a column cannot be empty), domains and
    emails in lower case."""
    out = {}
    for name, value in fields.items():
        if value is None:
            if name in _NOT_NULL:
                continue
            if name in _TEXT_FIELDS:
                value = ""
        elif name in _LOWERED and isinstance(value, str):
            value = value.lower()
        out[name] = value
    return out


def _apply(kind: str, rows: Sequence[Upsert], source: WritingSource | None, result: UpsertResult) -> dict[int, Any]:
    """Set each row's values on its record (made when new); returns id -> (record, changed columns) for existing
    records that changed."""
    changed: dict[int, tuple[Any, set[str]]] = {}
    held_seen: set[tuple[int, str]] = set()
    origin = source.pk if source is not None else None
    for row in rows:
        fields = _normalised(row.fields)
        traits = row.traits
        record = result.records.get(row.external_id)
        if record is None:
            record = _new(kind, row.external_id, fields.get("created_at") or row.first_seen, origin)
            result.records[row.external_id] = record
            result.created.add(row.external_id)
        elif source is not None and record.pk is not None:  # a record made earlier in the batch is the source's
            fields, traits, held = _split(kind, record, fields, traits, source)
            seen = (record.pk, json.dumps(held, sort_keys=True, default=str)) if held else None
            if seen is not None and seen not in held_seen:  # one entry per record and change in a batch
                held_seen.add(seen)
                result.held.append(Held(ref=row.ref, record_id=record.pk, changes=held))
        before = record.account_id if isinstance(record, Contact) else None
        columns = _set_values(record, fields, traits)
        if record.pk is not None and columns:
            changed.setdefault(record.pk, (record, set()))[1].update(columns)
            result.updated.add(row.external_id)
            if "account" in columns:
                result.moved.setdefault(record.pk, before)
    return changed


def _split(
    kind: str, record: Account | Contact, fields: dict[str, Any], traits: dict[str, Any], source: WritingSource
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The fields and traits this source may change on an existing record, and the differing rest (held)."""
    origin = record.origin_source_id
    allowed: dict[str, Any] = {}
    held: dict[str, Any] = {}
    for name, value in fields.items():
        column = _column(name)
        if source.may_update(origin_source_id=origin, field=f"{kind}.{column}"):
            allowed[name] = value
        elif getattr(record, name) != value:
            held[column] = str(value) if isinstance(value, Decimal) else value
    if traits and not source.may_update(origin_source_id=origin, field=f"{kind}.traits"):
        stored = record.traits
        differing = {k: v for k, v in traits.items() if stored.get(k, _MISSING) != v and (v is not None or k in stored)}
        if differing:
            held["traits"] = differing
        traits = {}
    return allowed, traits, held


def _set_values(record: Account | Contact, fields: dict[str, Any], traits: dict[str, Any]) -> set[str]:
    """Set the values that differ; returns the columns changed."""
    columns = set()
    for name, value in fields.items():
        if getattr(record, name) != value:
            setattr(record, name, value)
            columns.add(_column(name))
    if traits:
        merged = traits_merge(record.traits, traits)
        if merged != record.traits:
            record.traits = merged
            columns.add("traits")
    return columns
