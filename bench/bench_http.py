"""HTTP client benchmark: BackendApiClient against a bare shared ClientSession, and a pool against none.

    .venv/bin/python bench/bench_http.py              # 5,000 requests per case, 7 alternating rounds (~25 s)
    .venv/bin/python bench/bench_http.py --quick      # 1,500 requests, 2 rounds: a smoke run

Method:

1. A small aiohttp server runs in a separate process (multiprocessing "spawn", so it has its own interpreter
   and event loop and does not share a core's loop with the client). It answers `GET /api/v1/ping` with the
   Powernode envelope `{"success": true, "data": {"ok": true}}` and does no other work.
2. In this process, three clients send requests with 50 in flight at once (50 tasks, each sending its share
   one after the other), over the same kind of pooled session `create_session(settings)` builds:
   - **bare session**: `session.get(url, headers=...)` with the same headers the client sends (a fixed bearer
     token, JSON content type and accept, user agent), reading and JSON-decoding the body. The floor.
   - **BackendApiClient**: `client.get("/api/v1/ping")`: JWT from the cache, the `backend_api` breaker (with
     its wall-clock limit), the retry loop, URL building, status mapping and JSON decoding.
   - **session per request**: `async with aiohttp.ClientSession()` around every request, as a client without
     a shared pool would do (fewer requests: it is slow).
3. Bare session and BackendApiClient run back to back in each of several rounds (which goes first alternates)
   after a warm-up. The table shows the median requests/s of the rounds and the client's CPU time per request
   (`time.process_time`, this process only: the cost of the client code, whatever the server's speed), as
   the median and the best round. The headline is BackendApiClient / bare session: the median of the ratios
   measured in the same round (robust to load that drifts between rounds), and the best rounds compared
   (what the code costs when the machine leaves it alone, as `timeit` takes the minimum). Target >= 0.90.

Only figures measured side by side in one run are comparable; these machines are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

CONCURRENCY = 50
PATH = "/api/v1/ping"
BODY = b'{"success":true,"data":{"ok":true}}'


# -- the server (child process) ------------------------------------------------------------------------------
def serve(conn: Connection) -> None:
    """Run the ping server until the parent closes the pipe."""
    from aiohttp import web

    async def ping(_: web.Request) -> web.Response:
        return web.Response(body=BODY, content_type="application/json")

    async def main() -> None:
        app = web.Application()
        app.router.add_get(PATH, ping)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        conn.send(runner.addresses[0][1])
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # wait for "stop"
        await runner.cleanup()

    asyncio.run(main())


# -- the clients (this process) ------------------------------------------------------------------------------
@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    cpu_s: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_us_per_request(self) -> float:
        return self.cpu_s / self.requests * 1e6


async def run(name: str, requests: int, one: Callable[[], Awaitable[object]]) -> Result:
    """Send `requests` requests with CONCURRENCY in flight; wall and CPU time."""
    share = [requests // CONCURRENCY + (1 if i < requests % CONCURRENCY else 0) for i in range(CONCURRENCY)]

    async def worker(count: int) -> None:
        for _ in range(count):
            await one()

    cpu, start = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(n) for n in share))
    return Result(name, requests, time.perf_counter() - start, time.process_time() - cpu)


async def bench(port: int, requests: int, rounds: int) -> list[tuple[str, list[Result]]]:
    import json

    import aiohttp

    from powerworker.api import build_clients, create_session
    from powerworker.settings import load_settings

    base = f"http://127.0.0.1:{port}"
    settings = load_settings(
        worker_env="test", worker_id="bench-worker", backend_api_url=base, log_level="WARNING"
    )
    session = create_session(settings)
    clients = build_clients(session, settings)
    headers = {
        "Authorization": f"Bearer {clients.auth.token()}",
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": "PowernodeWorker/1.0",
    }
    url = base + PATH

    async def bare() -> object:
        async with session.get(url, headers=headers) as response:
            return json.loads(await response.read())

    async def client() -> object:
        return await clients.backend.get(PATH)

    async def fresh() -> object:
        async with aiohttp.ClientSession() as own, own.get(url, headers=headers) as response:
            return json.loads(await response.read())

    try:
        await run("warm-up", 500, bare)
        await run("warm-up", 500, client)
        bare_runs: list[Result] = []
        client_runs: list[Result] = []
        for i in range(rounds):
            pair = [("bare shared ClientSession", bare, bare_runs), ("BackendApiClient", client, client_runs)]
            for name, call, into in pair if i % 2 == 0 else reversed(pair):
                into.append(await run(name, requests, call))
        fresh_runs = [await run("new ClientSession per request", max(requests // 3, 500), fresh)]
        return [
            ("bare shared ClientSession", bare_runs),
            ("BackendApiClient (shared session)", client_runs),
            ("new ClientSession per request", fresh_runs),
        ]
    finally:
        await clients.close()
        await session.close()


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def table(rows: list[tuple[str, list[Result]]]) -> str:
    bare_runs, client_runs, fresh_runs = (runs for _, runs in rows)
    bare_median, bare_best = median([r.rate for r in bare_runs]), max(r.rate for r in bare_runs)
    lines = [
        f"| case ({CONCURRENCY} concurrent) | requests x rounds | req/s median (best) "
        "| client CPU us/req median (best) | vs bare, median (best) |",
        "|---|---|---|---|---|",
    ]
    for name, runs in rows:
        rates, cpus = [r.rate for r in runs], [r.cpu_us_per_request for r in runs]
        lines.append(
            f"| {name} | {runs[0].requests:,} x {len(runs)} | {median(rates):,.0f} ({max(rates):,.0f}) "
            f"| {median(cpus):,.0f} ({min(cpus):,.0f}) "
            f"| {median(rates) / bare_median:.2f} ({max(rates) / bare_best:.2f}) |"
        )
    paired = [c.rate / b.rate for c, b in zip(client_runs, bare_runs, strict=True)]
    cpu_best = min(r.cpu_s / r.requests for r in bare_runs) / min(r.cpu_s / r.requests for r in client_runs)
    lines += [
        "",
        f"BackendApiClient / bare session: **{median(paired):.2f}** median of per-round ratios "
        f"(range {min(paired):.2f}-{max(paired):.2f}); **{max(r.rate for r in client_runs) / bare_best:.2f}** "
        f"best round vs best round; **{cpu_best:.2f}** by least client CPU per request. Target >= 0.90.",
        f"Shared pool / session per request: **{bare_median / median([r.rate for r in fresh_runs]):.1f}x**",
        "Rounds (req/s): client "
        + ", ".join(f"{r.rate:,.0f}" for r in client_runs)
        + "; bare "
        + ", ".join(f"{r.rate:,.0f}" for r in bare_runs),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=5000, help="requests per case and round")
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds of bare vs client")
    parser.add_argument("--quick", action="store_true", help="1,500 requests, 2 rounds")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.rounds = 1500, 2

    context = mp.get_context("spawn")
    parent, child = context.Pipe()
    server = context.Process(target=serve, args=(child,), daemon=True)
    server.start()
    try:
        port = parent.recv()
        started = time.perf_counter()
        rows = asyncio.run(bench(port, args.requests, args.rounds))
        elapsed = time.perf_counter() - started
    finally:
        parent.send("stop")
        server.join(timeout=10)
        if server.is_alive():
            server.terminate()
    print(f"HTTP client benchmark, Python {sys.version.split()[0]}, {mp.cpu_count()} CPUs, {elapsed:.0f} s\n")
    print(table(rows))


if __name__ == "__main__":
    main()
