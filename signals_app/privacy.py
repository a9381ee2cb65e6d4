"""Forgetting and exporting a person (GDPR erasure and access requests).

A person is looked up by email, contact (id or external id) or anonymous id (Segment's ``anonymousId``); any mix of
them, and every record that matches one of them is theirs (:class:`PersonQuery`). What names them in the data:

- their contacts (every contact with that email, id or external id), with fields and traits;
- their signals: those of their contacts, those kept under their anonymous ids (events sent before they were
  identified), and contact-less signals whose properties hold their email, found by one scan of the signals table
  (the properties as text, case-insensitively, then confirmed value by value); the anonymous ids of those signals
  are theirs too;
- mentions elsewhere: their email in other people's signals, accounts' and other contacts' traits, the admin's change
  log, import errors, and (through :mod:`signals_app.hooks`) tasks, comments, webhook payloads and saved views.

Forgetting deletes the contacts (their scores go with them) and their signals, or, with ``keep_anonymous_signals``,
keeps the signals for their account's counts without contact, anonymous id or personal properties (keys in
:func:`personal_keys`, and any value naming their email). Mentions elsewhere lose the address (``[erased]`` in
text; JSON keys that are the address dropped). The accounts concerned are marked for rescoring, so scores, contact
counts and the next training read the data without them. The audit entry (``ErasureRecord``) keeps counts, time,
operator and a random id, nothing about the person.

Not found: the person's name in free text written about them elsewhere (names are not unique), IP addresses in other
people's signals, uploaded CSV files kept on disk, backups and logs (see docs/security.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import quote, quote_plus

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import connection, models, transaction
from django.db.models import Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from accounts.models import Account, Contact
from accounts.services import accounts_mark_for_rescore

from . import hooks
from .choices import ErasureVia
from .models import ErasureRecord, ImportJob, Signal, TraitsHistory

ERASED = "[erased]"
BATCH = 500  # rows per bulk update
MAX_PK = 2**63 - 1

# Property names that hold personal data, compared without case and punctuation ("userAgent" = "user_agent").
# KLEARLY_PERSONAL_PROPERTIES adds to them.
DEFAULT_PERSONAL_KEYS = (
    "email", "email_address", "ip", "ip_address", "name", "first_name", "last_name", "full_name", "username",
    "phone", "phone_number", "mobile", "user_agent", "address", "street", "postal_code", "zip", "birthday",
    "avatar", "user_id", "anonymous_id",
)  # fmt: skip


class PersonLookupError(ValueError):
    """The lookup cannot name anyone (nothing given, or a value no record can have); the message says which."""


def _norm_key(name: Any) -> str:
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


def personal_keys() -> frozenset[str]:
    """Normalised property names removed from a forgotten person's signals when they are kept anonymous."""
    extra = getattr(settings, "KLEARLY_PERSONAL_PROPERTIES", ())
    return frozenset(_norm_key(k) for k in (*DEFAULT_PERSONAL_KEYS, *extra))


class Mentions:
    """A person's email addresses, and how to find and remove them in text and JSON values.

    An address counts where it stands alone (not inside a longer address: ``al@x.com`` is not in ``val@x.com``),
    in any case, as typed or URL-encoded (``al%40x.com`` in a query string). ``names``: the person's full names
    ("Ada Lovelace"), erased too in a text that names their address ("Ada Lovelace <ada@x.com>"), never searched for
    on their own (another person may have the same name)."""

    def __init__(self, emails: Iterable[str], names: Iterable[str] = ()) -> None:
        self.emails = sorted({e.strip().lower() for e in emails if e and e.strip()})
        # Each full name as words separated by any white space, longest first.
        full_names = sorted({tuple(n.split()) for n in names if n and len(n.split()) >= 2}, key=len, reverse=True)
        spaced = "|".join(r"\s+".join(map(re.escape, words)) for words in full_names)
        self._names = re.compile(rf"(?<!\w)(?:{spaced})(?!\w)", re.IGNORECASE) if full_names else None
        variants = {v for e in self.emails for v in (e, quote(e, safe=""), quote_plus(e, safe=""))}
        self._variants = sorted(variants, key=len, reverse=True)
        self._regex = (
            re.compile(
                rf"(?<![\w.%+-])(?:{'|'.join(re.escape(v) for v in self._variants)})(?![\w-]|\.\w)", re.IGNORECASE
            )
            if self._variants
            else None
        )

    def __bool__(self) -> bool:
        return bool(self.emails)

    def search_forms(self) -> list[str]:
        """What a database text search looks for: each variant, and its JSON-escaped form where that differs
        (SQLite keeps JSON with non-ASCII characters escaped)."""
        forms = set(self._variants)
        forms |= {json.dumps(v)[1:-1] for v in self._variants}
        return sorted(forms)

    def in_text(self, text: Any) -> bool:
        return bool(self._regex and isinstance(text, str) and self._regex.search(text))

    def found_in(self, value: Any) -> bool:
        """Whether a JSON value names the person anywhere (keys included)."""
        if isinstance(value, str):
            return self.in_text(value)
        if isinstance(value, dict):
            return any(self.in_text(k) or self.found_in(v) for k, v in value.items())
        if isinstance(value, list):
            return any(self.found_in(v) for v in value)
        return False

    def text(self, text: str) -> str:
        """The text with every mention of the person (and, where there is one, their full name) replaced by
        ``[erased]``."""
        if not (self._regex and text and self._regex.search(text)):
            return text
        text = self._regex.sub(ERASED, text)
        return self._names.sub(ERASED, text) if self._names else text

    def scrub(self, value: Any, drop: frozenset[str] = frozenset()) -> Any:
        """A JSON value without the person: keys that are their address (or normalise to one in ``drop``) removed,
        strings with their address rewritten, at any depth."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {
                k: self.scrub(v, drop) for k, v in value.items() if not self.in_text(k) and _norm_key(k) not in drop
            }
        if isinstance(value, list):
            return [self.scrub(v, drop) for v in value]
        return value

    def values_in(self, value: Any, path: str = "") -> dict[str, Any]:
        """The values naming the person, by path (``a.b[2]``): what an export shows of someone else's record."""
        out: dict[str, Any] = {}
        if isinstance(value, dict):
            for k, v in value.items():
                here = f"{path}.{k}" if path else str(k)
                if self.in_text(k):
                    out[here] = v
                else:
                    out.update(self.values_in(v, here))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                out.update(self.values_in(v, f"{path}[{i}]"))
        elif self.in_text(value):
            out[path or "$"] = value
        return out


def where_mentioned(queryset: QuerySet, fields: Sequence[str], mentions: Mentions) -> QuerySet:
    """The rows whose fields (text or JSON, read as text) contain one of the person's addresses, in any case: one
    scan of the table. The text match is wider than a mention (``al@x.com``
    is inside ``val@x.com``): confirm each row with :meth:`Mentions.found_in`. PostgreSQL: one ``~*`` per field;
    elsewhere an ``ICONTAINS`` per form (SQLite's regex would call Python for every row)."""
    if not mentions:
        return queryset.none()
    aliases = {f"_mention_{i}": Cast(name, TextField()) for i, name in enumerate(fields)}
    forms = mentions.search_forms()
    condition = Q()
    for alias in aliases:
        if connection.vendor == "postgresql":
            # One case-insensitive regex: the row's text is made once (an OR of ILIKEs makes it once per form, and
            # costs 1.4x one ILIKE where this costs 1.15x on 2,000,000 signals).
            condition |= Q(**{f"{alias}__iregex": "|".join(re.escape(f) for f in forms)})
        else:
            for form in forms:
                condition |= Q(**{f"{alias}__icontains": form})
    return queryset.alias(**aliases).filter(condition)


def rows_scrub(
    queryset: QuerySet,
    mentions: Mentions,
    *,
    text_fields: Sequence[str] = (),
    json_fields: Sequence[str] = (),
    dry_run: bool = False,
) -> list[int]:
    """Remove the person's addresses from these fields of every row that holds them: text gets ``[erased]`` in
    their place, JSON loses keys that are the address and has its strings rewritten. Returns the ids of the rows
    concerned (changed, or to change with ``dry_run``). One scan to find them, one update per ``BATCH`` rows."""
    fields = [*text_fields, *json_fields]
    model = queryset.model
    # "[erased]" may be longer than a short address: keep within the column's length.
    limits = {name: model._meta.get_field(name).max_length for name in text_fields}
    changed: list[models.Model] = []
    # Fetched at once, not through a server-side cursor (iterator): PostgreSQL scans a table in parallel only for a
    # plain query (2,000,000 signals: 3.6 s against 9.0 s). What matches is the person's rows: few.
    for row in where_mentioned(queryset.order_by(), fields, mentions).values("pk", *fields):
        values = {f: row[f] for f in fields}
        touched = False
        for name in text_fields:
            if mentions.in_text(values[name]):
                values[name], touched = mentions.text(values[name])[: limits[name]], True
        for name in json_fields:
            if mentions.found_in(values[name]):
                values[name], touched = mentions.scrub(values[name]), True
        if touched:
            changed.append(model(pk=row["pk"], **values))
    if changed and not dry_run:
        model._default_manager.bulk_update(changed, fields, batch_size=BATCH)
    return [obj.pk for obj in changed]


def text_and_json_fields(model: type[models.Model]) -> tuple[list[str], list[str]]:
    """A model's own text fields (char, text, URL...) and JSON fields: what :func:`model_scrub` reads."""
    text, data = [], []
    for f in model._meta.concrete_fields:
        if f.primary_key or f.is_relation or f.choices:
            continue
        if isinstance(f, models.JSONField):
            data.append(f.name)
        elif isinstance(f, models.CharField | models.TextField):
            text.append(f.name)
    return text, data


def model_scrub(queryset: QuerySet, mentions: Mentions, *, dry_run: bool = False) -> list[int]:
    """:func:`rows_scrub` over every text and JSON field of the queryset's model (for records whose free text may
    name a person: tasks, comments, webhook deliveries, import jobs). Returns the ids of the rows concerned."""
    text, data = text_and_json_fields(queryset.model)
    return rows_scrub(queryset, mentions, text_fields=text, json_fields=data, dry_run=dry_run)


@dataclass(frozen=True)
class PersonQuery:
    """Who to find: any of an email, a contact id, a contact external id, an anonymous id (every match counts)."""

    email: str = ""
    contact_id: int | None = None
    external_id: str = ""
    anonymous_id: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "email", (self.email or "").strip().lower())
        object.__setattr__(self, "external_id", (self.external_id or "").strip())
        object.__setattr__(self, "anonymous_id", (self.anonymous_id or "").strip())
        if not (self.email or self.contact_id is not None or self.external_id or self.anonymous_id):
            raise PersonLookupError("name the person: an email, a contact id, a contact external id or an anonymous id")
        if self.email and (len(self.email) > 254 or not re.fullmatch(r"[^@\s]+@[^@\s]+", self.email)):
            raise PersonLookupError(f"email {self.email[:60]!r} is not an email address")
        if self.contact_id is not None and not (0 < self.contact_id <= MAX_PK):
            raise PersonLookupError(f"contact id {self.contact_id} cannot exist")
        for name in ("external_id", "anonymous_id"):
            value = getattr(self, name)
            if len(value) > 128 or "\x00" in value:
                raise PersonLookupError(f"{name} cannot be longer than 128 characters or hold NUL")

    def describe(self) -> str:
        """The lookup in words (for screens and command output; never stored)."""
        parts = [f"email {self.email}" if self.email else "", f"contact #{self.contact_id}" if self.contact_id else "",
                 f"external id {self.external_id}" if self.external_id else "",
                 f"anonymous id {self.anonymous_id}" if self.anonymous_id else ""]  # fmt: skip
        return ", ".join(p for p in parts if p)


@dataclass
class Person:
    """Where one person is in the data (see the module's docstring)."""

    query: PersonQuery
    contact_ids: list[int] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # full names of their contacts (erased next to their address)
    anonymous_ids: list[str] = field(default_factory=list)
    found_signal_ids: list[int] = field(default_factory=list)  # contact-less signals whose properties name them
    mention_signal_ids: list[int] = field(default_factory=list)  # other people's signals naming them

    @property
    def mentions(self) -> Mentions:
        return Mentions(self.emails, self.names)

    @property
    def found(self) -> bool:
        return bool(self.contact_ids or self.anonymous_ids or self.found_signal_ids or self.mention_signal_ids)

    def signals(self) -> QuerySet[Signal]:
        """Their own signals (not other people's signals that mention them)."""
        condition = Q()
        if self.contact_ids:
            condition |= Q(contact_id__in=self.contact_ids)
        if self.anonymous_ids:
            condition |= Q(contact__isnull=True, anonymous_id__in=self.anonymous_ids)
        if self.found_signal_ids:
            condition |= Q(pk__in=self.found_signal_ids)
        return Signal.objects.filter(condition) if condition else Signal.objects.none()


def person_find(*, query: PersonQuery) -> Person:
    """Everything that names the person: their contacts, addresses and anonymous ids, the contact-less signals and
    other people's signals whose properties hold their email. Two to three queries, whatever the size of the data."""
    lookup = Q(pk__in=[])
    if query.contact_id is not None:
        lookup |= Q(pk=query.contact_id)
    if query.external_id:
        lookup |= Q(external_id=query.external_id)
    if query.email:
        lookup |= Q(email__iexact=query.email)
    columns = ("pk", "email", "first_name", "last_name")
    contacts = list(Contact.objects.filter(lookup).order_by("pk").values_list(*columns))
    # A contact found by id shares its person with every contact of the same email (the same person elsewhere).
    more = {c[1].lower() for c in contacts if c[1]} - {query.email}
    if more:
        same = Q()
        for address in sorted(more):
            same |= Q(email__iexact=address)
        contacts = list(Contact.objects.filter(lookup | same).order_by("pk").values_list(*columns))
    person = Person(query=query, contact_ids=[c[0] for c in contacts])
    person.emails = sorted({query.email, *(c[1].lower() for c in contacts if c[1])} - {""})
    person.names = sorted({f"{c[2]} {c[3]}".strip() for c in contacts if c[2] and c[3]})
    anonymous = {query.anonymous_id} - {""}
    mentions = person.mentions
    theirs = set(person.contact_ids)
    rows = where_mentioned(Signal.objects.order_by(), ["properties"], mentions).values_list(
        "pk", "contact_id", "anonymous_id", "properties"
    )
    for pk, contact_id, anonymous_id, properties in sorted(rows):  # one parallel scan (see rows_scrub)
        if contact_id in theirs or not mentions.found_in(properties):
            continue
        if contact_id is None:
            person.found_signal_ids.append(pk)
            if anonymous_id:
                anonymous.add(anonymous_id)
        else:
            person.mention_signal_ids.append(pk)
    person.anonymous_ids = sorted(anonymous)
    return person


def _signals_anonymise(signals: QuerySet[Signal], mentions: Mentions, *, dry_run: bool) -> int:
    """Keep signals for their account's counts without their person: no contact, no anonymous id, no personal
    properties. Returns how many."""
    if dry_run:
        return signals.count()
    drop = personal_keys()
    changed = []
    for pk, properties in signals.exclude(properties={}).order_by().values_list("pk", "properties").iterator(BATCH):
        cleaned = mentions.scrub(properties, drop)
        if cleaned != properties:
            changed.append(Signal(pk=pk, properties=cleaned))
    if changed:
        Signal.objects.bulk_update(changed, ["properties"], batch_size=BATCH)
    return signals.update(contact=None, anonymous_id="")


def _erase(person: Person, *, keep_anonymous_signals: bool, dry_run: bool) -> tuple[dict[str, int], set[int]]:
    """The erasure itself (or, with ``dry_run``, its counts): returns what was erased by kind and the accounts whose
    scores read it. Runs in the caller's transaction."""
    mentions = person.mentions
    own = person.signals()
    account_ids = set(own.filter(account__isnull=False).order_by().values_list("account_id", flat=True).distinct())
    account_ids |= set(
        Contact.objects.filter(pk__in=person.contact_ids, account__isnull=False).values_list("account_id", flat=True)
    )
    counts: dict[str, int] = {}
    if keep_anonymous_signals:
        # A signal without account or person counts for nothing: it goes.
        orphans = own.filter(account__isnull=True)
        counts["signals_deleted"] = orphans.count() if dry_run else orphans.delete()[0]
        counts["signals_anonymised"] = _signals_anonymise(own.filter(account__isnull=False), mentions, dry_run=dry_run)
    else:
        counts["signals_deleted"] = own.count() if dry_run else own.delete()[0]
    counts["anonymous_ids"] = len(person.anonymous_ids)
    counts["signals_mentioning_scrubbed"] = len(
        rows_scrub(Signal.objects.filter(pk__in=person.mention_signal_ids), mentions, json_fields=["properties"],
                   dry_run=dry_run)
    )  # fmt: skip
    scrubbed_accounts = rows_scrub(Account.objects.all(), mentions, json_fields=["traits"], dry_run=dry_run)
    account_ids.update(scrubbed_accounts)  # traits feed fit rules and segments
    counts["account_traits_scrubbed"] = len(scrubbed_accounts)
    others = Contact.objects.exclude(pk__in=person.contact_ids)
    counts["contact_traits_scrubbed"] = len(rows_scrub(others, mentions, json_fields=["traits"], dry_run=dry_run))
    contacts = Contact.objects.filter(pk__in=person.contact_ids)
    counts["contacts_deleted"] = len(person.contact_ids) if dry_run else contacts.delete()[1].get("accounts.Contact", 0)
    # The admin's change log names contacts by their str() (a name or an email) and keeps it after they are gone.
    contact_type = ContentType.objects.get_for_model(Contact)
    entries = LogEntry.objects.filter(content_type=contact_type, object_id__in=[str(pk) for pk in person.contact_ids])
    log_count = entries.count() if dry_run else entries.update(object_repr=ERASED, change_message="")
    log_count += len(rows_scrub(LogEntry.objects.all(), mentions, text_fields=["object_repr", "change_message"],
                                dry_run=dry_run))  # fmt: skip
    counts["admin_log_entries_scrubbed"] = log_count
    counts["import_jobs_scrubbed"] = len(model_scrub(ImportJob.objects.all(), mentions, dry_run=dry_run))
    # Changes sources sent but were not allowed to apply (traits history) may name her on other records too; her own
    # contacts' rows went with them above.
    counts["traits_history_scrubbed"] = len(
        rows_scrub(TraitsHistory.objects.all(), mentions, json_fields=["changes"], dry_run=dry_run)
    )
    for _receiver, result in hooks.person_forgetting.send(sender=Person, person=person, mentions=mentions,
                                                         dry_run=dry_run):  # fmt: skip
        # django-stubs types a receiver's answer as str; these receivers answer a dict of counts
        counts.update({str(k): int(v) for k, v in cast("dict[str, int]", result or {}).items()})
    counts["accounts_rescored"] = len(account_ids)
    return counts, account_ids


def person_forget_plan(*, query: PersonQuery, keep_anonymous_signals: bool = False) -> tuple[Person, dict[str, int]]:
    """What forgetting the person would erase, by kind; changes nothing (the admin's confirmation page, --dry-run)."""
    person = person_find(query=query)
    counts, _ = _erase(person, keep_anonymous_signals=keep_anonymous_signals, dry_run=True)
    return person, counts


def person_forget(
    *,
    query: PersonQuery,
    via: str,
    keep_anonymous_signals: bool = False,
    operator: Any = None,
    operator_label: str = "",
    reason: str = "",
) -> ErasureRecord:
    """Forget a person (GDPR erasure), atomically: their contacts, signals (or, with ``keep_anonymous_signals``,
    their signals' person and personal properties), anonymous ids and traits, and their address wherever else it is
    written; mark the accounts concerned for rescoring; record an audit entry that holds nothing about them.

    Finding runs inside the transaction, so what is erased is what was found. A lookup that matches nothing still
    leaves an entry (with zero counts): the request was handled. Events for the same person sent afterwards are new
    data (docs/security.md)."""
    if via not in ErasureVia.values:
        raise ValueError(f"via must be one of {', '.join(ErasureVia.values)}")
    user = operator if getattr(operator, "pk", None) else None
    with transaction.atomic():
        person = person_find(query=query)
        counts, account_ids = _erase(person, keep_anonymous_signals=keep_anonymous_signals, dry_run=False)
        accounts_mark_for_rescore(account_ids=account_ids)
        return ErasureRecord.objects.create(
            erased_at=timezone.now(),
            operator=user,
            operator_label=(operator_label or (user.get_username() if user else ""))[:150],
            via=via,
            reason=person.mentions.text(reason or "")[:500],
            signals_kept_anonymous=keep_anonymous_signals,
            counts=counts,
        )


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _signal_data(signal: Signal) -> dict[str, Any]:
    return {
        "id": signal.pk,
        "message_id": signal.idempotency_key,
        "type": signal.type.key,
        "type_label": signal.type.label,
        "detail": signal.detail,
        "topic": signal.topic.key if signal.topic is not None else None,
        "direction": signal.direction,
        "source": signal.source,
        "occurred_at": _iso(signal.occurred_at),
        "received_at": _iso(signal.received_at),
        "account_external_id": signal.account.external_id if signal.account is not None else None,
        "contact_external_id": signal.contact.external_id if signal.contact is not None else None,
        "anonymous_id": signal.anonymous_id,
        "ingestion_source": signal.ingestion_source.name,
        "properties": signal.properties,
    }


def person_export(*, query: PersonQuery) -> dict[str, Any]:
    """Everything Klearly holds about a person, as plain JSON values (GDPR access and portability): their contacts
    with traits, their signals with properties, other records' values that name them, and what the other apps add
    (contact scores, tasks mentioning them). A fixed number of queries per 2,000 signals."""
    person = person_find(query=query)
    mentions = person.mentions
    contacts = [
        {
            "id": c.pk, "external_id": c.external_id, "email": c.email, "first_name": c.first_name,
            "last_name": c.last_name, "title": c.title,
            "account_external_id": c.account.external_id if c.account is not None else None,
            "account_name": c.account.name if c.account is not None else None,
            "stage": c.stage.key if c.stage is not None else None, "created_at": _iso(c.created_at),
            "last_seen_at": _iso(c.last_seen_at), "traits": c.traits,
        }
        for c in Contact.objects.filter(pk__in=person.contact_ids).select_related("account", "stage").order_by("pk")
    ]  # fmt: skip
    related = ("type", "topic", "account", "contact", "ingestion_source")
    signals = [
        _signal_data(s) for s in person.signals().select_related(*related).order_by("occurred_at", "pk").iterator(2000)
    ]
    mentioned_in = [
        {"signal": s.pk, "type": s.type.key, "occurred_at": _iso(s.occurred_at),
         "values": mentions.values_in(s.properties)}
        for s in Signal.objects.filter(pk__in=person.mention_signal_ids).select_related("type").order_by("pk")
    ]  # fmt: skip
    accounts = [
        {"account_external_id": ext, "traits": mentions.values_in(traits)}
        for ext, traits in where_mentioned(Account.objects.order_by("pk"), ["traits"], mentions).values_list(
            "external_id", "traits"
        )
        if mentions.found_in(traits)
    ]
    held = where_mentioned(TraitsHistory.objects.order_by("pk"), ["changes"], mentions).select_related(
        "source", "account", "contact"
    )
    held_changes = [
        {"source": h.source.name, "account_external_id": h.account.external_id if h.account else None,
         "contact_external_id": h.contact.external_id if h.contact else None, "occurred_at": _iso(h.occurred_at),
         "changes": mentions.values_in(h.changes)}
        for h in held
        if mentions.found_in(h.changes)
    ]  # fmt: skip
    data: dict[str, Any] = {
        "format": "klearly-person-export/1",
        "exported_at": _iso(timezone.now()),
        "lookup": {k: v for k, v in vars(query).items() if v not in ("", None)},
        "emails": person.emails,
        "anonymous_ids": person.anonymous_ids,
        "contacts": contacts,
        "signals": signals,
        "mentions": {"signals": mentioned_in, "account_traits": accounts, "traits_history": held_changes},
    }
    for _receiver, sections in hooks.person_exporting.send(sender=Person, person=person, mentions=mentions):
        data.update(cast("dict[str, Any]", sections or {}))  # django-stubs types a receiver's answer as str
    return data
