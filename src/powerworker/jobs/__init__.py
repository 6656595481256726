"""Jobs, grouped by domain. Every module in this package is imported by `load_jobs()`, which registers the
jobs it declares with `@job`."""

from powerworker.jobs.base import REGISTRY, JobSpec, job, load_jobs

__all__ = ["REGISTRY", "JobSpec", "job", "load_jobs"]
