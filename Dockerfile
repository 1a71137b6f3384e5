# The driftline worker image; docker-compose.yml builds it as the `worker` service.
#   docker build -t driftline .  &&  docker run --rm driftline --help
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    HOME=/var/lib/driftline \
    DRIFTLINE_STATE_DIR=/var/lib/driftline/state \
    DRIFTLINE_CACHE_DIR=/var/lib/driftline/cache

WORKDIR /app

# Only what the package build needs (see .dockerignore); the project installs into the system
# interpreter as root, then runs as an unprivileged user with its own home for state and cache.
COPY pyproject.toml README.md ./
COPY streams ./streams
COPY agents ./agents
COPY schemas ./schemas
RUN pip install . \
    && groupadd --system --gid 10001 driftline \
    && useradd --system --uid 10001 --gid driftline --home-dir /var/lib/driftline --create-home \
       --shell /usr/sbin/nologin driftline

# Numeric, so orchestrators that insist on a non-root user can verify it.
USER 10001:10001

# The worker's HTTP port (DRIFTLINE_WEB_PORT): /metrics and /health.
EXPOSE 6066
# slim has no curl: python's urllib does the probe; any error or non-2xx status fails it.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:6066/health', timeout=3)"]

ENTRYPOINT ["driftline"]
CMD ["worker"]
