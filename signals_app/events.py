"""Reading Segment-compatible requests and events (the Segment HTTP tracking API, as sent by the official
libraries and RudderStack's): body decoding, limits, write-key extraction, per-event validation and the
clock-skew correction. Plain Python: no database access here.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
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


class RequestInvalid(Exception):
    """The whole request is refused. ``code`` and ``message`` are what the client libraries read."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class EventInvalid(Exception):
    """One event is refused; the rest of its batch is stored."""


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
        raise RequestInvalid(400, "invalid_json", f"the body is not valid JSON: {exc}") from None


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
        raise EventInvalid(f"{name} must be an ISO-8601 string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise EventInvalid(f"{name} {value[:40]!r} is not an ISO-8601 time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text(event: dict, key: str, limit: int = 128) -> str:
    value = event.get(key)
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise EventInvalid(f"{key} must be a string")
    value = value.strip()
    if len(value) > limit:
        raise EventInvalid(f"{key} is longer than {limit} characters")
    return value


def _object(event: dict, key: str) -> dict:
    value = event.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise EventInvalid(f"{key} must be an object")
    return value


def normalise(  # noqa: C901, PLR0912 — one check per event field, in the Segment spec's order
    event: Any, index: int, *, received_at: datetime, batch_sent_at: datetime | None, kind: str | None = None,
    size_checked: bool = False,
) -> Event:  # fmt: skip
    """Validate one event and correct its time as Segment does: timestamp + (receivedAt - sentAt)."""
    if not isinstance(event, dict):
        raise EventInvalid("an event must be a JSON object")
    if not size_checked:
        dumped = orjson.dumps(event)
        if len(dumped) > MAX_EVENT_BYTES:
            raise EventInvalid(f"the event is over {MAX_EVENT_BYTES // 1024} KB")
        if b"\\u0000" in dumped:
            raise EventInvalid("the event contains a NUL character (\\u0000), which cannot be stored")
    kind = kind or event.get("type")
    if kind not in KINDS:
        raise EventInvalid(f"type {kind!r} is not one of {', '.join(KINDS)}")
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
            raise EventInvalid("alias needs previousId and userId")
    elif kind == "group":
        if not group_id:
            raise EventInvalid("group needs groupId")
    elif not user_id and not anonymous_id:
        raise EventInvalid("userId or anonymousId is required")
    if kind == "track":
        out.name = _text(event, "event", 200)
        if not out.name:
            raise EventInvalid("track needs an event name")
    elif kind in ("page", "screen"):
        out.name = _text(event, "name", 200) or _text(properties, "name", 200)
        path = properties.get("path") or _object(context, "page").get("path") or ""
        out.path = path[:500] if isinstance(path, str) else ""
    timestamp = parse_time(event.get("timestamp"), "timestamp") or parse_time(
        event.get("originalTimestamp"), "originalTimestamp"
    )
    sent_at = parse_time(event.get("sentAt"), "sentAt") or batch_sent_at
    if timestamp is not None:
        out.occurred_at = timestamp + (received_at - sent_at) if sent_at else timestamp
    if out.occurred_at > received_at + MAX_FUTURE:
        raise EventInvalid(f"timestamp {out.occurred_at.isoformat()} is more than a day in the future")
    return out
