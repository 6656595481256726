"""Declaring jobs: the `@job` decorator, the registry, and argument binding.

    @job("Notifications::EmailDeliveryJob", queue="email", retries=3)
    async def email_delivery(ctx: JobContext, email_id: str) -> None:
        ...

The decorator records a `JobSpec` and returns the function unchanged (its signature is kept for callers and
type checkers). `powerworker.execution` turns each spec into an arq function wrapped by the base layer.
Arguments are checked before the job runs: against the function's signature and annotations, or against a
pydantic model given as `args_model`. A mismatch is an `InvalidArguments` error naming the field, which is
permanent: the job goes to the dead set at once instead of burning its retries.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import typing
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from powerworker.errors import InvalidArguments

if TYPE_CHECKING:
    from powerworker.context import JobContext

__all__ = ["REGISTRY", "JobSpec", "job", "load_jobs"]

P = ParamSpec("P")
R = TypeVar("R")
JobFunction = Callable[Concatenate["JobContext", P], Awaitable[R]]


def _describe(exc: ValidationError, job_name: str) -> str:
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "arguments"
        problems.append(f"{where}: {error['msg']}")
    return f"invalid arguments for {job_name}: " + "; ".join(problems)


@dataclass(frozen=True)
class ArgumentBinder:
    """Checks and coerces a payload's args and kwargs before the job runs."""

    job_name: str
    signature: inspect.Signature
    model: type[BaseModel] | None  # built from annotations, or None when nothing is annotated
    args_model: type[BaseModel] | None  # the job takes one model instance built from its arguments

    @classmethod
    def for_function(
        cls, name: str, fn: Callable[..., Any], args_model: type[BaseModel] | None
    ) -> ArgumentBinder:
        signature = inspect.signature(fn)
        params = list(signature.parameters.values())[1:]  # drop ctx
        signature = signature.replace(parameters=params)
        if args_model is not None:
            return cls(name, signature, None, args_model)
        hints = typing.get_type_hints(fn, include_extras=True)
        fields: dict[str, Any] = {}
        for param in params:
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD) or param.name not in hints:
                continue
            default = ... if param.default is param.empty else param.default
            fields[param.name] = (hints[param.name], default)
        model = (
            create_model(f"{fn.__name__}_args", __config__=ConfigDict(arbitrary_types_allowed=True), **fields)
            if fields
            else None
        )
        return cls(name, signature, model, None)

    def bind(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Return the (args, kwargs) to call the job with.

        Raises:
            InvalidArguments: naming the field or the arity problem.
        """
        if self.args_model is not None:
            return (self._build_model(args, kwargs),), {}
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise InvalidArguments(f"invalid arguments for {self.job_name}: {exc}") from None
        if self.model is None:
            return bound.args, bound.kwargs
        present = {k: v for k, v in bound.arguments.items() if k in self.model.model_fields}
        try:
            checked = self.model.model_validate(present)
        except ValidationError as exc:
            raise InvalidArguments(_describe(exc, self.job_name)) from None
        for name in present:
            bound.arguments[name] = getattr(checked, name)
        return bound.args, bound.kwargs

    def _build_model(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> BaseModel:
        assert self.args_model is not None
        if len(args) == 1 and isinstance(args[0], dict) and not kwargs:
            data: Mapping[str, Any] = args[0]  # Sidekiq style: one hash argument
        else:
            names = list(self.args_model.model_fields)
            if len(args) > len(names):
                raise InvalidArguments(
                    f"invalid arguments for {self.job_name}: {len(args)} positional given, "
                    f"{len(names)} fields ({', '.join(names)})"
                )
            data = {**dict(zip(names, args, strict=False)), **kwargs}
        try:
            return self.args_model.model_validate(data)
        except ValidationError as exc:
            raise InvalidArguments(_describe(exc, self.job_name)) from None


@dataclass(frozen=True)
class JobSpec:
    """Everything the runtime needs to know about one job.

    Attributes:
        name: the registered name (the original's class name, e.g. `Devops::StepExecutionJob`).
        fn: the coroutine function `fn(ctx, *args, **kwargs)`.
        queue: the logical queue (its weight sets the priority).
        retries: retries after the first try; False means no retry and no dead-set entry.
        dead: whether a job that ends in failure goes to the dead set (False discards it).
        timeout_s: per-try time limit; None uses the worker's default.
        keep_result_s: how long the result is kept; None uses the worker's default.
        binder: checks and coerces the arguments.
        internal: a powerworker job that is not listed to operators.
        runaway_check: False exempts the job from runaway-loop detection (each run gets its own key), for
            jobs that legitimately start many times a minute with the same arguments.
    """

    name: str
    fn: Callable[..., Awaitable[Any]]
    queue: str = "default"
    retries: int | bool | None = None
    dead: bool = True
    timeout_s: float | None = None
    keep_result_s: float | None = None
    binder: ArgumentBinder = field(repr=False, default=None)  # type: ignore[assignment]
    internal: bool = False
    runaway_check: bool = True

    def retries_allowed(self, default: int) -> int:
        """How many retries follow the first try."""
        if self.retries is None:
            return default
        if isinstance(self.retries, bool):
            return default if self.retries else 0
        return self.retries

    @property
    def keeps_dead(self) -> bool:
        """Whether a final failure leaves a dead-set entry (`retries=False` or `dead=False` discard it)."""
        return self.dead and self.retries is not False


#: Every registered job, by name. Filled by `@job` as job modules are imported (see `load_jobs`).
REGISTRY: dict[str, JobSpec] = {}


def job(
    name: str,
    *,
    queue: str = "default",
    retries: int | bool | None = None,
    dead: bool = True,
    timeout_s: float | None = None,
    keep_result_s: float | None = None,
    args_model: type[BaseModel] | None = None,
    internal: bool = False,
    runaway_check: bool = True,
) -> Callable[[JobFunction[P, R]], JobFunction[P, R]]:
    """Register a coroutine function as a job under `name`. See `JobSpec` for the options."""
    if isinstance(retries, int) and not isinstance(retries, bool) and retries < 0:
        raise ValueError(f"{name}: retries must be >= 0, True, False or None")

    def register(fn: JobFunction[P, R]) -> JobFunction[P, R]:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"{name}: a job must be an async function")
        existing = REGISTRY.get(name)
        if existing is not None and existing.fn is not fn:
            raise ValueError(
                f"job name {name!r} is registered twice ({existing.fn.__qualname__}, {fn.__qualname__})"
            )
        REGISTRY[name] = JobSpec(
            name=name,
            fn=fn,
            queue=queue,
            retries=retries,
            dead=dead,
            timeout_s=timeout_s,
            keep_result_s=keep_result_s,
            binder=ArgumentBinder.for_function(name, fn, args_model),
            internal=internal,
            runaway_check=runaway_check,
        )
        return fn

    return register


def load_jobs(package: str = "powerworker.jobs") -> dict[str, JobSpec]:
    """Import every module of the jobs package so each `@job` registers; returns the registry."""
    root = importlib.import_module(package)
    for module in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        importlib.import_module(module.name)
    return REGISTRY
