"""Reading Segment-compatible requests and events (the Segment HTTP tracking API, as sent by the official
libraries and RudderStack's): body decoding, limits, write-key extraction, per-event validation and the
clock-skew correction. Plain Python: no database access here.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import math
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

MAX_EVENT_BYTES = 32 * 1024  # Segment's limit per event
MAX_BATCH_BYTES = 4 * 1024 * 1024  # RudderStack's batch limit (Segment's is 500 KB), after decompression
MAX_BATCH_EVENTS = 2500
KINDS = ("identify", "track", "group", "page", "screen", "alias")
MAX_FUTURE = timedelta(days=1)
# The earliest time an event may have (the REST API's signals accept the same: 1900 onwards).
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
INT64 = (-(2**63), 2**63 - 1)


class RequestInvalid(Exception):
    """The whole request is refused. ``code`` and ``message`` are what the client libraries read."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class EventInvalid(Exception):
    """One event is refused; the rest of its batch is stored. ``field`` names the part at fault (``timestamp``,
    ``traits.employees``), or is None when it is the event as a whole."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class Unstorable:
    """A JSON number no column or JSON document can hold (``1e400``, an integer beyond 64 bits), as the lenient
    reader of a body leaves it: the event holding it is refused (its ``orjson.dumps`` fails) instead of the body."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


@dataclass(slots=True)
class Event:
    """An event after validation, with its time corrected for the client's clock."""

    index: int
    kind: str
    message_id: str
    occurred_at: datetime
    user_id: str = ""
    anonymous_id: str = ""
    group_id: str = ""
    previous_id: str = ""
    name: str = ""
    path: str = ""
    properties: dict[str, Any] = field(default_factory=dict)
    traits: dict[str, Any] = field(default_factory=dict)


def decode_body(raw: bytes, content_encoding: str) -> Any:
    """The JSON document of a request body, decompressed if the client gzipped or deflated it."""
    encoding = (content_encoding or "").strip().lower()
    if len(raw) > MAX_BATCH_BYTES:
        raise RequestInvalid(413, "payload_too_large", f"the request body is over {MAX_BATCH_BYTES // 1024} KB")
    if encoding in ("gzip", "x-gzip", "deflate"):
        try:
            # gzip framing for gzip; zlib framing for HTTP "deflate".
            decompressor = zlib.decompressobj(zlib.MAX_WBITS if encoding == "deflate" else 16 + zlib.MAX_WBITS)
            raw = decompressor.decompress(raw, MAX_BATCH_BYTES + 1)
        except (zlib.error, gzip.BadGzipFile) as exc:
            raise RequestInvalid(400, "invalid_encoding", f"the body is not valid {encoding} data ({exc})") from None
        if len(raw) > MAX_BATCH_BYTES or decompressor.unconsumed_tail:
            raise RequestInvalid(413, "payload_too_large", f"the batch is over {MAX_BATCH_BYTES // 1024} KB")
    elif encoding not in ("", "identity"):
        raise RequestInvalid(415, "unsupported_encoding", f"Content-Encoding {encoding!r} is not supported (use gzip)")
    if not raw.strip():
        raise RequestInvalid(400, "invalid_request", "the request body is empty; send a JSON object")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        lenient = _loads_lenient(raw)
        if lenient is None:
            raise RequestInvalid(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
        return lenient


class LenientBody(dict):
    """A body that orjson refused only for numbers out of its range: every event in it is checked one by one."""


def _loads_lenient(raw: bytes) -> LenientBody | None:
    """The body read by Python's json module, with numbers out of range kept as ``Unstorable`` (so only the events
    holding them are refused), or None if it is not JSON at all (NaN and Infinity are not JSON)."""

    def number(text: str) -> Any:
        value = float(text)
        return value if math.isfinite(value) else Unstorable(text)

    def integer(text: str) -> Any:
        value = int(text)
        return value if INT64[0] <= value <= INT64[1] else Unstorable(text)

    def constant(name: str) -> Any:
        raise ValueError(f"{name} is not allowed in JSON")

    try:
        document = json.loads(raw, parse_float=number, parse_int=integer, parse_constant=constant)
    except (ValueError, RecursionError):
        return None
    return LenientBody(document) if isinstance(document, dict) else None


def write_key_from(authorization: str, body: Any) -> str:
    """The write key: HTTP Basic username (Segment and RudderStack libraries), a Bearer token, or ``writeKey``."""
    auth = (authorization or "").strip()
    if auth[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(auth[6:].strip(), validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            raise RequestInvalid(401, "invalid_write_key", "the Basic authorization header is malformed") from None
        return decoded.split(":", 1)[0]
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    if isinstance(body, dict) and isinstance(body.get("writeKey"), str):
        return body["writeKey"]
    return ""


def parse_time(value: Any, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise EventInvalid(f"{name} must be an ISO-8601 string", name)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise EventInvalid(f"{name} {value[:40]!r} is not an ISO-8601 time", name) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text(event: dict, key: str, limit: int = 128) -> str:
    value = event.get(key)
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise EventInvalid(f"{key} must be a string", key)
    value = value.strip()
    if len(value) > limit:
        raise EventInvalid(f"{key} is longer than {limit} characters", key)
    return value


def _object(event: dict, key: str) -> dict:
    value = event.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise EventInvalid(f"{key} must be an object", key)
    return value


def normalise(  # noqa: C901, PLR0912 — one check per event field, in the Segment spec's order
    event: Any, index: int, *, received_at: datetime, batch_sent_at: datetime | None, kind: str | None = None,
    size_checked: bool = False,
) -> Event:  # fmt: skip
    """Validate one event and correct its time as Segment does: timestamp + (receivedAt - sentAt)."""
    if not isinstance(event, dict):
        raise EventInvalid("an event must be a JSON object")
    if not size_checked:
        try:
            dumped = orjson.dumps(event)
        except orjson.JSONEncodeError:  # a number out of range, or an unpaired surrogate ("\\ud800")
            where, what = unstorable_value(event)
            raise EventInvalid(f"{where} {what}, which cannot be stored", where) from None
        if len(dumped) > MAX_EVENT_BYTES:
            raise EventInvalid(f"the event is over {MAX_EVENT_BYTES // 1024} KB")
        if b"\\u0000" in dumped:
            raise EventInvalid("the event contains a NUL character (\\u0000), which cannot be stored")
    kind = kind or event.get("type")
    if kind not in KINDS:
        raise EventInvalid(f"type {kind!r} is not one of {', '.join(KINDS)}", "type")
    message_id = _text(event, "messageId")
    if not message_id:  # no id from the client: the event's own content identifies it, so a retry dedupes
        message_id = "sha-" + hashlib.sha256(orjson.dumps(event, option=orjson.OPT_SORT_KEYS)).hexdigest()[:40]
    user_id, anonymous_id = _text(event, "userId"), _text(event, "anonymousId")
    context = _object(event, "context")
    properties, traits = _object(event, "properties"), _object(event, "traits")
    if kind == "identify" and not traits:
        traits = _object(context, "traits")
    group_id = _text(event, "groupId") or _text(context, "groupId")
    out = Event(index=index, kind=kind, message_id=message_id, occurred_at=received_at, user_id=user_id,
                anonymous_id=anonymous_id, group_id=group_id, properties=properties, traits=traits)  # fmt: skip
    if kind == "alias":
        out.previous_id = _text(event, "previousId")
        if not out.previous_id or not user_id:
            raise EventInvalid("alias needs previousId and userId", "userId" if out.previous_id else "previousId")
    elif kind == "group":
        if not group_id:
            raise EventInvalid("group needs groupId", "groupId")
    elif not user_id and not anonymous_id:
        raise EventInvalid("userId or anonymousId is required", "userId")
    if kind == "track":
        out.name = _text(event, "event", 200)
        if not out.name:
            raise EventInvalid("track needs an event name", "event")
    elif kind in ("page", "screen"):
        out.name = _text(event, "name", 200) or _text(properties, "name", 200)
        path = properties.get("path") or _object(context, "page").get("path") or ""
        out.path = path[:500] if isinstance(path, str) else ""
    timestamp = parse_time(event.get("timestamp"), "timestamp") or parse_time(
        event.get("originalTimestamp"), "originalTimestamp"
    )
    sent_at = parse_time(event.get("sentAt"), "sentAt") or batch_sent_at
    if timestamp is not None:
        try:
            out.occurred_at = timestamp + (received_at - sent_at) if sent_at else timestamp
            too_early = out.occurred_at.year <= EARLIEST.year and out.occurred_at < EARLIEST  # the year is cheaper
            too_late = out.occurred_at > received_at + MAX_FUTURE
        except OverflowError:  # e.g. year 9999 moved on by the client's clock skew, or an offset beyond year 1
            too_early, too_late = True, False
        if too_early or too_late:
            when = f"timestamp {timestamp.isoformat()}"
            if sent_at:
                when += f" (corrected by sentAt {sent_at.isoformat()} for the client's clock)"
            limit = "is out of range: it must be after 1900" if too_early else "is more than a day in the future"
            raise EventInvalid(f"{when} {limit}", "timestamp")
    return out


def unstorable_value(value: Any, path: str = "") -> tuple[str, str]:
    """Where in an event a value no JSON column can hold sits, and what it is (for the rejection message)."""
    stack = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, Unstorable):
            return where or "the event", f"holds the number {item.text[:40]}, out of range"
        if isinstance(item, int) and not INT64[0] <= item <= INT64[1]:
            return where or "the event", "holds an integer beyond 64 bits"
        if isinstance(item, str):
            try:
                item.encode()
            except UnicodeEncodeError:
                return where or "the event", "holds an unpaired surrogate (\\ud800-\\udfff)"
        elif isinstance(item, dict):
            stack.extend((f"{where}.{k}" if where else str(k), v) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(item))
    return "the event", "holds a value that cannot be written as JSON"
