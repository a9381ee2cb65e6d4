"""Reading one CSV row into clean values, shared by the admin import (django-import-export) and the
streaming ``import_csv`` command, so both accept and reject exactly the same rows with the same words.

Parsers are plain functions over ``dict[str, str]`` rows; they raise :class:`RowInvalid` with one message per
field. Looking up accounts, contacts, stages and owners is the caller's job (see ``importing.Lookups``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.text import slugify

from .choices import Direction, SignalCategory, SignalSource
from .events import MAX_FUTURE

ACCOUNT_COLUMNS = (
    "external_id", "name", "domain", "industry", "employees", "annual_revenue", "country", "created_at", "stage",
    "owner_email",
)  # fmt: skip
CONTACT_COLUMNS = ("external_id", "account_external_id", "email", "first_name", "last_name", "title", "created_at")
SIGNAL_COLUMNS = (
    "message_id", "account_external_id", "contact_external_id", "type", "detail", "topic", "direction", "source",
    "occurred_at", "properties",
)  # fmt: skip
STAGE_TRANSITION_COLUMNS = ("account_external_id", "stage", "changed_at")
REQUIRED = {
    "accounts": ("external_id",),
    "contacts": ("external_id",),
    "signals": ("account_external_id", "type", "occurred_at"),
    "stage_transitions": ("account_external_id", "stage", "changed_at"),
}
COLUMNS = {
    "accounts": ACCOUNT_COLUMNS,
    "contacts": CONTACT_COLUMNS,
    "signals": SIGNAL_COLUMNS,
    "stage_transitions": STAGE_TRANSITION_COLUMNS,
}
TOPIC_SEPARATOR = re.compile(r"\s*(?:>|›|/)\s*")
MAX_INT = 2_147_483_647  # the largest value of an integer column (Account.employees) on every database
MAX_DECIMAL = Decimal(10) ** 14  # Account.annual_revenue: 16 digits, 2 after the point


class OutOfRange(ValueError):
    """A number that reads as one but that its column cannot hold (``1e400``, ``99999999999`` employees)."""


class RowInvalid(Exception):
    """A row that cannot be loaded: ``errors`` maps each bad column to what is wrong with it."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def missing_columns(kind: str, header: list[str]) -> list[str]:
    """Required columns of ``kind`` that the header lacks."""
    present = {h.strip() for h in header}
    return [c for c in REQUIRED[kind] if c not in present]


def reject_nul(row: dict[str, str]) -> None:
    """A NUL character cannot be stored in PostgreSQL text or JSON: name the column instead of failing the batch."""
    bad = {column: "contains a NUL character (\\x00), which cannot be stored" for column, value in row.items()
           if value and "\x00" in value}  # fmt: skip
    if bad:
        raise RowInvalid(bad)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 reads as infinity, which no JSON column stores
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def clean_text(value: str | None, *, max_length: int) -> str:
    text = (value or "").strip()
    if len(text) > max_length:
        raise ValueError(f"is longer than {max_length} characters")
    return text


MIN_YEAR, MAX_YEAR = 1900, 2200  # the range the REST API accepts too (klearly.api.fields)


def parse_datetime(value: str) -> datetime:
    """ISO-8601 date or date-time between 1900 and 2200; a time without offset is taken as UTC."""
    text = value.strip()
    if not text:
        raise ValueError("is empty")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO-8601 date or time (e.g. 2026-03-01T14:30:00Z)") from None
    if isinstance(parsed, date) and not isinstance(parsed, datetime):  # pragma: no cover - fromisoformat gives datetime
        parsed = datetime(parsed.year, parsed.month, parsed.day)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if not MIN_YEAR < parsed.year < MAX_YEAR:  # an offset moves the year by one at most: look closer at the edges
        try:
            year = parsed.astimezone(UTC).year
        except OverflowError:  # year 1 or 9999 moved by its offset
            year = 0
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise ValueError(f"must be between {MIN_YEAR} and {MAX_YEAR}")
    return parsed


def parse_int(value: str | None, *, minimum: int = 0, maximum: int = MAX_INT) -> int | None:
    """A whole number within [minimum, maximum]; "1,200" and "1.2e3" read as 1200."""
    text = (value or "").strip().replace(",", "").replace("_", "")
    if not text:
        return None
    try:
        number = int(float(text)) if "." in text or "e" in text.lower() else int(text)
    except OverflowError:  # "1e400", "inf"
        raise OutOfRange(f"{(value or '')[:40]!r} is out of range (at most {maximum})") from None
    except ValueError:
        raise ValueError(f"{(value or '')[:40]!r} is not a whole number") from None
    if number < minimum:
        raise OutOfRange(f"must be at least {minimum}")
    if number > maximum:
        raise OutOfRange(f"must be at most {maximum}")
    return number


def parse_decimal(value: str | None) -> Decimal | None:
    text = (value or "").strip().replace(",", "").replace("_", "")
    if not text:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not number.is_finite() or abs(number) >= MAX_DECIMAL:
        raise OutOfRange(f"{(value or '')[:40]!r} is out of range (less than 10^14)")
    return number.quantize(Decimal("0.01"))


def parse_email(value: str | None) -> str:
    text = (value or "").strip().lower()
    if not text:
        return ""
    try:
        validate_email(text)
    except ValidationError:
        raise ValueError(f"{value!r} is not an email address") from None
    return text


def parse_properties(value: str | None) -> tuple[dict[str, Any], str]:
    """A JSON object; returns it and its compact text (written as is by the fast path)."""
    text = (value or "").strip()
    if not text or text == "{}":
        return {}, "{}"
    try:
        loaded = json.loads(text, parse_constant=_no_constants, parse_float=_finite)
    except json.JSONDecodeError as exc:
        raise ValueError(f"is not valid JSON ({exc.msg} at character {exc.pos})") from None
    except (ValueError, RecursionError) as exc:  # NaN, Infinity, 1e999: Python reads them, PostgreSQL refuses them
        raise ValueError(f"is not valid JSON ({str(exc)[:200]})") from None
    if not isinstance(loaded, dict):
        raise ValueError('must be a JSON object, like {"plan": "pro"}')
    return loaded, json.dumps(loaded, separators=(",", ":"), ensure_ascii=False)


_KEY_SEPARATORS = re.compile(r"[-_]+")


def signal_type_key(text: str) -> str:
    """The one key of a signal type, however it is written: case, spaces, "_" and "-" do not matter ("Pricing page
    view", "pricing_page_view" (Segment's snake_case) and "Pricing-Page-View" are all "pricing-page-view"). Every
    place that creates or looks up a type by name goes through this."""
    return _KEY_SEPARATORS.sub("-", slugify(text)).strip("-")[:100].rstrip("-")


type_key = signal_type_key  # the name the CSV code used


def signal_type_label(text: str, key: str) -> str:
    """The label of a type created on the fly from ``text``: as written when it reads as words ("Order Completed"),
    else made from the key ("pricing_page_view" -> "Pricing page view")."""
    text = text.strip()
    if not text or (" " not in text and ("_" in text or "-" in text)):
        return key.replace("-", " ").capitalize()[:150]
    return text[:150]


def topic_path(text: str) -> list[tuple[str, str]]:
    """A topic named in a file, as [(key, label)] from product line down ("Analytics > Dashboards")."""
    parts = [p for p in TOPIC_SEPARATOR.split(text.strip()) if p]
    path, keys = [], []
    for part in parts[:2]:
        keys.append(slugify(part)[:70] or "topic")
        path.append(("--".join(keys), part[:150]))
    return path


CATEGORY_HINTS = (
    ("webinar", SignalCategory.WEBINARS), ("white-paper", SignalCategory.WHITE_PAPERS),
    ("whitepaper", SignalCategory.WHITE_PAPERS), ("virtual", SignalCategory.VIRTUAL_EVENTS),
    ("booth", SignalCategory.BOOTH), ("assessment", SignalCategory.ASSESSMENTS), ("trial", SignalCategory.TRIALS),
    ("video", SignalCategory.VIDEOS), ("download", SignalCategory.DOWNLOADS), ("email", SignalCategory.EMAILS),
    ("call", SignalCategory.CALLS), ("meeting", SignalCategory.CALLS), ("demo", SignalCategory.EVALUATION),
    ("order", SignalCategory.ORDERS), ("invoice", SignalCategory.ORDERS), ("purchase", SignalCategory.ORDERS),
    ("click", SignalCategory.CLICKS), ("ad", SignalCategory.ADS), ("page", SignalCategory.WEB_VISITS),
    ("visit", SignalCategory.WEB_VISITS), ("ticket", SignalCategory.SUPPORT), ("event", SignalCategory.EVENTS),
)  # fmt: skip


def guess_category(key: str, source: str | None) -> str:
    """A first category for a type created on the fly; admins can change it."""
    words = set(key.split("-"))
    for hint, category in CATEGORY_HINTS:
        if hint in words or (len(hint) > 4 and hint in key):
            return category
    return SignalCategory.PRODUCT_USAGE if source in (None, "", SignalSource.PRODUCT) else SignalCategory.OTHER


def row_fingerprint(row: dict[str, str], columns: tuple[str, ...]) -> str:
    """A stable idempotency key for a row that has no message_id, so re-importing it adds nothing."""
    return values_fingerprint([row.get(c) for c in columns])


def values_fingerprint(values: Sequence[str | None]) -> str:
    """``row_fingerprint`` over a row's values, already in column order."""
    canonical = "\x1f".join((v or "").strip() for v in values)
    return "row-" + hashlib.sha256(canonical.encode()).hexdigest()[:40]


@dataclass(slots=True)
class SignalRow:
    idempotency_key: str
    account_external_id: str
    contact_external_id: str
    type_key: str
    type_label: str
    detail: str
    topic: list[tuple[str, str]]
    direction: str | None
    source: str | None
    occurred_at: datetime
    properties: dict[str, Any]
    properties_json: str


DIRECTIONS = set(Direction.values)
SOURCES = set(SignalSource.values)


# Files name a handful of types and topics over and over: slugify them once each (bounded, so memory stays flat).
@functools.lru_cache(maxsize=4096)
def type_key_and_label(text: str) -> tuple[str, str]:
    """``signal_type_key`` and ``signal_type_label`` of a type named in a file or event (cached)."""
    key = signal_type_key(text)
    return key, signal_type_label(text, key)


@functools.lru_cache(maxsize=4096)
def _topic_path(text: str) -> tuple[tuple[str, str], ...]:
    return tuple(topic_path(text))


def parse_signal(row: dict[str, str]) -> SignalRow:
    """Clean one signals.csv row (ids are resolved later); raise RowInvalid naming every bad column."""
    return parse_signal_values([row.get(c) for c in SIGNAL_COLUMNS])


def parse_signal_values(values: Sequence[str | None]) -> SignalRow:
    """``parse_signal`` over the row's values in ``SIGNAL_COLUMNS`` order (None or "" for an absent column).

    The streaming importer calls this once per row, so it is written flat: no dict, few calls.
    """
    message_id, account, contact, type_text, detail, topic_text, direction, source, occurred_text, props = values
    errors: dict[str, str] = {}
    message_id = (message_id or "").strip()
    if len(message_id) > 128:
        errors["message_id"] = "is longer than 128 characters"
    account = (account or "").strip()
    if not account:
        errors["account_external_id"] = "is required"
    type_text = (type_text or "").strip()
    key, label = type_key_and_label(type_text)
    if not key:
        errors["type"] = "is required" if not type_text else f"{type_text!r} has no letters or digits"
    direction = (direction or "").strip().lower() or None
    if direction and direction not in DIRECTIONS:
        errors["direction"] = f"{direction!r} is not one of {', '.join(sorted(DIRECTIONS))}"
    source = (source or "").strip().lower() or None
    if source and source not in SOURCES:
        errors["source"] = f"{source!r} is not one of {', '.join(sorted(SOURCES))}"
    occurred_at = None
    try:
        occurred_at = parse_datetime(occurred_text or "")
    except ValueError as exc:
        errors["occurred_at"] = str(exc)
    else:
        if occurred_at > datetime.now(UTC) + MAX_FUTURE:  # as the event endpoint refuses it: a clock or typo error
            errors["occurred_at"] = f"{(occurred_text or '').strip()!r} is more than a day in the future"
    properties: dict[str, Any] = {}
    properties_json = "{}"
    if props:  # most rows have none
        try:
            properties, properties_json = parse_properties(props)
        except ValueError as exc:
            errors["properties"] = str(exc)
    detail = (detail or "").strip()
    if len(detail) > 100:
        errors["detail"] = "is longer than 100 characters"
    if errors or occurred_at is None:  # no error: the time was parsed
        raise RowInvalid(errors)
    topic_text = (topic_text or "").strip()
    return SignalRow(
        idempotency_key=message_id or values_fingerprint(values),
        account_external_id=account,
        contact_external_id=(contact or "").strip(),
        type_key=key,
        type_label=label,
        detail=detail,
        topic=list(_topic_path(topic_text)) if topic_text else [],
        direction=direction,
        source=source,
        occurred_at=occurred_at,
        properties=properties,
        properties_json=properties_json,
    )


def parse_account(row: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any], str, str]:
    """Clean one accounts.csv row into (fields, traits, stage name, owner email)."""
    errors: dict[str, str] = {}
    fields: dict[str, Any] = {}
    external_id = (row.get("external_id") or "").strip()
    if not external_id:
        errors["external_id"] = "is required"
    elif len(external_id) > 128:
        errors["external_id"] = "is longer than 128 characters"
    fields["external_id"] = external_id
    for name, limit in (("name", 255), ("domain", 255), ("industry", 100), ("country", 64)):
        try:
            fields[name] = clean_text(row.get(name), max_length=limit)
        except ValueError as exc:
            errors[name] = str(exc)
    fields["domain"] = (fields.get("domain") or "").lower()
    for name, parser in (("employees", parse_int), ("annual_revenue", parse_decimal)):
        if name in row:
            try:
                fields[name] = parser(row.get(name))
            except ValueError as exc:
                errors[name] = str(exc)
    if (row.get("created_at") or "").strip():
        try:
            fields["created_at"] = parse_datetime(row["created_at"])
        except ValueError as exc:
            errors["created_at"] = str(exc)
    owner_email = ""
    try:
        owner_email = parse_email(row.get("owner_email"))
    except ValueError as exc:
        errors["owner_email"] = str(exc)
    if errors:
        raise RowInvalid(errors)
    # An empty cell is null: it removes the trait (accounts.upsert); a short row's missing cells are not sent.
    traits = {k: v or None for k, v in row.items() if k and k not in ACCOUNT_COLUMNS and v is not None}
    for name in ("name", "domain", "industry", "country", "employees", "annual_revenue"):
        if name not in row:  # a column absent from the file leaves the stored value alone
            fields.pop(name, None)
    return fields, traits, (row.get("stage") or "").strip(), owner_email


def parse_contact(row: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Clean one contacts.csv row into (fields, traits, account external id)."""
    errors: dict[str, str] = {}
    fields: dict[str, Any] = {}
    external_id = (row.get("external_id") or "").strip()
    if not external_id:
        errors["external_id"] = "is required"
    elif len(external_id) > 128:
        errors["external_id"] = "is longer than 128 characters"
    fields["external_id"] = external_id
    try:
        fields["email"] = parse_email(row.get("email"))
    except ValueError as exc:
        errors["email"] = str(exc)
    for name, limit in (("first_name", 100), ("last_name", 100), ("title", 200)):
        try:
            fields[name] = clean_text(row.get(name), max_length=limit)
        except ValueError as exc:
            errors[name] = str(exc)
    if (row.get("created_at") or "").strip():
        try:
            fields["created_at"] = parse_datetime(row["created_at"])
        except ValueError as exc:
            errors["created_at"] = str(exc)
    if errors:
        raise RowInvalid(errors)
    traits = {k: v or None for k, v in row.items() if k and k not in CONTACT_COLUMNS and v is not None}
    for name in ("email", "first_name", "last_name", "title"):
        if name not in row:
            fields.pop(name, None)
    return fields, traits, (row.get("account_external_id") or "").strip()


def parse_stage_transition(row: dict[str, str]) -> tuple[str, str, datetime]:
    """Clean one stage_transitions.csv row into (account external id, stage name or key, changed at)."""
    errors: dict[str, str] = {}
    account = (row.get("account_external_id") or "").strip()
    if not account:
        errors["account_external_id"] = "is required"
    stage = (row.get("stage") or "").strip()
    if not stage:
        errors["stage"] = "is required"
    changed_at = None
    try:
        changed_at = parse_datetime(row.get("changed_at") or "")
    except ValueError as exc:
        errors["changed_at"] = str(exc)
    if errors or changed_at is None:  # no error: the time was parsed
        raise RowInvalid(errors)
    return account, stage, changed_at
