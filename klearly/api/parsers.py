"""JSON request bodies only, and never one Python cannot hand to the database."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class StrictJSONParser(JSONParser):
    """DRF's JSON parser (NaN and Infinity refused), that also refuses lone UTF-16 surrogates ("\\ud800"), which
    no database driver can encode, and bodies nested beyond Python's recursion limit."""

    def parse(self, stream, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body nests too deeply") from None
        if _has_lone_surrogate(data):
            raise ParseError("JSON parse error - the body contains an unpaired surrogate escape (\\ud800-\\udfff)")
        return data


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
