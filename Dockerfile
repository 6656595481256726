# syntax=docker/dockerfile:1
# Two stages: dependencies are resolved from the lock file before the source is copied, and the runtime image
# holds only the virtual environment, run by an unprivileged user.
FROM python:3.11-slim AS build
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-default-groups --no-install-project
COPY src ./src
RUN uv sync --frozen --no-default-groups --no-editable

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 powerworker
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 WORKER_ENV=production
USER powerworker
WORKDIR /home/powerworker
# The worker writes a health key every 10 s; --check reads it.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD ["arq", "powerworker.WorkerSettings", "--check"]
CMD ["arq", "powerworker.WorkerSettings"]
