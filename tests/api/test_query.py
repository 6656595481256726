"""Rails-style nested query strings, written as the original's HTTP library wrote them and read back."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import unquote

import pytest

from powerworker.api.query import parse_query, to_query


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"a": 1, "b": "x y"}, "a=1&b=x%20y"),
        ({"status": ["a", "b"]}, "status[]=a&status[]=b"),
        ({"parameters": {"k": "v", "n": 2}}, "parameters[k]=v&parameters[n]=2"),
        ({"h": {"list": [1, 2]}}, "h[list][]=1&h[list][]=2"),
        ({"rows": [{"id": 1}, {"id": 2}]}, "rows[][id]=1&rows[][id]=2"),
        ({"flag": True, "off": False}, "flag=true&off=false"),
        ({"nothing": None}, "nothing"),
        ({"empty": []}, "empty[]"),
        ({"day": date(2026, 11, 27)}, "day=2026-11-27"),
        ({"q": "a&b=c"}, "q=a%26b%3Dc"),
        ({}, ""),
    ],
)
def test_to_query_writes_nested_params(params: dict[str, Any], expected: str) -> None:
    """Arrays become `key[]`, hashes `key[sub]`, with values escaped and brackets percent-encoded."""
    encoded = to_query(params)
    assert "[" not in encoded
    assert unquote(encoded.replace("%5B", "[").replace("%5D", "]")) == unquote(expected)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("a%5B%5D=1&a%5B%5D=2&h%5Bk%5D=v", {"a": ["1", "2"], "h": {"k": "v"}}),
        ("a[]=1&a[]=2&h[k]=v", {"a": ["1", "2"], "h": {"k": "v"}}),
        ("rows[][id]=1&rows[][name]=x&rows[][id]=2", {"rows": [{"id": "1", "name": "x"}, {"id": "2"}]}),
        ("bare&empty[]", {"bare": None, "empty": []}),
        ("h[a][b]=deep", {"h": {"a": {"b": "deep"}}}),
        ("", {}),
    ],
)
def test_parse_query_reads_nested_params(query: str, expected: dict[str, Any]) -> None:
    """Brackets, escaped or not, rebuild the nested structure; values stay strings."""
    assert parse_query(query) == expected


def test_round_trip() -> None:
    """What `to_query` writes, `parse_query` reads back (as strings)."""
    params = {"status": ["active", "past due"], "filter": {"account_id": "a1", "tags": ["x", "y"]}, "page": 2}
    assert parse_query(to_query(params)) == {
        "status": ["active", "past due"],
        "filter": {"account_id": "a1", "tags": ["x", "y"]},
        "page": "2",
    }
