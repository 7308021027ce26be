"""JSON request bodies, parsed in one place with a size and a nesting bound.

Python's json module recurses once per nesting level: a body of 100,000 "[" would end in a
RecursionError (a 500), and NaN/Infinity are not JSON at all. Every JSON body the app reads
goes through `parse_json`: the pages' JSON endpoints call it (or `read_json_object`) and the
REST API's default parser (`BoundedJSONParser`) is built on it.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# Defaults; settings HERITAGE_JSON_MAX_BYTES and HERITAGE_JSON_MAX_DEPTH override them.
MAX_BYTES = 1024 * 1024
MAX_DEPTH = 32

# Brackets outside strings: strings (with their escapes) are matched whole and skipped.
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


class JSONBodyError(ValueError):
    """A body that is not acceptable JSON; the message is for the client, `status` its code."""

    def __init__(self, message: str, *, status: int = 400):
        super().__init__(message)
        self.status = status


def max_bytes() -> int:
    return getattr(settings, "HERITAGE_JSON_MAX_BYTES", MAX_BYTES)


def max_depth() -> int:
    return getattr(settings, "HERITAGE_JSON_MAX_DEPTH", MAX_DEPTH)


def _reject_constant(name: str):
    raise JSONBodyError(f"{name} is not a JSON number; send finite numbers only.")


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise JSONBodyError(f"The number {text[:20]} is too large; send finite numbers only.")
    return number


def _depth(raw: bytes, limit: int) -> int:
    """The deepest nesting of arrays and objects in `raw`, counted up to limit + 1."""
    depth = deepest = 0
    for match in _TOKENS.finditer(raw):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif token in (b"]", b"}"):
            depth -= 1
    return deepest


def parse_json(raw: bytes | str, *, limit_bytes: int | None = None) -> Any:
    """The JSON value of `raw`, or JSONBodyError with a message saying what is wrong.

    Refused: more than HERITAGE_JSON_MAX_BYTES (status 413), nesting deeper than
    HERITAGE_JSON_MAX_DEPTH, text that is not UTF-8 JSON, NaN and Infinity.
    """
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    limit_bytes = max_bytes() if limit_bytes is None else limit_bytes
    if len(raw) > limit_bytes:
        raise JSONBodyError(
            f"The JSON body is {len(raw):,} bytes; at most {limit_bytes:,} are accepted.",
            status=413,
        )
    depth_limit = max_depth()
    if _depth(raw, depth_limit) > depth_limit:
        raise JSONBodyError(
            f"The JSON body is nested more than {depth_limit} levels deep; send flatter data."
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JSONBodyError("The JSON body is not UTF-8 text.") from exc
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError as exc:  # pragma: no cover - the depth check comes first
        raise JSONBodyError("The JSON body is nested too deeply.") from exc
    except json.JSONDecodeError as exc:
        raise JSONBodyError(f"The body is not valid JSON: {exc}.") from exc


def read_json_object(request, *, empty: dict | None = None) -> dict:
    """A request's JSON body, which must be an object; `empty` (or {}) for an empty body."""
    body = request.body
    if not body.strip():
        return dict(empty or {})
    value = parse_json(body)
    if not isinstance(value, dict):
        raise JSONBodyError(f"The JSON body must be an object ({{...}}), got {_kind(value)}.")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser with the same bounds as the pages (the API's default parser)."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = max_bytes()
        raw = stream.read(limit + 1) if stream is not None else b""
        try:
            return parse_json(raw, limit_bytes=limit)
        except JSONBodyError as exc:
            error = ParseError(str(exc))
            error.status_code = exc.status
            raise error from exc
