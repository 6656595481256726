"""Every dashboard page and action, against a real Redis and the fake backend."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from powerworker import keys
from powerworker.dead import DeadEntry
from powerworker.resilience.breaker import BreakerRegistry
from powerworker.scheduler import STATES_KEY
from powerworker.serialization import MALFORMED_JOB
from powerworker.testing.worker import WorkerHarness
from powerworker.tracking import record_metric
from tests.web.conftest import Dashboard

Harness = Callable[..., AbstractAsyncContextManager[WorkerHarness]]


def _entry(
    job_id: str, now: float, *, name: str = "Test::RecordJob", args: list[object] | None = None
) -> DeadEntry:
    return DeadEntry(
        job_id,
        name,
        args if args is not None else [job_id],
        {},
        "maintenance",
        "RuntimeError",
        "it broke",
        'Traceback (most recent call last):\n  File "x.py", line 1\nRuntimeError: it broke\n',
        4,
        now,
    )


async def _live_worker(dashboard: Dashboard, instance: str = "inst-1") -> None:
    now = dashboard.clock.time()
    await dashboard.redis.zadd(keys.WORKERS, {instance: now - 5, "long-gone": now - 3600})
    await dashboard.redis.hset(
        keys.worker_info(instance),
        mapping={"host": "jobs-1", "pid": 77, "lane": "default", "concurrency": 5, "started_at": now - 7200},
    )
    await dashboard.redis.hset(
        keys.running(instance),
        "running-job-1",
        json.dumps({"name": "Test::SlowJob", "queue": "reports", "try": 2, "started_at": now - 30}),
    )


# -- overview -----------------------------------------------------------------------------------------------------
async def test_overview(signed_in: Dashboard) -> None:
    """Depth per logical queue, running jobs, the last hour's throughput and the live workers."""
    for i in range(3):
        await signed_in.enqueuer.enqueue("Test::RecordJob", [i], queue="email", check_name=False)
    await signed_in.enqueuer.enqueue(
        "Test::RecordJob", ["later"], queue="reports", defer_s=600, check_name=False
    )
    now = signed_in.clock.time()
    await signed_in.redis.hset(keys.stats_minute(now - 120), mapping={"processed": 40, "failed": 2})
    await signed_in.redis.hset(keys.stats_minute(now - 3 * 3600), mapping={"processed": 999})  # too old
    await _live_worker(signed_in)
    await signed_in.deps.dead.add(_entry("d1", now))
    body = await signed_in.text("/")
    assert '<span class="value" id="stat-ready">3</span>' in body
    assert '<span class="value" id="stat-scheduled">1</span>' in body
    assert '<span class="value" id="stat-running">1</span>' in body
    assert '<span class="value" id="stat-dead">1</span>' in body
    assert '<span class="value" id="stat-workers">1</span>' in body
    assert '<span class="value">40</span><span class="label">Processed · 60 min</span>' in body
    assert "40 processed, 2 failed" in body  # the chart's tooltip for that minute
    assert ">email</a>" in body and ">reports</a>" in body
    assert "Test::SlowJob" in body and "jobs-1" in body and "long-gone" not in body


async def test_overview_when_idle(signed_in: Dashboard) -> None:
    """An empty queue and no worker read as such."""
    body = await signed_in.text("/?minutes=15")
    assert "No job is waiting." in body
    assert "No worker has sent a heartbeat in the last minute." in body
    assert "Nothing is running." in body


# -- queued and scheduled jobs ------------------------------------------------------------------------------------
async def test_jobs_ready_and_scheduled(signed_in: Dashboard) -> None:
    """Ready jobs and scheduled jobs are listed apart, and "all" shows both in run order."""
    await signed_in.enqueuer.enqueue("Test::RecordJob", ["now"], job_id="j-now", check_name=False)
    await signed_in.enqueuer.enqueue(
        "Test::RecordJob", ["later"], job_id="j-later", defer_s=60, check_name=False
    )
    ready = await signed_in.text("/jobs")
    assert "j-now" in ready and "j-later" not in ready
    scheduled = await signed_in.text("/jobs?state=scheduled")
    assert "j-later" in scheduled and "j-now" not in scheduled and "in 1m 0s" in scheduled
    both = await signed_in.text("/jobs?state=all")
    assert both.index("j-now") < both.index("j-later")


async def test_jobs_filters_and_paging(signed_in: Dashboard) -> None:
    """Filters by queue and name-part narrow the list; pages split it and link to each other."""
    for i in range(30):
        await signed_in.enqueuer.enqueue(
            "Email::SendJob" if i % 2 else "Report::BuildJob",
            [i],
            queue="email" if i % 2 else "reports",
            job_id=f"job-{i:02d}",
            check_name=False,
        )
    body = await signed_in.text("/jobs?queue=email&per_page=25")
    assert '<span class="count" id="job-count">15 jobs</span>' in body
    assert "Report::BuildJob" not in body
    body = await signed_in.text("/jobs?name=report&state=all&per_page=25")
    assert "15 jobs" in body and "Email::SendJob" not in body
    first = await signed_in.text("/jobs?per_page=25")
    second = await signed_in.text("/jobs?per_page=25&page=2")
    assert "Page 1 of 2" in first and 'href="/jobs?state=ready&amp;per_page=25&amp;page=2"' in first
    assert "Page 2 of 2" in second
    assert first.count('class="id muted"') == 25 and second.count('class="id muted"') == 5
    filtered_page = await signed_in.text("/jobs?queue=email&per_page=25&page=2&state=all")
    assert "Page 1 of 1" not in filtered_page and filtered_page.count('class="id muted"') == 0


async def test_jobs_across_lanes(signed_in: Dashboard) -> None:
    """Jobs of every lane are listed together in run order, and one lane can be picked."""
    await signed_in.redis.set(
        keys.JOB_PREFIX + "in-mail", json.dumps({"f": "Mail::Job", "a": [], "k": {}, "q": "email", "et": 1})
    )
    await signed_in.redis.zadd(keys.lane_key("mail"), {"in-mail": 1})
    await signed_in.enqueuer.enqueue("Test::RecordJob", ["x"], job_id="in-default", check_name=False)
    body = await signed_in.text("/jobs?state=all")
    assert body.index("in-mail") < body.index("in-default")
    assert '<option value="mail"' in body
    only_mail = await signed_in.text("/jobs?state=all&lane=mail")
    assert "in-mail" in only_mail and "in-default" not in only_mail


# -- one job ------------------------------------------------------------------------------------------------------
async def test_job_page_of_a_queued_job(signed_in: Dashboard) -> None:
    """A queued job shows its name, arguments, keyword arguments and state, and watches itself."""
    await signed_in.enqueuer.enqueue(
        "Test::RecordJob", ["alpha", 2], {"flag": True}, queue="maintenance", job_id="q1", check_name=False
    )
    body = await signed_in.text("/jobs/q1")
    assert 'id="job-state">ready<' in body
    assert "&#34;alpha&#34;" in body and "&#34;flag&#34;: true" in body
    assert 'http-equiv="refresh" content="2"' in body
    await signed_in.redis.set(keys.IN_PROGRESS_PREFIX + "q1", b"1")
    assert 'id="job-state">running<' in await signed_in.text("/jobs/q1")


async def test_job_page_of_finished_jobs(signed_in: Dashboard, harness: Harness) -> None:
    """A job run by a real worker shows its result; one that died shows its error, traceback and actions."""
    async with harness() as worker:
        ok = await worker.enqueue("Diagnostics::EchoJob", [{"answer": 42}])
        dead = await worker.enqueue("Diagnostics::FailJob", ["no way"], {"permanent": True})
        await worker.drain()
    body = await signed_in.text(f"/jobs/{ok}")
    assert 'id="job-state">complete<' in body and "&#34;answer&#34;: 42" in body
    assert 'http-equiv="refresh"' not in body
    body = await signed_in.text(f"/jobs/{dead}")
    assert 'id="job-state">dead<' in body
    assert "PermanentDiagnosticFailure" in body and "no way" in body and "Traceback" in body
    assert f'action="/dead/{dead}/retry"' in body


async def test_job_page_of_a_failed_result(signed_in: Dashboard) -> None:
    """A kept failed result (no dead-set entry) shows the error it recorded."""
    result = {
        "s": False,
        "r": {"error_class": "ValueError", "message": "bad input"},
        "t": 1,
        "st": 1,
        "ft": 2,
    }
    await signed_in.redis.set(keys.RESULT_PREFIX + "f1", json.dumps(result))
    body = await signed_in.text("/jobs/f1")
    assert 'id="job-state">failed<' in body and "ValueError" in body and "bad input" in body


async def test_job_page_of_an_unknown_job(signed_in: Dashboard) -> None:
    """An id nothing knows of is a 404 page."""
    assert "No such job" in await signed_in.text("/jobs/ghost", status=404)


async def test_unknown_address(dashboard: Dashboard) -> None:
    """An address with no page is a friendly 404, signed in or not."""
    assert "There is no page at this address." in await dashboard.text("/nowhere", status=404)


async def test_login_page_when_signed_in(signed_in: Dashboard) -> None:
    """A signed-in user sent to the sign-in page goes on to where they were headed."""
    response = await signed_in.get("/login?next=/dead")
    assert (response.status, response.headers["Location"]) == (303, "/dead")


# -- dead set -----------------------------------------------------------------------------------------------------
async def test_dead_page_lists_newest_first_with_paging(signed_in: Dashboard) -> None:
    """Dead jobs are listed newest first, 25 to a page when asked."""
    now = signed_in.clock.time()
    for i in range(30):
        await signed_in.deps.dead.add(_entry(f"dead-{i:02d}", now + i))
    body = await signed_in.text("/dead?per_page=25")
    assert "30 jobs" in body and "Page 1 of 2" in body
    assert body.index("dead-29") < body.index("dead-28") and "dead-04" not in body
    assert "dead-04" in await signed_in.text("/dead?per_page=25&page=2")


async def test_retry_one_dead_job(signed_in: Dashboard) -> None:
    """Retry enqueues the job again under its id and removes the entry."""
    await signed_in.deps.dead.add(_entry("d1", signed_in.clock.time()))
    await signed_in.text("/dead")
    response = await signed_in.post("/dead/d1/retry", {"back": "/dead"})
    assert response.headers["Location"] == "/dead?done=retried&n=1"
    assert await signed_in.redis.zscore(keys.lane_key("default"), "d1") is not None
    assert await signed_in.deps.dead.size() == 0
    assert "1 dead job(s) enqueued again." in await signed_in.text("/dead?done=retried&n=1")
    again = await signed_in.post("/dead/d1/retry", {"back": "/dead"})
    assert again.headers["Location"] == "/dead?done=gone"


async def test_retry_from_the_job_page_returns_there(signed_in: Dashboard) -> None:
    """Retrying from a job's page goes back to that page, to watch it; a foreign `back` is ignored."""
    await signed_in.deps.dead.add(_entry("d1", signed_in.clock.time()))
    await signed_in.text("/jobs/d1")
    response = await signed_in.post("/dead/d1/retry", {"back": "/jobs/d1"})
    assert response.headers["Location"] == "/jobs/d1?done=retried&n=1"
    await signed_in.deps.dead.add(_entry("d2", signed_in.clock.time()))
    response = await signed_in.post("/dead/d2/retry", {"back": "https://evil.example/"})
    assert response.headers["Location"] == "/dead?done=retried&n=1"


async def test_malformed_dead_job_cannot_be_retried(signed_in: Dashboard) -> None:
    """An entry holding a malformed payload stays, with a notice saying why."""
    await signed_in.deps.dead.add(_entry("bad", signed_in.clock.time(), name=MALFORMED_JOB))
    body = await signed_in.text("/dead")
    assert 'action="/dead/bad/retry"' not in body
    response = await signed_in.post("/dead/bad/retry", {"back": "/dead"})
    assert response.headers["Location"] == "/dead?done=not_retryable"
    assert await signed_in.deps.dead.size() == 1


async def test_delete_one_dead_job(signed_in: Dashboard) -> None:
    """Delete removes the entry; from the job's page it returns to the dead set."""
    await signed_in.deps.dead.add(_entry("d1", signed_in.clock.time()))
    await signed_in.text("/dead")
    response = await signed_in.post("/dead/d1/delete", {"back": "/jobs/d1"})
    assert response.headers["Location"] == "/dead?done=deleted&n=1"
    assert await signed_in.deps.dead.size() == 0


async def test_bulk_retry_asks_first(signed_in: Dashboard) -> None:
    """Retrying the selected jobs shows a confirmation naming them; only "yes" acts."""
    now = signed_in.clock.time()
    for job_id in ("a", "b", "c"):
        await signed_in.deps.dead.add(_entry(job_id, now))
    await signed_in.text("/dead")
    asked = await signed_in.post(
        "/dead/bulk", [("action", "retry"), ("scope", "selected"), ("ids", "a"), ("ids", "b")]
    )
    body = await asked.text()
    assert asked.status == 200 and "Retry 2 dead jobs?" in body and "<code>a</code>" in body
    assert await signed_in.deps.dead.size() == 3
    signed_in.csrf = body.split('name="_csrf" value="')[1].split('"')[0]
    done = await signed_in.post(
        "/dead/bulk",
        [("action", "retry"), ("scope", "selected"), ("ids", "a"), ("ids", "b"), ("confirm", "yes")],
    )
    assert done.headers["Location"] == "/dead?done=retried&n=2"
    assert await signed_in.deps.dead.all_ids() == ["c"]


async def test_bulk_delete_all_asks_first(signed_in: Dashboard) -> None:
    """Deleting everything names the count first, then empties the dead set."""
    now = signed_in.clock.time()
    for job_id in ("a", "b", "c"):
        await signed_in.deps.dead.add(_entry(job_id, now))
    await signed_in.text("/dead")
    asked = await signed_in.post("/dead/bulk", {"action": "delete", "scope": "all"})
    assert "Delete all 3 dead jobs?" in await asked.text()
    done = await signed_in.post("/dead/bulk", {"action": "delete", "scope": "all", "confirm": "yes"})
    assert done.headers["Location"] == "/dead?done=deleted&n=3"
    assert await signed_in.deps.dead.size() == 0


async def test_bulk_with_nothing_selected(signed_in: Dashboard) -> None:
    """A bulk action with no job selected does nothing and says so."""
    await signed_in.text("/dead")
    response = await signed_in.post("/dead/bulk", {"action": "retry", "scope": "selected"})
    assert response.headers["Location"] == "/dead?done=nothing"


async def test_actions_need_a_session(dashboard: Dashboard) -> None:
    """An anonymous visitor's action (with a valid anonymous CSRF token) gets the sign-in page."""
    await dashboard.deps.dead.add(_entry("d1", dashboard.clock.time()))
    await dashboard.text("/login")
    response = await dashboard.post("/dead/d1/delete")
    assert response.status == 401
    assert await dashboard.deps.dead.size() == 1


# -- schedule -----------------------------------------------------------------------------------------------------
async def test_schedule_page(signed_in: Dashboard) -> None:
    """Each entry shows its cron, job, next run, last run and state."""
    scheduler = signed_in.deps.scheduler
    await scheduler.fire(scheduler.entries["nightly_cleanup"], int(signed_in.clock.time() // 60 * 60_000))
    body = await signed_in.text("/schedule")
    assert "nightly_cleanup" in body and "0 3 * * *" in body and "Removes what is old" in body
    assert "2023-11-15 03:00" in body  # next run after the fake clock's 2023-11-14 22:13
    assert "2023-11-14 22:13" in body  # the fired tick
    assert "never" in body  # every_five_minutes has not run


async def test_disable_enable_and_run_a_schedule(signed_in: Dashboard) -> None:
    """Disable and enable write the shared state; "run now" enqueues the job once."""
    await signed_in.text("/schedule")
    response = await signed_in.post("/schedule/nightly_cleanup/disable")
    assert response.headers["Location"] == "/schedule?done=disabled"
    assert await signed_in.redis.hget(STATES_KEY, "nightly_cleanup") == b"disabled"
    body = await signed_in.text("/schedule?show=disabled")
    assert "nightly_cleanup" in body and "every_five_minutes" not in body and ">Enable</button>" in body
    await signed_in.post("/schedule/nightly_cleanup/enable")
    assert await signed_in.redis.hget(STATES_KEY, "nightly_cleanup") == b"enabled"
    response = await signed_in.post("/schedule/nightly_cleanup/run")
    assert response.headers["Location"] == "/schedule?done=triggered"
    queued = await signed_in.redis.zrange(keys.lane_key("default"), 0, -1)
    assert [member.decode().rsplit(":", 1)[0] for member in queued] == ["schedule:nightly_cleanup:now"]


# -- runaway-disabled keys ----------------------------------------------------------------------------------------
async def test_runaway_page_and_reenable(signed_in: Dashboard) -> None:
    """A disabled key shows its reason, time left and failures; re-enabling deletes it and its history."""
    job_key = "Test::RecordJob:4f53cda18c2baa0c"
    await signed_in.redis.set(keys.job_disabled(job_key), "runaway_loop_detected", ex=300)
    await signed_in.redis.lpush(keys.job_executions(job_key), "1", "2")
    await signed_in.redis.lpush(
        keys.job_failures(job_key), json.dumps({"error_class": "TimeoutError", "error_message": "slow"})
    )
    body = await signed_in.text("/runaway")
    assert (
        job_key in body and "runaway_loop_detected" in body and "in 5m 0s" in body and "TimeoutError" in body
    )
    response = await signed_in.post("/runaway/enable", {"key": job_key})
    assert response.headers["Location"] == "/runaway?done=reenabled"
    assert await signed_in.redis.exists(keys.job_disabled(job_key), keys.job_executions(job_key)) == 0
    assert "No job key is disabled." in await signed_in.text("/runaway")
    again = await signed_in.post("/runaway/enable", {"key": job_key})
    assert again.headers["Location"] == "/runaway?done=gone"


# -- breakers -----------------------------------------------------------------------------------------------------
async def test_breakers_page(signed_in: Dashboard) -> None:
    """Each worker's published breakers are shown with their state, open ones flagged."""
    await _live_worker(signed_in, "inst-1")
    registry = BreakerRegistry(clock=signed_in.clock, worker_id="inst-1")
    registry.get("backend_api")
    registry.get("ai_provider:openai").open()
    await registry.publish(signed_in.redis)
    await BreakerRegistry(clock=signed_in.clock, worker_id="inst-2").publish(signed_in.redis)  # nothing yet
    other = BreakerRegistry(clock=signed_in.clock, worker_id="inst-3")
    other.get("web_auth")
    await other.publish(signed_in.redis)
    body = await signed_in.text("/breakers")
    assert "jobs-1:77 <span" in body and "inst-1</span>" in body and "1 not closed" in body
    assert "Worker <span" in body and "inst-3</span>" in body and "inst-2" not in body
    assert '<span class="badge bad">open</span>' in body and '<span class="badge ok">closed</span>' in body
    assert "2023-11-14 22:13:20" in body  # opened at, on the fake clock


async def test_breakers_page_when_none(signed_in: Dashboard) -> None:
    """With no worker publishing, the page says so."""
    assert "No worker has published breaker state" in await signed_in.text("/breakers")


# -- job metrics --------------------------------------------------------------------------------------------------
async def test_job_metrics_pages(signed_in: Dashboard) -> None:
    """Metrics are summarised per name, and one metric's points are listed with their tags."""
    for value in (3.0, 5.0, 10.0):
        await record_metric(
            signed_in.redis,
            signed_in.clock,
            kind="gauge",
            name="queue.lag",
            value=value,
            tags={"queue": "email"},
            job_class="Test::RecordJob",
        )
    body = await signed_in.text("/job-metrics")
    assert 'href="/job-metrics/queue.lag"' in body and ">10<" in body and ">6<" in body and ">3<" in body
    detail = await signed_in.text("/job-metrics/queue.lag?limit=2")  # clamped to at least 10
    assert detail.count("queue=email") == 3 and "Test::RecordJob" in detail
    assert "No point recorded." in await signed_in.text("/job-metrics/other")
