# The driftline worker image; docker-compose.yml builds it as the `worker` service.
#   docker build -t driftline .  &&  docker run --rm driftline --help
# BASE: an image with Python 3.11 (the default), or a plain Debian bookworm (Python comes from
# Debian's packages then): `make images` builds on a Debian base made locally with mmdebstrap.
# Behind a TLS-intercepting proxy, hand pip your CA bundle as a build secret; it is used by the
# install step only and kept out of every layer:
#   docker build --secret id=cabundle,src=/etc/ssl/certs/ca-certificates.crt -t driftline .
ARG BASE=python:3.11-slim
FROM ${BASE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/opt/driftline/bin:$PATH \
    HOME=/var/lib/driftline \
    DRIFTLINE_STATE_DIR=/var/lib/driftline/state \
    DRIFTLINE_CACHE_DIR=/var/lib/driftline/cache

WORKDIR /app

# Python from Debian's packages when the base has none (a plain Debian base)
RUN if ! python3 -c "import venv, ensurepip" 2>/dev/null; then \
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        python3 python3-venv ca-certificates >/dev/null && rm -rf /var/lib/apt/lists/*; \
    fi

# Only what the package build needs (see .dockerignore); the project installs into its own
# virtual environment as root, then runs as an unprivileged user with its own home for state and cache.
# requirements.lock (make lock): the versions make and CI install, as constraints here too.
COPY pyproject.toml README.md requirements.lock ./
COPY streams ./streams
COPY agents ./agents
COPY schemas ./schemas
RUN --mount=type=secret,id=cabundle \
    if [ -f /run/secrets/cabundle ]; then export PIP_CERT=/run/secrets/cabundle; fi; \
    python3 -m venv /opt/driftline && /opt/driftline/bin/pip install -q -c requirements.lock . \
    && groupadd --system --gid 10001 driftline \
    && useradd --system --uid 10001 --gid driftline --home-dir /var/lib/driftline --create-home \
       --shell /usr/sbin/nologin driftline

# Numeric, so orchestrators that insist on a non-root user can verify it.
USER 10001:10001

# The worker's HTTP port (DRIFTLINE_WEB_PORT): /metrics and /health.
EXPOSE 6066
# slim has no curl: python's urllib does the probe; any error or non-2xx status fails it.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:6066/health', timeout=3)"]

ENTRYPOINT ["driftline"]
CMD ["worker"]
