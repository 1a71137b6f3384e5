"""The last resort for the broker: Docker compose, when a Docker engine answers."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from streams.errors import EnvironmentProblem

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def engine_answers() -> bool:
    """True when ``docker info`` reaches an engine (the client alone is not enough)."""
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        result = subprocess.run([docker, "info"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def compose(*args: str) -> None:
    """Run ``docker compose -f docker-compose.yml ARGS``; raise with its last line on failure."""
    if not COMPOSE_FILE.exists():
        raise EnvironmentProblem(f"{COMPOSE_FILE} not found (Docker compose needs the repository)")
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE_FILE), *args],
        capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise EnvironmentProblem(f"docker compose {' '.join(args)} failed: {last}")
