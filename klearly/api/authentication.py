"""Who is calling the REST API: an API key (read or admin scope) or a write key (ingest scope), sent as
``Authorization: Bearer <key>`` or as HTTP Basic with the key as the username (what Segment's libraries send).

A key-authenticated request has ``request.auth`` set to the key row and ``request.user`` to a :class:`KeyPrincipal`
(not a Django user: a key's rights come from its scope, never from someone's permissions).
"""

from __future__ import annotations

import base64
import binascii

from django.db.models import Model
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from klearly.models import ApiKey
from klearly.services import API_KEY_PREFIX, key_mark_used
from signals_app.models import WriteKey
from signals_app.selectors import WriteKeyRefused, write_key_get

MAX_KEY_LENGTH = 200


class KeyPrincipal:
    """``request.user`` for a request made with a key: authenticated, but with no Django permissions."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, key: ApiKey | WriteKey) -> None:
        self.key = key
        kind = "api-key" if isinstance(key, ApiKey) else "write-key"
        self.username = f"{kind}:{key.prefix}"

    def __str__(self) -> str:
        return self.username

    def has_perm(self, perm: str, obj: Model | None = None) -> bool:
        return False

    def has_perms(self, perm_list, obj: Model | None = None) -> bool:
        return False

    def get_username(self) -> str:
        return self.username


def key_from_header(header: bytes) -> str | None:
    """The raw key in an ``Authorization`` header, or None when there is none; raises on a malformed one."""
    parts = header.split()
    if not parts:
        return None
    scheme = parts[0].lower()
    if scheme not in (b"bearer", b"basic"):
        raise exceptions.AuthenticationFailed(
            "unsupported Authorization scheme: send 'Authorization: Bearer <key>' (or HTTP Basic with a write key "
            "as the username)"
        )
    if len(parts) != 2:
        raise exceptions.AuthenticationFailed(
            f"malformed Authorization header: expected '{parts[0].decode(errors='replace')} <credentials>'"
        )
    try:
        if scheme == b"bearer":
            raw = parts[1].decode("ascii")
        else:
            username, _, password = base64.b64decode(parts[1], validate=True).decode("utf-8").partition(":")
            raw = username or password  # Segment sends the key as the username; some clients as the password
    except (UnicodeDecodeError, binascii.Error):
        raise exceptions.AuthenticationFailed(
            "malformed Authorization header: the credentials cannot be read"
        ) from None
    raw = raw.strip()
    if not raw:
        raise exceptions.AuthenticationFailed("the Authorization header carries no key")
    return raw


def key_lookup(raw: str) -> ApiKey | WriteKey:
    """The active key for a raw secret; raises AuthenticationFailed with the reason when it is not usable. Write keys
    are looked up as the event endpoint looks them up (``signals_app.selectors.write_key_get``)."""
    if len(raw) > MAX_KEY_LENGTH or "\x00" in raw:
        raise exceptions.AuthenticationFailed("unknown key")
    if not raw.startswith(API_KEY_PREFIX):
        try:
            return write_key_get(raw_key=raw)
        except WriteKeyRefused as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from None
    key = ApiKey.objects.filter(key_hash=ApiKey.hash_key(raw)).first()
    if key is None:
        raise exceptions.AuthenticationFailed(
            f"unknown key {raw[:11]}…: check it, or make a new one in the admin (API keys, or write keys on an "
            "ingestion source)"
        )
    if key.revoked_at is not None:
        raise exceptions.AuthenticationFailed(f"key {key.prefix}… was revoked on {key.revoked_at:%Y-%m-%d %H:%M} UTC")
    return key


class KeyAuthentication(authentication.BaseAuthentication):
    """API keys and write keys, as a Bearer token or as the username of HTTP Basic."""

    def authenticate(self, request: Request) -> tuple[KeyPrincipal, ApiKey | WriteKey] | None:
        raw = key_from_header(authentication.get_authorization_header(request))
        if raw is None:
            return None
        key = key_lookup(raw)
        if isinstance(key, ApiKey):  # write keys are marked by their lookup
            key_mark_used(key=key)
        return KeyPrincipal(key), key

    def authenticate_header(self, request: Request) -> str:
        # Makes unauthenticated requests 401 (not 403), without a browser's Basic login prompt.
        return 'Bearer realm="klearly"'
