"""Storing a batch of Segment-compatible events, set-based: groups upsert accounts, identifies upsert contacts,
aliases and identifies attach earlier anonymous signals, and track/page/screen events become signals through the
admin-editable event mappings. One transaction per batch; the same batch sent twice stores nothing twice.
"""

from __future__ import annotations

import fnmatch
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from django.db import transaction
from django.db.models import Q

from accounts.services import accounts_mark_for_rescore
from accounts.upsert import Held, Upsert, accounts_upsert, contacts_upsert

from . import parsing
from .events import Event, EventInvalid
from .importing import Lookups
from .models import EventMapping, IngestionSource, Signal, TraitsHistory
from .storage import signals_insert

PAGE_TYPE, SCREEN_TYPE = ("page-view", "Page view"), ("screen-view", "Screen view")


@dataclass
class IngestResult:
    """What a batch did: how many events were stored, already known, or refused (with index and reason)."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class _Mapping:
    kind: str
    regex: re.Pattern
    type_id: int
    topic_id: int | None
    detail: str
    direction: str
    source: str


class _ProcessCache:
    """What every batch needs and rarely changes (event mappings, signal type ids), kept per process for
    ``TTL`` seconds so a batch does not ask for it again; edits in this process clear it at once (see apps.py)."""

    TTL = 30.0

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.loaded_at = time.monotonic()
        self.mappings: dict[int, list[_Mapping]] = {}
        self.types: dict[str, tuple[int, str, str]] = {}

    def fresh(self) -> _ProcessCache:
        if time.monotonic() - self.loaded_at > self.TTL:
            self.clear()
        return self


CACHE = _ProcessCache()


def clear_caches(**_: Any) -> None:
    """Forget cached mappings and types (connected to their models' save and delete)."""
    CACHE.clear()


def _mappings(source: IngestionSource) -> list[_Mapping]:
    cache = CACHE.fresh().mappings
    if source.pk not in cache:
        cache[source.pk] = _load_mappings(source)
    return cache[source.pk]


def _load_mappings(source: IngestionSource) -> list[_Mapping]:
    rows = (
        EventMapping.objects.filter(is_active=True)
        .filter(Q(ingestion_source__isnull=True) | Q(ingestion_source=source))
        .order_by("priority", "id")
        .values_list("kind", "pattern", "signal_type_id", "topic_id", "detail", "direction", "source")
    )
    return [
        _Mapping(kind, re.compile(fnmatch.translate(pattern.lower())), type_id, topic_id, detail, direction, src)
        for kind, pattern, type_id, topic_id, detail, direction, src in rows
    ]


ACCOUNT_TRAITS = {"name": "name", "website": "domain", "domain": "domain", "industry": "industry",
                  "employees": "employees", "country": "country"}  # fmt: skip
# The longest text each account and contact column holds (accounts.models): longer values refuse their event.
TEXT_LIMITS = {"name": 255, "domain": 255, "industry": 100, "country": 64,
               "email": 254, "first_name": 100, "last_name": 100, "title": 200}  # fmt: skip


def _fits(value: Any, column: str, trait: str) -> str:
    """``value`` as text, if its column can hold it; else the event is refused naming the trait."""
    text = str(value)
    if len(text) > TEXT_LIMITS[column]:
        raise EventInvalid(f"traits.{trait} is longer than {TEXT_LIMITS[column]} characters", f"traits.{trait}")
    return text


def _account_fields(traits: dict) -> tuple[dict, dict]:
    """The account columns a group call's traits set, and the other traits. A value that is not a number stays a
    trait; one its column cannot hold (out of range, too long) raises EventInvalid (see ``events_check``); null or
    an empty string clears its column (``accounts.upsert``)."""
    fields: dict[str, Any] = {}
    rest = {}
    for key, value in traits.items():
        target = ACCOUNT_TRAITS.get(key)
        if key in ("annual_revenue", "annualRevenue"):
            target = "annual_revenue"
        if target is None:
            if key != "address":
                rest[key] = value
            continue
        if value in (None, ""):
            fields[target] = None
            continue
        try:
            if target == "employees":
                fields[target] = parsing.parse_int(str(value))
            elif target == "annual_revenue":
                fields[target] = parsing.parse_decimal(str(value))
            elif target == "domain":
                fields[target] = _fits(re.sub(r"^https?://(www\.)?", "", str(value)).strip("/").lower(), target, key)
            else:
                fields[target] = _fits(value, target, key)
        except parsing.OutOfRange as exc:
            raise EventInvalid(f"traits.{key} {exc}", f"traits.{key}") from None
        except ValueError:
            rest[key] = value
    address = traits.get("address")
    if isinstance(address, dict) and address.get("country"):
        fields["country"] = _fits(address["country"], "country", "address.country")
    return fields, rest


CONTACT_TRAITS = {"email": ("email",), "firstName": ("first_name",), "first_name": ("first_name",),
                  "lastName": ("last_name",), "last_name": ("last_name",), "title": ("title",),
                  "name": ("first_name", "last_name")}  # fmt: skip


def _contact_fields(traits: dict) -> tuple[dict, dict]:
    """The contact columns an identify call's traits set, and the other traits (see ``_account_fields``)."""
    fields: dict[str, Any] = {}
    rest = {}
    for key, value in traits.items():
        if key in CONTACT_TRAITS and value in (None, ""):  # null clears (a name: both names, unless sent apart)
            for column in CONTACT_TRAITS[key]:
                fields[column] = None if key != "name" else fields.get(column)
            continue
        if key == "email" and isinstance(value, str):
            try:
                fields["email"] = parsing.parse_email(_fits(value.strip(), "email", key))
            except ValueError:
                rest[key] = value
        elif key in ("firstName", "first_name") and value:
            fields["first_name"] = _fits(value, "first_name", key)
        elif key in ("lastName", "last_name") and value:
            fields["last_name"] = _fits(value, "last_name", key)
        elif key == "title" and value:
            fields["title"] = _fits(value, "title", key)
        elif key == "name" and value and "first_name" not in fields:
            first, _, last = str(value).partition(" ")
            fields["first_name"], fields["last_name"] = _fits(first, "first_name", key), _fits(last, "last_name", key)
        elif key != "company":
            rest[key] = value
    return fields, rest


def events_check(*, events: list[Event]) -> tuple[list[Event], list[dict[str, Any]]]:
    """The events whose account and contact fields fit their columns, and ``{index, reason, field}`` for the
    others: checked one by one before a batch is written, so one bad event cannot roll the batch back."""
    rejected, refused = [], set()
    for event in [e for e in events if e.kind in ("group", "identify")]:  # most batches are track events only
        try:
            _account_fields(event.traits) if event.kind == "group" else _contact_fields(event.traits)
        except EventInvalid as exc:
            rejected.append({"index": event.index, "reason": str(exc), "field": exc.field})
            refused.add(event.index)
    return ([e for e in events if e.index not in refused] if refused else events), rejected


class _Batch:
    def __init__(self, source: IngestionSource, received_at: datetime) -> None:
        self.source = source
        self.received_at = received_at
        self.lookups = Lookups()
        self.lookups.types = CACHE.fresh().types  # shared per process: type keys map to the same ids
        self.accounts: dict[str, int] = {}
        self.contacts: dict[str, tuple[int, int | None]] = {}
        self.touched_accounts: set[int] = set()
        self.linked_anonymous: dict[str, int] = {}  # anonymous id -> contact id
        self.moved_contacts: set[int] = set()  # existing contacts that joined an account in this batch
        self.held: list[TraitsHistory] = []  # changes this source may not make, kept instead of applied

    # --- accounts and contacts -------------------------------------------------------------------------
    def upsert_accounts(self, groups: list[Event]) -> None:
        """group events, and an empty account for every groupId named before its group call (``accounts.upsert``:
        this source creates unknown accounts and changes existing ones only where it may)."""
        rows = [Upsert(event.group_id, *_account_fields(event.traits), first_seen=event.occurred_at, ref=event)
                for event in groups]  # fmt: skip
        result = accounts_upsert(
            rows=rows, source=self.source, bare={e.group_id for e in self._with_group}, bare_created_at=self.received_at
        )
        self._keep_held(result.held, "account")
        self.accounts.update(result.ids)
        self.touched_accounts.update(self.accounts.values())

    def upsert_contacts(self, people: list[Event]) -> None:
        """identify events (and group events naming a userId), plus every userId seen in the batch (an empty contact
        until identified); a groupId moves the contact to that account where this source may."""
        rows = []
        for event in people:
            if not event.user_id:
                continue
            fields, traits = _contact_fields(event.traits) if event.kind == "identify" else ({}, {})
            target = self.accounts.get(event.group_id) if event.group_id else None
            if target is not None:
                fields["account_id"] = target
            rows.append(Upsert(event.user_id, fields, traits, first_seen=event.occurred_at, ref=event))
        result = contacts_upsert(rows=rows, source=self.source, bare=self._user_ids, bare_created_at=self.received_at)
        self._keep_held(result.held, "contact")
        self.contacts.update(result.contacts)
        self.moved_contacts.update(result.moved)

    def _keep_held(self, held: list[Held], kind: str) -> None:
        """Changes this source may not make, for the traits history (an account named by its groupId)."""
        for entry in held:
            event = entry.ref
            changes = {**entry.changes, "account": event.group_id} if "account" in entry.changes else entry.changes
            self.held.append(
                TraitsHistory(source_id=self.source.pk, message_id=event.message_id, occurred_at=event.occurred_at,
                              received_at=self.received_at, changes=changes, **{f"{kind}_id": entry.record_id})
            )  # fmt: skip

    # --- the batch --------------------------------------------------------------------------------------
    def run(self, events: list[Event], result: IngestResult) -> None:
        groups = [e for e in events if e.kind == "group"]
        self._with_group = [e for e in events if e.kind != "group" and e.group_id]
        self._user_ids = {e.user_id for e in events if e.user_id}
        if groups or self._with_group:
            self.upsert_accounts(groups)
        people = [e for e in events if e.kind in ("identify", "group") or (e.user_id and e.group_id)]
        self.upsert_contacts(people)
        if self.held:
            TraitsHistory.objects.bulk_create(self.held, batch_size=1000)
        for event in events:
            if event.kind == "identify" and event.anonymous_id and event.user_id:
                self.linked_anonymous[event.anonymous_id] = self.contacts[event.user_id][0]
            elif event.kind == "alias":
                self.linked_anonymous[event.previous_id] = self.contacts[event.user_id][0]
        rows = self._signal_rows([e for e in events if e.kind in ("track", "page", "screen")])
        created = signals_insert(rows)
        result.stored += created
        result.duplicates += len(rows) - created
        self._attach_anonymous()
        self._attach_accounts(self.moved_contacts)
        # Contacts' last_seen_at is refreshed after commit from the stored signals (signals_app.tasks), not here:
        # updating contact rows inside every batch made concurrent batches queue on the same contacts.
        accounts_mark_for_rescore(account_ids=self.touched_accounts)

    def _signal_rows(self, events: list[Event]) -> list[tuple]:
        if not events:
            return []
        mappings = _mappings(self.source)
        wanted_types: dict[str, tuple[str, str | None]] = {}
        resolved: list[tuple[Event, _Mapping | None, str | None]] = []
        for event in events:
            mapping = self._match(mappings, event)
            if mapping is None:
                key, label = (PAGE_TYPE if event.kind == "page" else SCREEN_TYPE if event.kind == "screen"
                              else parsing.type_key_and_label(event.name))  # fmt: skip
                if not key:  # a name without letters or digits
                    key, label = "event", "Event"
                wanted_types[key] = (label, None)
            else:
                key = None
            resolved.append((event, mapping, key))
        self.lookups.ensure_types(wanted_types)
        rows = []
        source_id = self.source.pk
        for event, mapping, key in resolved:
            contact_id, account_id = self.contacts.get(event.user_id, (None, None)) if event.user_id else (None, None)
            if event.group_id and event.group_id in self.accounts:
                account_id = self.accounts[event.group_id]
            if mapping is not None:
                type_id, topic_id, detail = mapping.type_id, mapping.topic_id, mapping.detail
                direction, src = mapping.direction or "inbound", mapping.source or "product"
                if not mapping.direction or not mapping.source:
                    default = self._type_defaults(type_id)
                    direction, src = mapping.direction or default[0], mapping.source or default[1]
            else:
                assert key is not None  # an event no mapping matched has a type key
                type_id, direction, src = self.lookups.types[key]
                topic_id, detail = None, event.name[:100] if event.kind in ("page", "screen") else ""
            properties = event.properties
            if event.kind in ("page", "screen") and event.path and "path" not in properties:
                properties = {**properties, "path": event.path}
            if account_id:
                self.touched_accounts.add(account_id)
            rows.append(
                (account_id, contact_id, type_id, detail, topic_id, direction, src, event.occurred_at,
                 self.received_at, orjson.dumps(properties).decode(), source_id, event.message_id,
                 "" if contact_id else event.anonymous_id)
            )  # fmt: skip
        return rows

    def _type_defaults(self, type_id: int) -> tuple[str, str]:
        cache = self.__dict__.setdefault("_defaults", {})
        if type_id not in cache:
            from .models import SignalType

            cache[type_id] = tuple(
                SignalType.objects.filter(pk=type_id).values_list("default_direction", "default_source").get()
            )
        return cache[type_id]

    @staticmethod
    def _match(mappings: list[_Mapping], event: Event) -> _Mapping | None:
        name = event.name.lower()
        path = event.path.lower()
        for mapping in mappings:
            if mapping.kind != event.kind:
                continue
            if mapping.regex.match(name) or (path and mapping.regex.match(path)):
                return mapping
        return None

    def _attach_anonymous(self) -> None:
        """Signals kept under an anonymous id join the contact (and its account) once the id is linked: one
        UPDATE per contact, whatever the number of ids linked to it."""
        account_of = dict(self.contacts.values())
        by_contact: dict[int, list[str]] = {}
        for anonymous_id, contact_id in self.linked_anonymous.items():
            by_contact.setdefault(contact_id, []).append(anonymous_id)
        for contact_id, anonymous_ids in by_contact.items():
            account_id = account_of.get(contact_id)
            updated = Signal.objects.filter(anonymous_id__in=anonymous_ids, contact__isnull=True).update(
                contact_id=contact_id, account_id=account_id, anonymous_id=""
            )
            if updated and account_id:
                self.touched_accounts.add(account_id)

    def _attach_accounts(self, contact_ids: set[int]) -> None:
        """Signals of contacts recorded before we knew their account now belong to it: one UPDATE per account."""
        account_of = dict(self.contacts.values())
        by_account: dict[int, list[int]] = {}
        for contact_id in contact_ids:
            account_id = account_of[contact_id]
            if account_id is not None:  # a moved contact has one
                by_account.setdefault(account_id, []).append(contact_id)
        for account_id, contacts in by_account.items():
            if Signal.objects.filter(contact_id__in=contacts, account__isnull=True).update(account_id=account_id):
                self.touched_accounts.add(account_id)


def events_ingest(*, source: IngestionSource, events: list[Event], received_at: datetime) -> IngestResult:
    """Store a batch of validated events for a source, atomically; events whose fields their columns cannot hold
    are left out and listed in ``rejected`` (``events_check``)."""
    result = IngestResult(received=len(events))
    events, result.rejected = events_check(events=events)
    if not events:
        return result
    with transaction.atomic():
        _Batch(source, received_at).run(events, result)
    return result
