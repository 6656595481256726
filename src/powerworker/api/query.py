"""Rails-style nested query strings, as the original worker's HTTP library wrote them.

`to_query({"status": ["a", "b"], "parameters": {"k": "v"}})` gives
`status%5B%5D=a&status%5B%5D=b&parameters%5Bk%5D=v` (that is `status[]=a&status[]=b&parameters[k]=v`; brackets
are percent-encoded as Faraday did, and Rails reads either form). `None` becomes a bare key, booleans
`true`/`false`, an empty list `key[]`. `parse_query` reads such a string back into nested dicts and lists (the
fake backend uses it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qsl, quote

__all__ = ["parse_query", "to_query"]

_SAFE = "-._~"
_OPEN, _CLOSE = "%5B", "%5D"


def _escape(value: object) -> str:
    return quote(str(value), safe=_SAFE)


def _scalar(value: object) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, datetime | date):
        return _escape(value.isoformat())
    return _escape(value)


def _pairs(prefix: str, value: Any, out: list[str]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _pairs(f"{prefix}{_OPEN}{_escape(key)}{_CLOSE}", item, out)
    elif isinstance(value, list | tuple | set | frozenset):
        if not value:
            out.append(f"{prefix}{_OPEN}{_CLOSE}")
        for item in value:
            _pairs(f"{prefix}{_OPEN}{_CLOSE}", item, out)
    elif value is None:
        out.append(prefix)
    else:
        out.append(f"{prefix}={_scalar(value)}")


def to_query(params: Mapping[str, Any] | None) -> str:
    """Encode `params` as a Rails-style nested query string (without the leading `?`)."""
    out: list[str] = []
    for key, value in (params or {}).items():
        _pairs(_escape(key), value, out)
    return "&".join(out)


_KEY_PARTS = re.compile(r"\[([^\]]*)\]")


def parse_query(query: str) -> dict[str, Any]:
    """Decode a Rails-style nested query string: `a[]=1&a[]=2&h[k]=v` -> `{"a": ["1", "2"], "h": {"k": "v"}}`.

    Values stay strings; a bare key maps to None. Arrays of hashes (`a[][k]=v`) start a new element whenever a
    key repeats, as Rack does.
    """
    result: dict[str, Any] = {}
    for raw_key, value in _parse_pairs(query):
        head, _, rest = raw_key.partition("[")
        parts = [head, *_KEY_PARTS.findall("[" + rest)] if rest else [head]
        _assign(result, parts, value)
    return result


def _parse_pairs(query: str) -> list[tuple[str, str | None]]:
    pairs: list[tuple[str, str | None]] = []
    for piece in filter(None, query.split("&")):
        if "=" in piece:
            pairs.extend(parse_qsl(piece, keep_blank_values=True))
        else:
            key = parse_qsl(piece + "=", keep_blank_values=True)[0][0]
            pairs.append((key, None))
    return pairs


def _assign(target: dict[str, Any], parts: list[str], value: str | None) -> None:
    key, rest = parts[0], parts[1:]
    if not rest:
        target[key] = value
        return
    if rest[0] == "":  # key[] ...
        items = target.setdefault(key, [])
        if not isinstance(items, list):
            items = target[key] = []
        if len(rest) == 1:
            if value is not None:
                items.append(value)
            return
        sub_key = rest[1]
        if not items or not isinstance(items[-1], dict) or sub_key in items[-1]:
            items.append({})
        _assign(items[-1], rest[1:], value)
        return
    child = target.setdefault(key, {})
    if not isinstance(child, dict):
        child = target[key] = {}
    _assign(child, rest, value)
