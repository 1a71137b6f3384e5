"""The local Redis: ``redis-server`` from PATH, append-only file on, data in the state folder."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis

from streams.errors import EnvironmentProblem
from streams.settings import Settings
from streams.stack.procs import ProcessRecord, is_alive, start_ticks, stop

READY_TIMEOUT = 30.0


def ping(url: str, timeout: float = 1.0) -> bool:
    """True when Redis at ``url`` answers PING."""
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def start(settings: Settings, log: Path) -> ProcessRecord:
    """Start redis-server in the foreground of its own session; return once it answers PING."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise EnvironmentProblem(
            "redis-server not found: install it (Debian: apt-get install redis-server; "
            "`make` does this when run as root) or point DRIFTLINE_REDIS_URL at a running Redis"
        )
    host, port = settings.redis_host_port
    data = settings.state_dir / "redis"
    data.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        binary, "--bind", host, "--port", str(port), "--dir", str(data.resolve()),
        "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
        "--daemonize", "no", "--logfile", str(log.resolve()),
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        start_new_session=True, cwd=data,
    )
    record = ProcessRecord("redis", proc.pid, start_ticks(proc.pid), port)
    deadline = time.monotonic() + READY_TIMEOUT
    while not ping(settings.redis_url):
        if not is_alive(proc.pid) or time.monotonic() > deadline:
            stop(proc.pid, grace=5)
            raise EnvironmentProblem(f"Redis did not start on {host}:{port}; see {log}")
        time.sleep(0.05)
    return record
