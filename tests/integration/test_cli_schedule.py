"""`powerworker schedule`: listing and operator control from the command line."""

from __future__ import annotations

import pytest
import redis as sync_redis
from click.testing import CliRunner

from powerworker.cli import main
from powerworker.scheduler import STATES_KEY
from tests.conftest import TEST_REDIS_URL


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("REDIS_URL", TEST_REDIS_URL)
    monkeypatch.setenv("WORKER_ENV", "test")
    with sync_redis.Redis.from_url(TEST_REDIS_URL) as client:
        client.flushdb()
    return CliRunner()


def test_list_shows_every_entry(cli: CliRunner) -> None:
    """All 52 entries are listed with expression, queue, next run and state."""
    out = cli.invoke(main, ["schedule"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].split() == ["NAME", "CRON", "QUEUE", "NEXT", "RUN", "LAST", "RUN", "STATE"]
    assert len(lines) == 53
    backup = next(line for line in lines if line.startswith("weekly_schema_backup"))
    assert "0 3 * * 0" in backup and "maintenance" in backup and backup.endswith("enabled")


def test_disable_enable_and_run(cli: CliRunner) -> None:
    """disable and enable write the shared state; run enqueues the job once."""
    assert (
        cli.invoke(main, ["schedule", "disable", "backup_cleanup"]).output.strip()
        == "backup_cleanup: disabled"
    )
    with sync_redis.Redis.from_url(TEST_REDIS_URL) as client:
        assert client.hget(STATES_KEY, "backup_cleanup") == b"disabled"
    listed = cli.invoke(main, ["schedule", "list"]).output
    assert next(line for line in listed.splitlines() if line.startswith("backup_cleanup")).endswith(
        "DISABLED"
    )
    assert cli.invoke(main, ["schedule", "enable", "backup_cleanup"]).exit_code == 0
    ran = cli.invoke(main, ["schedule", "run", "backup_cleanup"])
    assert ran.exit_code == 0 and "enqueued schedule:backup_cleanup:now:" in ran.output
    with sync_redis.Redis.from_url(TEST_REDIS_URL) as client:
        assert client.zcard("arq:queue") == 1


def test_unknown_schedule(cli: CliRunner) -> None:
    """Naming a schedule that does not exist fails with a clear message."""
    out = cli.invoke(main, ["schedule", "run", "nope"])
    assert out.exit_code == 1 and "no schedule named 'nope'" in out.output
