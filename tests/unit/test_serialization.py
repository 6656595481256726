"""The JSON wire format: payloads in, internal jobs for anything unreadable."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from powerworker.serialization import MALFORMED_JOB, QUEUE_KWARG, UNKNOWN_JOB, dumps, make_job_deserializer

deserialize = make_job_deserializer({"Known::Job"})


def test_valid_payload_round_trips() -> None:
    """A valid payload comes out as arq's dict, with the logical queue in the reserved keyword."""
    raw = dumps({"f": "Known::Job", "a": [1, "x"], "k": {"y": 2}, "et": 5, "t": None, "q": "email"}).encode()
    assert deserialize(raw) == {
        "f": "Known::Job",
        "a": [1, "x"],
        "k": {"y": 2, QUEUE_KWARG: "email"},
        "t": None,
        "et": 5,
    }


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1,2]", "not a JSON object"),
        (b'{"a": [], "k": {}, "et": 1}', "'f'"),
        (b'{"f": "Known::Job", "a": {}, "k": {}, "et": 1}', "'a'"),
        (b'{"f": "Known::Job", "a": [], "k": [], "et": 1}', "'k'"),
        (b'{"f": "Known::Job", "a": [], "k": {}, "et": "now"}', "'et'"),
        (b'{"f": "Known::Job", "a": [], "k": {}, "et": 1, "q": 7}', "'q'"),
    ],
)
def test_malformed_payloads_become_the_malformed_job(raw: bytes, problem: str) -> None:
    """Unreadable payloads are routed to the internal job that records them with the raw text."""
    out = deserialize(raw)
    assert out["f"] == MALFORMED_JOB
    assert out["a"][0] == raw.decode("utf-8", "replace")
    assert problem in out["a"][1]


def test_unknown_name_becomes_the_unknown_job() -> None:
    """A payload naming no registered job keeps its name, args and kwargs for the dead set."""
    raw = b'{"f": "Gone::Job", "a": [1], "k": {"z": 1}, "et": 1, "q": "mcp"}'
    assert deserialize(raw) == {
        "f": UNKNOWN_JOB,
        "a": ["Gone::Job", [1], {"z": 1}],
        "k": {QUEUE_KWARG: "mcp"},
        "t": None,
        "et": 1,
    }


def test_results_pass_through() -> None:
    """Stored results (read back by clients) are returned as they are."""
    raw = dumps({"s": True, "r": 3, "f": "X", "a": [], "k": {}, "t": 1, "et": 1, "st": 1, "ft": 2}).encode()
    assert deserialize(raw)["r"] == 3


def test_dumps_handles_non_json_values() -> None:
    """Exceptions, datetimes, sets and bytes get a JSON form instead of breaking the result write."""
    out = json.loads(
        dumps({"e": ValueError("bad"), "d": datetime(2026, 1, 2, tzinfo=UTC), "s": {1}, "b": b"hi"})
    )
    assert out == {
        "e": {"error_class": "ValueError", "message": "bad"},
        "d": "2026-01-02T00:00:00+00:00",
        "s": [1],
        "b": "hi",
    }
