"""OpenAPI (drf-spectacular) pieces: the security schemes of the API keys and write keys, and the hook that keeps
the schema to ``/api/v1/`` (the Segment-compatible ``/ingest/`` endpoint follows Segment's own documentation)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension

API_PREFIX = "/api/v1/"


class KeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Describes :class:`klearly.api.authentication.KeyAuthentication` as two schemes: bearer and basic."""

    target_class = "klearly.api.authentication.KeyAuthentication"
    name = ["apiKey", "writeKey"]

    def get_security_requirement(self, auto_schema) -> list[dict[str, list]]:
        action = getattr(auto_schema.view, "action", None)
        if action in getattr(auto_schema.view, "write_key_actions", ()):
            return [{"apiKey": []}, {"writeKey": []}]
        return [{"apiKey": []}]

    def get_security_definition(self, auto_schema) -> list[dict[str, Any]]:
        return [
            {
                "type": "http",
                "scheme": "bearer",
                "description": (
                    "`Authorization: Bearer <key>`. An API key (made in the admin under API keys) has the `read` "
                    "scope (every GET) or the `admin` scope (everything). A write key may be sent this way too."
                ),
            },
            {
                "type": "http",
                "scheme": "basic",
                "description": (
                    "A write key of an ingestion source as the username, with an empty password (what Segment's "
                    "libraries send); also accepted as a Bearer token. Ingest scope: it may only create signals "
                    "(`POST /api/v1/signals/`); every other request is 403."
                ),
            },
        ]


def only_api_v1(endpoints: list[tuple], **kwargs: Any) -> list[tuple]:
    """Preprocessing hook: document the REST API under /api/v1/ only."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith(API_PREFIX)]
