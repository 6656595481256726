"""Swarm cluster sync and health against a fake Docker engine, and the Git runner health check."""

from __future__ import annotations

import json
from typing import Any

from powerworker.jobs.support import iso
from powerworker.testing import FakeBackend, FakeClock
from powerworker.testing.fake_docker import FakeDockerEngine
from powerworker.testing.worker import WorkerHarness
from tests.jobs.conftest import delay_s, run_job

CLUSTERS = "/api/v1/internal/devops/swarm/clusters"
RUNNERS = "/api/v1/internal/git/runners"


def node(
    node_id: str, state: str = "ready", role: str = "worker", availability: str = "active"
) -> dict[str, Any]:
    return {
        "ID": node_id,
        "Description": {
            "Hostname": f"{node_id}.local",
            "Resources": {"NanoCPUs": 4_000_000_000, "MemoryBytes": 2**33},
        },
        "Spec": {"Role": role, "Availability": availability, "Labels": {}},
        "Status": {"State": state, "Addr": "10.0.0.1"},
        **({"ManagerStatus": {"Leader": True, "Reachability": "reachable"}} if role == "manager" else {}),
    }


def service(service_id: str, replicas: int | None) -> dict[str, Any]:
    mode = {"Replicated": {"Replicas": replicas}} if replicas is not None else {"Global": {}}
    return {
        "ID": service_id,
        "Version": {"Index": 12},
        "Spec": {
            "Name": f"svc-{service_id}",
            "Mode": mode,
            "Labels": {"com.docker.stack.namespace": "shop"},
            "TaskTemplate": {"ContainerSpec": {"Image": "shop/web:2", "Env": ["A=1"]}},
        },
        "Endpoint": {
            "Ports": [{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080, "PublishMode": "ingress"}]
        },
    }


def task(service_id: str, state: str = "running") -> dict[str, Any]:
    return {"ServiceID": service_id, "DesiredState": "running", "Status": {"State": state}}


def serve_clusters(backend: FakeBackend, connections: dict[str, dict[str, Any]]) -> None:
    backend.route(
        "GET", CLUSTERS, data={"clusters": [{"id": i, "name": f"cluster-{i}"} for i in connections]}
    )
    for cluster_id, connection in connections.items():
        backend.route("GET", f"{CLUSTERS}/{cluster_id}/connection", data={"connection": connection})


async def test_cluster_sync_posts_nodes_and_services(
    worker: WorkerHarness, backend: FakeBackend, engine: FakeDockerEngine
) -> None:
    """Nodes and services are mapped and sent with each service's running replica count."""
    engine.nodes += [node("n1", role="manager")]
    engine.services += [service("s1", 2), service("s2", None)]
    engine.tasks += [task("s1"), task("s1", state="starting"), task("s2")]
    serve_clusters(backend, {"c1": engine.connection()})
    _, result = await run_job(worker, "Swarm::ClusterSyncJob")
    assert result is not None and result.result == {"clusters": 1, "synced": 1, "failed": 0}
    assert backend.requests[0].query == {"auto_sync": "true"}
    assert engine.paths() == ["/nodes", "/tasks", "/services"]
    assert json.loads(engine.requests[1].query["filters"]) == {"desired-state": ["running"]}
    [sync] = backend.requests_to("POST")
    assert sync.path == f"{CLUSTERS}/c1/sync_results"
    [synced_node] = sync.json["nodes"]
    assert synced_node["docker_node_id"] == "n1"
    assert (synced_node["role"], synced_node["cpu_count"], synced_node["leader"]) == ("manager", 4, True)
    replicated, global_ = sync.json["services"]
    assert {k: replicated[k] for k in ("service_name", "mode", "desired_replicas", "running_replicas")} == {
        "service_name": "svc-s1",
        "mode": "replicated",
        "desired_replicas": 2,
        "running_replicas": 1,
    }
    assert (replicated["stack_namespace"], replicated["image"], replicated["environment"]) == (
        "shop",
        "shop/web:2",
        ["A=1"],
    )
    assert replicated["ports"] == [{"protocol": "tcp", "target": 80, "published": 8080, "mode": "ingress"}]
    assert (global_["mode"], global_["desired_replicas"], global_["running_replicas"]) == ("global", 1, 1)


async def test_cluster_sync_skips_when_the_backend_is_down(
    worker: WorkerHarness, backend: FakeBackend
) -> None:
    """A failing cluster list is logged and the run skipped: the job succeeds (the next minute is the retry)."""
    backend.fail(503, path=CLUSTERS)
    _, result = await run_job(worker, "Swarm::ClusterSyncJob")
    assert result is not None and result.success
    assert result.result == {"skipped": True, "error": "Backend server error"}


async def test_cluster_sync_counts_a_failing_cluster(
    worker: WorkerHarness, backend: FakeBackend, engine: FakeDockerEngine
) -> None:
    """An engine error on one cluster is counted; the others are still synced."""
    async with FakeDockerEngine() as broken:
        broken.fail("/nodes", 500)
        serve_clusters(backend, {"bad": broken.connection(), "good": engine.connection()})
        _, result = await run_job(worker, "Swarm::ClusterSyncJob")
    assert result is not None and result.result == {"clusters": 2, "synced": 1, "failed": 1}
    assert [r.path for r in backend.requests_to("POST")] == [f"{CLUSTERS}/good/sync_results"]


async def test_cluster_health_grades_each_cluster(
    worker: WorkerHarness, backend: FakeBackend, engine: FakeDockerEngine, clock: FakeClock
) -> None:
    """Down and drained nodes, a lone manager and short services become alerts; an unreachable cluster is reported."""
    engine.nodes += [node("m1", role="manager"), node("w1", state="down"), node("w2", availability="drain")]
    engine.services += [service("web", 3), service("api", 2), service("agent", None)]
    engine.tasks += [task("web"), task("web", state="failed")]
    async with FakeDockerEngine() as calm:
        calm.nodes.append(node("solo", role="manager"))
        serve_clusters(backend, {"busy": engine.connection(), "calm": calm.connection()})
        backend.route("GET", CLUSTERS, data={"clusters": [{"id": "busy"}, {"id": "calm"}, {"id": "gone"}]})
        backend.route(
            "GET",
            f"{CLUSTERS}/gone/connection",
            status=404,
            body={"success": False, "error": "Cluster not found"},
        )
        _, result = await run_job(worker, "Swarm::HealthCheckJob")
    assert result is not None and result.result == {
        "clusters": 3,
        "critical": 1,
        "healthy": 1,
        "unreachable": 1,
    }
    assert backend.requests[0].query == {"status": "connected"}
    reports = {r.path.split("/")[-2]: r.json for r in backend.requests_to("POST")}
    now = iso(clock.time())
    assert reports["busy"] == {
        "status": "critical",
        "alerts": [
            {"severity": "critical", "message": "1/3 nodes down: w1.local"},
            {"severity": "warning", "message": "Only 1 manager node(s) — no HA"},
            {"severity": "warning", "message": "1 node(s) in drain mode: w2.local"},
            {"severity": "warning", "message": "Service 'svc-web' has 1/3 replicas running"},
            {"severity": "critical", "message": "Service 'svc-api' has 0/2 replicas running"},
        ],
        "checked_at": now,
    }
    assert reports["calm"] == {"status": "healthy", "alerts": [], "checked_at": now}
    assert reports["gone"] == {
        "status": "unreachable",
        "error": "Cluster not found",
        "alerts": [{"severity": "critical", "message": "Cluster unreachable: Cluster not found"}],
        "checked_at": now,
    }
    task_filters = [json.loads(r.query["filters"]) for r in engine.requests if r.path == "/tasks"]
    assert task_filters == [
        {"service": ["web"], "desired-state": ["running"]},
        {"service": ["api"], "desired-state": ["running"]},
    ]


async def test_cluster_health_with_an_unresponsive_api(
    worker: WorkerHarness, backend: FakeBackend, engine: FakeDockerEngine
) -> None:
    """A failed ping and unreadable listings are alerts of their own, not an unreachable cluster."""
    for path in ("/_ping", "/nodes", "/services"):
        engine.fail(path, 502)
    serve_clusters(backend, {"c1": engine.connection()})
    _, result = await run_job(worker, "Swarm::HealthCheckJob")
    assert result is not None and result.result == {"clusters": 1, "critical": 1}
    [report] = backend.requests_to("POST")
    assert report.json["alerts"] == [
        {"severity": "critical", "message": "Docker API not responding"},
        {"severity": "critical", "message": "Cannot fetch node list"},
        {"severity": "warning", "message": "Cannot fetch service list"},
    ]


async def test_cluster_health_list_failure_propagates(worker: WorkerHarness, backend: FakeBackend) -> None:
    """Unlike the sync, the health check fails its try when the cluster list fails: retried after 30 s."""
    backend.fail(503, path=CLUSTERS)
    job_id, result = await run_job(worker, "Swarm::HealthCheckJob")
    assert result is None
    assert round(delay_s(await worker.score(job_id))) == 30


async def test_stale_runners_are_set_offline(
    worker: WorkerHarness, backend: FakeBackend, clock: FakeClock
) -> None:
    """Runners unseen for over five minutes (or never) are set offline; a failed update is logged and counted out."""
    now = clock.time()
    backend.route(
        "GET",
        RUNNERS,
        data={
            "runners": [
                {"id": "fresh", "last_seen_at": iso(now - 299)},
                {"id": "old", "last_seen_at": iso(now - 301)},
                {"id": "never", "last_seen_at": None},
                {"id": "naive", "last_seen_at": iso(now - 600).removesuffix("+00:00")},
                {"id": "broken", "last_seen_at": iso(now - 900)},
            ]
        },
    )
    backend.route("PUT", f"{RUNNERS}/broken/status", status=422, body={"success": False, "error": "Invalid"})
    _, result = await run_job(worker, "Git::RunnerHealthCheckJob")
    assert result is not None and result.result == {"checked": 5, "stale": 4, "marked_offline": 3}
    assert backend.requests[0].query == {"status": "online"}
    updates = {r.path: r.json for r in backend.requests_to("PUT")}
    assert set(updates) == {f"{RUNNERS}/{i}/status" for i in ("old", "never", "naive", "broken")}
    assert updates[f"{RUNNERS}/old/status"] == {"status": "offline", "busy": False, "last_seen_at": iso(now)}
