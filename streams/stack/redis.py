"""The local Redis: ``redis-server`` from PATH, append-only file on, data in the state folder,
and a password the stack generates (``<state>/redis.password``, owner-only) unless
``DRIFTLINE_REDIS_URL`` names one. The password goes in an owner-only config file, not on the
command line, where any local user could read it."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import redis

from streams.errors import EnvironmentProblem
from streams.settings import Settings
from streams.stack.procs import ProcessRecord, is_alive, start_ticks, stop
from streams.state.redis_trouble import refuses_credentials

READY_TIMEOUT = 30.0


def ping(url: str, timeout: float = 1.0) -> bool:
    """True when Redis at ``url`` answers PING."""
    return answer(url, timeout) == "PONG"


def answer(url: str, timeout: float = 1.0) -> str:
    """What Redis at ``url`` answers a PING: ``"PONG"``, else why not, in words for a status
    line: ``"refused the credentials (...)"`` or ``"no answer to PING"``."""
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        return "PONG" if client.ping() else "no answer to PING"
    except redis.RedisError as exc:
        if refuses_credentials(exc):
            return f"refused the credentials ({exc})"
        return f"answered {exc}" if isinstance(exc, redis.ResponseError) else "no answer to PING"
    except OSError:
        return "no answer to PING"
    finally:
        client.close()


def ensure_password(settings: Settings) -> str:
    """The local stack's Redis password: generated once (owner-only file), then kept."""
    path = settings.redis_password_file
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(24) + "\n")
    return path.read_text().strip()


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
    password = urlsplit(settings.redis_url).password or ensure_password(settings)
    config = data / "redis.conf"
    config.touch(mode=0o600)
    config.chmod(0o600)
    config.write_text("\n".join([
        f"bind {host}", f"port {port}", f'dir "{data.resolve()}"', "appendonly yes", "appendfsync everysec",
        'save ""', "daemonize no", f'logfile "{log.resolve()}"', f'requirepass "{password}"', "",
    ]))
    cmd = [binary, str(config)]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        start_new_session=True, cwd=data,
    )
    record = ProcessRecord("redis", proc.pid, start_ticks(proc.pid), port)
    deadline = time.monotonic() + READY_TIMEOUT
    while not ping(settings.redis_connect_url):
        if not is_alive(proc.pid) or time.monotonic() > deadline:
            stop(proc.pid, grace=5)
            raise EnvironmentProblem(f"Redis did not start on {host}:{port}; see {log}")
        time.sleep(0.05)
    return record
