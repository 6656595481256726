"""Docker host sync and health against a fake Docker engine (plain and mutual TLS) and the fake backend."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from powerworker.jobs.devops.engine import Connection
from powerworker.jobs.support import iso
from powerworker.testing import FakeBackend, FakeClock
from powerworker.testing.fake_docker import FakeDockerEngine
from powerworker.testing.worker import WorkerHarness
from tests.jobs.conftest import delay_s, run_job
from tests.jobs.tls import make_bundle

HOSTS = "/api/v1/internal/devops/docker/hosts"

CONTAINER = {
    "Id": "c1",
    "Names": ["/web"],
    "Image": "nginx:1.27",
    "ImageID": "sha256:abc",
    "Command": "nginx -g 'daemon off;'",
    "State": "running",
    "Status": "Up 2 hours",
    "Ports": [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}],
    "Labels": {"tier": "front"},
    "Mounts": [],
    "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.2"}}},
}
IMAGE = {"Id": "sha256:abc", "RepoTags": ["nginx:1.27"], "Size": 190, "Containers": 1, "Created": 1700000000}


def serve_hosts(backend: FakeBackend, connections: dict[str, dict[str, object]]) -> None:
    """The backend lists these hosts and hands out their connection info."""
    backend.route("GET", HOSTS, data={"hosts": [{"id": i, "name": f"host-{i}"} for i in connections]})
    for host_id, connection in connections.items():
        backend.route("GET", f"{HOSTS}/{host_id}/connection", data={"connection": connection})


async def test_host_sync_posts_containers_and_images(
    worker: WorkerHarness, backend: FakeBackend, engine: FakeDockerEngine, clock: FakeClock
) -> None:
    """Each auto-sync host's containers and images are sent back; a host without usable connection info is counted."""
    engine.containers.append(CONTAINER)
    engine.images.append(IMAGE)
    serve_hosts(backend, {"h1": engine.connection(), "h2": {"port": 2375}})
    _, result = await run_job(worker, "Docker::HostSyncJob")
    assert result is not None and result.result == {"hosts": 2, "synced": 1, "failed": 1}
    assert backend.requests[0].query == {"auto_sync": "true"}
    assert [(r.path, r.query) for r in engine.requests] == [
        ("/containers/json", {"all": "true"}),
        ("/images/json", {}),
    ]
    [sync] = backend.requests_to("POST")
    assert sync.path == f"{HOSTS}/h1/sync_results"
    assert sync.json["synced_at"] == iso(clock.time())
    assert sync.json["containers"] == [
        {
            "docker_container_id": "c1",
            "name": "web",
            "image": "nginx:1.27",
            "image_id": "sha256:abc",
            "state": "running",
            "status_text": "Up 2 hours",
            "command": "nginx -g 'daemon off;'",
            "ports": [{"ip": "0.0.0.0", "private_port": 80, "public_port": 8080, "type": "tcp"}],
            "mounts": [],
            "networks": {"bridge": {"IPAddress": "172.17.0.2"}},
            "labels": {"tier": "front"},
        }
    ]
    assert sync.json["images"] == [
        {
            "docker_image_id": "sha256:abc",
            "size_bytes": 190,
            "virtual_size": None,
            "docker_created_at": 1700000000,
            "repo_tags": ["nginx:1.27"],
            "repo_digests": [],
            "container_count": 1,
            "labels": {},
        }
    ]


async def test_host_sync_over_mutual_tls(worker: WorkerHarness, backend: FakeBackend, tmp_path: Path) -> None:
    """With TLS the engine is reached with the server's CA and client certificate; a wrong CA fails that host only."""
    bundle, other = make_bundle(), make_bundle()
    async with FakeDockerEngine(ssl_context=bundle.server_context(tmp_path)) as secure:
        secure.images.append(IMAGE)
        good = secure.connection(
            client_cert=bundle.client.cert, client_key=bundle.client.key, ca_cert=bundle.ca.cert
        )
        wrong_ca = {**good, "ca_cert": other.ca.cert}
        serve_hosts(backend, {"good": good, "wrong": wrong_ca})
        _, result = await run_job(worker, "Docker::HostSyncJob")
    assert result is not None and result.result == {"hosts": 2, "synced": 1, "failed": 1}
    [sync] = backend.requests_to("POST")
    assert sync.path == f"{HOSTS}/good/sync_results"
    assert sync.json["images"][0]["docker_image_id"] == "sha256:abc"
    assert len(secure.requests) == 2  # the host with the wrong CA never got past the handshake


async def test_host_without_client_certificate_is_refused(
    worker: WorkerHarness, backend: FakeBackend, tmp_path: Path
) -> None:
    """An engine demanding a client certificate refuses a connection without one: the host counts as failed."""
    bundle = make_bundle()
    async with FakeDockerEngine(ssl_context=bundle.server_context(tmp_path)) as secure:
        serve_hosts(backend, {"h1": secure.connection(ca_cert=bundle.ca.cert)})
        _, result = await run_job(worker, "Docker::HostSyncJob")
    assert result is not None and result.result == {"hosts": 1, "synced": 0, "failed": 1}


async def test_engine_breaker_opens_per_host(
    worker: WorkerHarness, backend: FakeBackend, engine: FakeDockerEngine
) -> None:
    """Five failed calls open the engine's own breaker: later hosts on it fail fast, the backend's breaker stays shut."""
    engine.fail("/containers/json", 500)
    serve_hosts(backend, {f"h{i}": engine.connection() for i in range(7)})
    _, result = await run_job(worker, "Docker::HostSyncJob")
    assert result is not None and result.result == {"hosts": 7, "synced": 0, "failed": 7}
    assert len(engine.requests) == 5
    breakers = worker.runtime.api.breakers
    assert breakers.get(f"docker:127.0.0.1:{engine.port}").state_name == "open"
    assert breakers.get("backend_api").state_name == "closed"


async def test_host_list_failure_propagates(worker: WorkerHarness, backend: FakeBackend) -> None:
    """A 503 on the host list fails the try: retried by the queue after 30 s."""
    backend.fail(503, path=HOSTS)
    job_id, result = await run_job(worker, "Docker::HostSyncJob")
    assert result is None
    assert round(delay_s(await worker.score(job_id))) == 30


async def test_health_reports_each_host(
    worker: WorkerHarness, backend: FakeBackend, engine: FakeDockerEngine
) -> None:
    """A reachable host is healthy (with a memory alert only when free memory is reported); a failed ping is unhealthy."""
    engine.info.update(MemTotal=1000, MemFree=40, MemoryLimit=True)
    async with FakeDockerEngine() as bare, FakeDockerEngine() as down:
        bare.info = {"MemTotal": 1000, "MemoryLimit": True}  # Docker's own /info: no MemFree
        down.fail("/_ping", 500)
        serve_hosts(
            backend, {"busy": engine.connection(), "bare": bare.connection(), "down": down.connection()}
        )
        _, result = await run_job(worker, "Docker::HealthCheckJob")
    assert result is not None and result.result == {"hosts": 3, "healthy": 2, "unhealthy": 1}
    reports = {r.path.split("/")[-2]: r.json for r in backend.requests_to("POST")}
    assert reports["busy"] == {
        "status": "healthy",
        "alerts": [
            {
                "type": "high_memory",
                "severity": "warning",
                "source_type": "host",
                "source_name": "host-busy",
                "message": "Memory usage at 96.0%",
                "metadata": {"memory_percent": 96.0},
            }
        ],
    }
    assert reports["bare"] == {"status": "healthy", "alerts": []}
    assert reports["down"] == {
        "status": "unhealthy",
        "alerts": [
            {
                "type": "connectivity",
                "severity": "error",
                "source_type": "host",
                "source_name": "host-down",
                "message": "Health check failed: Ping failed",
            }
        ],
    }
    assert engine.paths() == ["/_ping", "/info"]
    assert down.paths() == ["/_ping"]


async def test_health_report_failure_propagates(
    worker: WorkerHarness, backend: FakeBackend, engine: FakeDockerEngine
) -> None:
    """An error while posting a host's health escapes: the try fails and is retried after 30 s."""
    serve_hosts(backend, {"h1": engine.connection()})
    backend.fail(503, path=f"{HOSTS}/h1/health_results")
    job_id, result = await run_job(worker, "Docker::HealthCheckJob")
    assert result is None
    assert round(delay_s(await worker.score(job_id))) == 30


def test_connection_info_is_checked() -> None:
    """TLS settings follow the connection info; unusable PEM, a missing host or a bad port are ValueErrors."""
    bundle = make_bundle()
    relaxed = Connection.from_reply(
        {"host": "d1", "tls_enabled": True, "tls_verify": False, "ca_cert": bundle.ca.cert}
    )
    context = relaxed.ssl_context()
    assert (relaxed.port, relaxed.base_url, relaxed.name) == (2376, "https://d1:2376", "docker:d1:2376")
    assert context is not None and context.verify_mode is ssl.CERT_NONE
    assert Connection.from_reply({"host": "d2"}).ssl_context() is None
    broken = Connection.from_reply(
        {"host": "d3", "tls_enabled": True, "client_cert": "junk", "client_key": "junk"}
    )
    with pytest.raises(ValueError, match="unusable TLS material"):
        broken.ssl_context()
    with pytest.raises(ValueError, match="no host"):
        Connection.from_reply({"port": 2375})
    with pytest.raises(ValueError, match="not a number"):
        Connection.from_reply({"host": "d4", "port": {"n": 1}})
