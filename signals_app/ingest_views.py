"""The Segment-compatible HTTP tracking API: ``/ingest/v1/{batch,identify,track,group,page,screen,alias}``.

Point a Segment or RudderStack library at ``https://klearly.example.com/ingest`` with a Klearly write key. Every
answer is JSON with ``code`` and ``message`` on errors (what the libraries read), so a bad request is reported
and never retried forever; a batch with some bad events stores the others and lists the refused ones.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from klearly.rate_limits import write_key_wait

from . import events as ev
from .ingest import events_ingest
from .selectors import WriteKeyRefused, write_key_get

logger = logging.getLogger(__name__)


def _error(status: int, code: str, message: str, **extra) -> JsonResponse:
    response = JsonResponse({"success": False, "code": code, "message": message, **extra}, status=status)
    return response


@csrf_exempt
@require_POST
# One answer per way a request can be refused, in the order they are checked (hence the noqa below).
def ingest(request: HttpRequest, kind: str | None = None) -> JsonResponse:  # noqa: C901, PLR0912
    """Take one event (``/v1/track`` …) or a batch (``/v1/batch``)."""
    received_at = timezone.now()
    try:
        body = ev.decode_body(request.body, request.headers.get("Content-Encoding", ""))
        if not isinstance(body, dict):
            raise ev.RequestInvalid(400, "invalid_request", "the body must be a JSON object")
        raw_key = ev.write_key_from(request.headers.get("Authorization", ""), body)
        if not raw_key:
            raise ev.RequestInvalid(401, "missing_write_key", "send your write key as the Basic auth username")
        key = write_key_get(raw_key=raw_key)
    except ev.RequestInvalid as exc:
        return _error(exc.status, exc.code, exc.message)
    except WriteKeyRefused as exc:
        return _error(401, "invalid_write_key", str(exc))

    wait = write_key_wait(key_id=key.pk)
    if wait:
        response = _error(429, "rate_limited", f"too many requests for this write key; retry in {wait}s")
        response["Retry-After"] = str(wait)
        return response

    if kind == "batch":
        items = body.get("batch")
        if not isinstance(items, list):
            return _error(400, "invalid_request", "a batch needs a 'batch' list of events")
        if len(items) > ev.MAX_BATCH_EVENTS:
            return _error(413, "payload_too_large", f"a batch holds at most {ev.MAX_BATCH_EVENTS} events")
    else:
        items = [body]
    try:
        batch_sent_at = ev.parse_time(body.get("sentAt"), "sentAt") if kind == "batch" else None
    except ev.EventInvalid as exc:
        return _error(400, "invalid_request", str(exc))

    # An event can only be over the limit if the body is: skip measuring each one for ordinary batches.
    # (A NUL character, which PostgreSQL cannot store, or numbers out of range also send every event through the
    # per-event check.)
    size_checked = (
        len(request.body) <= ev.MAX_EVENT_BYTES
        and request.headers.get("Content-Encoding", "") == ""
        and b"\\u0000" not in request.body
        and not isinstance(body, ev.LenientBody)
    )
    accepted: list[ev.Event] = []
    rejected: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        try:
            accepted.append(
                ev.normalise(item, index, received_at=received_at, batch_sent_at=batch_sent_at,
                             kind=None if kind == "batch" else kind, size_checked=size_checked)
            )  # fmt: skip
        except ev.EventInvalid as exc:
            message_id = item.get("messageId") if isinstance(item, dict) else None
            rejected.append({"index": index, "messageId": message_id, "reason": str(exc), "field": exc.field})

    try:
        result = events_ingest(source=key.source, events=accepted, received_at=received_at)
    except (OperationalError, InterfaceError):
        # The database is unreachable or restarting: a 503 makes the libraries retry later, which is safe
        # because message ids make the retry idempotent.
        logger.exception("event batch not stored; asking the client to retry")
        response = _error(503, "unavailable", "the database is unavailable; retry later")
        response["Retry-After"] = "5"
        return response
    if result.rejected:  # fields their columns cannot hold (a 100-character country, 1e308 employees)
        for refused in result.rejected:
            rejected.append({"index": refused["index"], "messageId": items[refused["index"]].get("messageId"),
                             "reason": refused["reason"], "field": refused["field"]})  # fmt: skip
        rejected.sort(key=lambda r: r["index"])
    payload = {
        "success": True,
        "received": len(items),
        "stored": result.stored,
        "duplicates": result.duplicates,
        "rejected": rejected,
    }
    if rejected and len(rejected) == len(items):
        return _error(400, "invalid_events", "every event was refused; see 'rejected'", **{
            k: v for k, v in payload.items() if k != "success"
        })  # fmt: skip
    return JsonResponse(payload)
