"""Swarm clusters: sync nodes and services to the server, and report each cluster's health.

Both jobs list clusters from the server, fetch each one's connection info and call its engine directly
(`powerworker.jobs.devops.engine`). A failing cluster is logged and counted (sync) or reported `unreachable`
(health) without stopping the others. The sync job skips its run when the cluster list cannot be fetched (the
next minute's run is the retry); the health check lets that failure propagate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from powerworker.context import JobContext
from powerworker.errors import ApiError
from powerworker.jobs.base import job
from powerworker.jobs.devops.engine import DockerEngine, filters, open_engine
from powerworker.jobs.support import as_list, as_map, dig, now_iso, unwrap

__all__ = ["cluster_health_check", "cluster_sync", "health_alerts", "node_record", "service_record"]

CLUSTERS = "/api/v1/internal/devops/swarm/clusters"
SEVERITY_ORDER = ("critical", "warning")

#: Field of the server's node record -> dotted path in Docker's `/nodes` item.
NODE_FIELDS = {
    "docker_node_id": "ID",
    "hostname": "Description.Hostname",
    "role": "Spec.Role",
    "availability": "Spec.Availability",
    "status": "Status.State",
    "manager_status": "ManagerStatus.Reachability",
    "ip_address": "Status.Addr",
    "engine_version": "Description.Engine.EngineVersion",
    "os": "Description.Platform.OS",
    "architecture": "Description.Platform.Architecture",
    "memory_bytes": "Description.Resources.MemoryBytes",
}
#: Field of the server's service record -> dotted path in Docker's `/services` item.
SERVICE_FIELDS = {
    "docker_service_id": "ID",
    "service_name": "Spec.Name",
    "image": "Spec.TaskTemplate.ContainerSpec.Image",
    "version": "Version.Index",
    "created_at": "CreatedAt",
    "updated_at": "UpdatedAt",
}
#: Field -> dotted path of the service's objects and lists, which default to empty.
SERVICE_MAPS = {
    "resource_limits": "Spec.TaskTemplate.Resources.Limits",
    "resource_reservations": "Spec.TaskTemplate.Resources.Reservations",
    "update_config": "Spec.UpdateConfig",
    "rollback_config": "Spec.RollbackConfig",
    "labels": "Spec.Labels",
}
SERVICE_LISTS = {
    "constraints": "Spec.TaskTemplate.Placement.Constraints",
    "environment": "Spec.TaskTemplate.ContainerSpec.Env",
}


def node_record(raw: Mapping[str, Any]) -> dict[str, Any]:
    """What the server stores of one Swarm node."""
    nano_cpus = dig(raw, "Description.Resources.NanoCPUs")
    return {
        **{name: dig(raw, path) for name, path in NODE_FIELDS.items()},
        "cpu_count": nano_cpus // 1_000_000_000 if isinstance(nano_cpus, int) else None,
        "labels": as_map(dig(raw, "Spec.Labels")),
        "leader": dig(raw, "ManagerStatus.Leader") is True,
    }


def service_record(raw: Mapping[str, Any], running: Mapping[str, int]) -> dict[str, Any]:
    """What the server stores of one Swarm service; `running` counts running tasks by service id."""
    labels = as_map(dig(raw, "Spec.Labels"))
    replicated = dig(raw, "Spec.Mode.Replicated")
    return {
        **{name: dig(raw, path) for name, path in SERVICE_FIELDS.items()},
        **{name: as_map(dig(raw, path)) for name, path in SERVICE_MAPS.items()},
        **{name: as_list(dig(raw, path)) for name, path in SERVICE_LISTS.items()},
        "stack_namespace": labels.get("com.docker.stack.namespace"),  # a key with dots: not a dig path
        "mode": "replicated" if replicated is not None else "global",
        "desired_replicas": as_map(replicated).get("Replicas") or 1,
        "running_replicas": running.get(str(raw.get("ID")), 0),
        "ports": [
            {
                "protocol": p.get("Protocol"),
                "target": p.get("TargetPort"),
                "published": p.get("PublishedPort"),
                "mode": p.get("PublishMode"),
            }
            for p in map(as_map, as_list(dig(raw, "Endpoint.Ports")))
        ],
    }


def _running(tasks: list[Any]) -> Counter[str]:
    return Counter(str(t.get("ServiceID")) for t in map(as_map, tasks) if dig(t, "Status.State") == "running")


async def _clusters(ctx: JobContext, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [as_map(c) for c in as_list(dig(unwrap(await ctx.api.get(CLUSTERS, params)), "clusters"))]


@job("Swarm::ClusterSyncJob", queue="devops_default", retries=2)
async def cluster_sync(ctx: JobContext) -> dict[str, Any]:
    """Send each auto-sync cluster's nodes and services, with running replica counts, to the server."""
    try:
        clusters = await _clusters(ctx, {"auto_sync": True})
    except ApiError as error:
        ctx.log.warning("swarm.sync_skipped", status=error.status, error=error.message)
        return {"skipped": True, "error": error.message}
    synced = failed = 0
    for cluster in clusters:
        try:
            engine = await open_engine(
                ctx, f"{CLUSTERS}/{cluster.get('id')}/connection", read_timeout_s=30, connect_timeout_s=10
            )
            nodes = [node_record(as_map(n)) for n in as_list(await engine.get("/nodes"))]
            try:
                running = _running(as_list(await engine.get("/tasks", filters(desired_state=["running"]))))
            except ApiError as error:
                ctx.log.warning("swarm.tasks_failed", cluster_id=cluster.get("id"), error=error.message)
                running = Counter()
            services = [service_record(as_map(s), running) for s in as_list(await engine.get("/services"))]
            await ctx.api.post(
                f"{CLUSTERS}/{cluster.get('id')}/sync_results",
                {"nodes": nodes, "services": services, "synced_at": now_iso(ctx)},
            )
        except (ApiError, ValueError) as error:
            ctx.log.error(
                "swarm.sync_failed", cluster_id=cluster.get("id"), name=cluster.get("name"), error=str(error)
            )
            failed += 1
        else:
            ctx.log.info(
                "swarm.cluster_synced", cluster_id=cluster.get("id"), nodes=len(nodes), services=len(services)
            )
            synced += 1
    ctx.log.info("swarm.sync_completed", clusters=len(clusters), synced=synced, failed=failed)
    await ctx.track_performance_metric("swarm_clusters_synced", synced, {"failed": failed})
    return {"clusters": len(clusters), "synced": synced, "failed": failed}


def _alert(severity: str, message: str) -> dict[str, str]:
    return {"severity": severity, "message": message}


def node_alerts(nodes: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Down nodes (critical), fewer than two managers in a multi-node cluster, drained nodes (warnings)."""
    alerts = []
    down = [n for n in nodes if dig(n, "Status.State") != "ready"]
    if down:
        names = ", ".join(str(dig(n, "Description.Hostname")) for n in down)
        alerts.append(_alert("critical", f"{len(down)}/{len(nodes)} nodes down: {names}"))
    managers = sum(1 for n in nodes if dig(n, "Spec.Role") == "manager")
    if managers < 2 and len(nodes) > 1:
        alerts.append(_alert("warning", f"Only {managers} manager node(s) — no HA"))
    drained = [n for n in nodes if dig(n, "Spec.Availability") == "drain"]
    if drained:
        names = ", ".join(str(dig(n, "Description.Hostname")) for n in drained)
        alerts.append(_alert("warning", f"{len(drained)} node(s) in drain mode: {names}"))
    return alerts


async def service_alerts(engine: DockerEngine, services: list[dict[str, Any]]) -> list[dict[str, str]]:
    """For each replicated service short of replicas: critical with none running, else a warning."""
    alerts = []
    for service in services:
        desired = dig(service, "Spec.Mode.Replicated.Replicas")
        if not isinstance(desired, int):
            continue  # a global service
        try:
            tasks = as_list(
                await engine.get(
                    "/tasks", filters(service=[str(service.get("ID"))], desired_state=["running"])
                )
            )
        except ApiError:
            continue
        running = sum(_running(tasks).values())
        if running < desired:
            severity = "critical" if running == 0 else "warning"
            name = dig(service, "Spec.Name")
            alerts.append(_alert(severity, f"Service '{name}' has {running}/{desired} replicas running"))
    return alerts


async def health_alerts(engine: DockerEngine) -> list[dict[str, str]]:
    """Every alert of one cluster: API reachability, nodes, services."""
    alerts = [] if await engine.ping() else [_alert("critical", "Docker API not responding")]
    try:
        alerts += node_alerts([as_map(n) for n in as_list(await engine.get("/nodes"))])
    except ApiError:
        alerts.append(_alert("critical", "Cannot fetch node list"))
    try:
        services = [as_map(s) for s in as_list(await engine.get("/services"))]
    except ApiError:
        alerts.append(_alert("warning", "Cannot fetch service list"))
    else:
        alerts += await service_alerts(engine, services)
    return alerts


@job("Swarm::HealthCheckJob", queue="devops_default", retries=2)
async def cluster_health_check(ctx: JobContext) -> dict[str, Any]:
    """Report each connected cluster healthy, warning, critical or unreachable, with its alerts."""
    clusters = await _clusters(ctx, {"status": "connected"})
    statuses: Counter[str] = Counter()
    for cluster in clusters:
        results = f"{CLUSTERS}/{cluster.get('id')}/health_results"
        try:
            engine = await open_engine(
                ctx, f"{CLUSTERS}/{cluster.get('id')}/connection", read_timeout_s=15, connect_timeout_s=5
            )
            alerts = await health_alerts(engine)
        except (ApiError, ValueError) as error:
            ctx.log.error("swarm.cluster_unreachable", cluster_id=cluster.get("id"), error=str(error))
            report: dict[str, Any] = {
                "status": "unreachable",
                "error": str(error),
                "alerts": [_alert("critical", f"Cluster unreachable: {error}")],
            }
        else:
            severities = {a["severity"] for a in alerts}
            status = next((s for s in SEVERITY_ORDER if s in severities), "healthy")
            report = {"status": status, "alerts": alerts}
        await ctx.api.post(results, {**report, "checked_at": now_iso(ctx)})
        statuses[report["status"]] += 1
    ctx.log.info("swarm.health_completed", clusters=len(clusters), **statuses)
    await ctx.track_performance_metric("swarm_clusters_unhealthy", len(clusters) - statuses["healthy"])
    return {"clusters": len(clusters), **statuses}
