"""Test support for powerworker and for users testing their own jobs: a fake clock and (see
`powerworker.testing.fake_backend`) a fake Powernode backend."""

from powerworker.testing.clock import FakeClock
from powerworker.testing.fake_backend import FakeBackend, RecordedRequest, Reply

__all__ = ["FakeBackend", "FakeClock", "RecordedRequest", "Reply"]
