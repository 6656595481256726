"""Docker hosts: sync containers and images to the server, and report each host's health.

Both jobs list the server's auto-sync hosts, fetch each host's connection info, call its engine directly
(`powerworker.jobs.devops.engine`) and post the outcome back. A failing host is logged and counted (sync) or
reported unhealthy (health) without stopping the others; a failure of the host list propagates.

Departure from the original: the health check computed memory use as `MemTotal - MemFree`, but Docker's `/info`
has no `MemFree`, so every host with a memory limit was reported at 100 %. Here the `high_memory` alert is
raised only when the engine reports free memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from powerworker.context import JobContext
from powerworker.errors import ApiError
from powerworker.jobs.base import job
from powerworker.jobs.devops.engine import open_engine
from powerworker.jobs.support import as_list, as_map, dig, now_iso, unwrap

__all__ = ["container_record", "host_health_check", "host_sync", "image_record"]

HOSTS = "/api/v1/internal/devops/docker/hosts"
#: Memory use above this share raises a `high_memory` warning.
HIGH_MEMORY_PERCENT = 90.0

#: Field of the server's container record -> dotted path in Docker's `/containers/json` item.
CONTAINER_FIELDS = {
    "docker_container_id": "Id",
    "image": "Image",
    "image_id": "ImageID",
    "state": "State",
    "status_text": "Status",
    "command": "Command",
}
#: Field of the server's image record -> dotted path in Docker's `/images/json` item.
IMAGE_FIELDS = {
    "docker_image_id": "Id",
    "size_bytes": "Size",
    "virtual_size": "VirtualSize",
    "docker_created_at": "Created",
}


def container_record(raw: Mapping[str, Any]) -> dict[str, Any]:
    """What the server stores of one container."""
    names = as_list(raw.get("Names"))
    return {
        **{name: dig(raw, path) for name, path in CONTAINER_FIELDS.items()},
        "name": str(names[0] if names else "unknown").removeprefix("/"),
        "ports": [
            {
                "ip": p.get("IP"),
                "private_port": p.get("PrivatePort"),
                "public_port": p.get("PublicPort"),
                "type": p.get("Type"),
            }
            for p in map(as_map, as_list(raw.get("Ports")))
        ],
        "mounts": as_list(raw.get("Mounts")),
        "networks": as_map(dig(raw, "NetworkSettings.Networks")),
        "labels": as_map(raw.get("Labels")),
    }


def image_record(raw: Mapping[str, Any]) -> dict[str, Any]:
    """What the server stores of one image."""
    return {
        **{name: dig(raw, path) for name, path in IMAGE_FIELDS.items()},
        "repo_tags": as_list(raw.get("RepoTags")),
        "repo_digests": as_list(raw.get("RepoDigests")),
        "container_count": raw.get("Containers") or 0,
        "labels": as_map(raw.get("Labels")),
    }


async def _hosts(ctx: JobContext) -> list[dict[str, Any]]:
    return [as_map(h) for h in as_list(dig(unwrap(await ctx.api.get(HOSTS, {"auto_sync": True})), "hosts"))]


@job("Docker::HostSyncJob", queue="devops_default", retries=2)
async def host_sync(ctx: JobContext) -> dict[str, int]:
    """Send each auto-sync host's containers and images to the server."""
    hosts = await _hosts(ctx)
    synced = failed = 0
    for host in hosts:
        try:
            engine = await open_engine(
                ctx, f"{HOSTS}/{host.get('id')}/connection", read_timeout_s=30, connect_timeout_s=10
            )
            containers = [
                container_record(as_map(c))
                for c in as_list(await engine.get("/containers/json", {"all": "true"}))
            ]
            images = [image_record(as_map(i)) for i in as_list(await engine.get("/images/json"))]
            await ctx.api.post(
                f"{HOSTS}/{host.get('id')}/sync_results",
                {"containers": containers, "images": images, "synced_at": now_iso(ctx)},
            )
        except (ApiError, ValueError) as error:
            ctx.log.error(
                "docker.sync_failed", host_id=host.get("id"), name=host.get("name"), error=str(error)
            )
            failed += 1
        else:
            ctx.log.info(
                "docker.host_synced", host_id=host.get("id"), containers=len(containers), images=len(images)
            )
            synced += 1
    ctx.log.info("docker.sync_completed", hosts=len(hosts), synced=synced, failed=failed)
    await ctx.track_performance_metric("docker_hosts_synced", synced, {"failed": failed})
    return {"hosts": len(hosts), "synced": synced, "failed": failed}


def memory_alerts(host: Mapping[str, Any], info: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A `high_memory` warning when the engine reports total and free memory and use is above 90 %."""
    total, free = info.get("MemTotal"), info.get("MemFree")
    if not isinstance(total, int | float) or not isinstance(free, int | float) or total <= 0:
        return []
    percent = round((total - free) / total * 100, 1)
    if percent <= HIGH_MEMORY_PERCENT:
        return []
    return [
        {
            "type": "high_memory",
            "severity": "warning",
            "source_type": "host",
            "source_name": host.get("name"),
            "message": f"Memory usage at {percent}%",
            "metadata": {"memory_percent": percent},
        }
    ]


@job("Docker::HealthCheckJob", queue="devops_default", retries=2)
async def host_health_check(ctx: JobContext) -> dict[str, int]:
    """Ping each auto-sync host and report it healthy (with alerts) or unhealthy."""
    hosts = await _hosts(ctx)
    healthy = unhealthy = 0
    for host in hosts:
        results = f"{HOSTS}/{host.get('id')}/health_results"
        try:
            engine = await open_engine(
                ctx, f"{HOSTS}/{host.get('id')}/connection", read_timeout_s=10, connect_timeout_s=5
            )
            if not await engine.ping():
                raise ValueError("Ping failed")
            try:
                alerts = memory_alerts(host, as_map(await engine.get("/info")))
            except ApiError as error:
                ctx.log.warning("docker.info_failed", host_id=host.get("id"), error=error.message)
                alerts = []
        except (ApiError, ValueError) as error:
            ctx.log.warning("docker.host_unhealthy", host_id=host.get("id"), error=str(error))
            alert = {
                "type": "connectivity",
                "severity": "error",
                "source_type": "host",
                "source_name": host.get("name"),
                "message": f"Health check failed: {error}",
            }
            await ctx.api.post(results, {"status": "unhealthy", "alerts": [alert]})
            unhealthy += 1
        else:
            await ctx.api.post(results, {"status": "healthy", "alerts": alerts})
            healthy += 1
    ctx.log.info("docker.health_completed", hosts=len(hosts), healthy=healthy, unhealthy=unhealthy)
    await ctx.track_performance_metric("docker_hosts_unhealthy", unhealthy, {"checked": len(hosts)})
    return {"hosts": len(hosts), "healthy": healthy, "unhealthy": unhealthy}
