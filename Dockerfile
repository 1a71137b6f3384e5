# The driftline worker image (docker-compose.yml builds it as the `worker` service).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DRIFTLINE_STATE_DIR=/var/lib/driftline

WORKDIR /app
COPY pyproject.toml README.md ./
COPY streams ./streams
COPY agents ./agents
COPY schemas ./schemas
RUN pip install --no-cache-dir . \
    && useradd --system --home-dir /var/lib/driftline --create-home driftline

USER driftline
EXPOSE 6066
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:6066/health', timeout=2)"]
ENTRYPOINT ["driftline"]
CMD ["worker"]
