"""docker-compose.yml run for real, under podman-compose, with the images `make images` builds.

A :class:`ComposeStack` is one compose project: its own name, host ports that are free, the two
secrets compose asks for, and the local images; ``down`` leaves no container, volume or network
behind (podman-compose 1.0 leaves the project's network: it is removed by its label).
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from streams.stack.images import ROOT, podman, podman_env
from streams.stack.ports import free_port

SERVICES_HERE = ("kafka", "redis", "worker", "prometheus")  # Grafana's image cannot be pulled here


@dataclass
class ComposeStack:
    project: str
    images: dict[str, str]
    log: Path
    ports: dict[str, int] = field(default_factory=dict)
    model_key: str = field(default_factory=lambda: secrets.token_hex(32))
    redis_password: str = field(default_factory=lambda: secrets.token_hex(24))

    def __post_init__(self) -> None:
        for service in ("kafka", "redis", "worker", "prometheus", "grafana"):
            self.ports.setdefault(service, free_port())

    @property
    def env(self) -> dict[str, str]:
        return {**podman_env(), **self.images, "DRIFTLINE_MODEL_KEY": self.model_key,
                "DRIFTLINE_REDIS_PASSWORD": self.redis_password,
                **{f"DRIFTLINE_{s.upper()}_HOST_PORT": str(p) for s, p in self.ports.items()}}

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.ports['kafka']}"

    def url(self, service: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    def compose(self, *args: str, timeout: float = 600) -> None:
        exe = shutil.which("podman-compose")
        assert exe is not None, "podman-compose is installed by make's system-deps"
        with self.log.open("a") as out:
            out.write(f"\n$ podman-compose -p {self.project} {' '.join(args)}\n")
            out.flush()
            done = subprocess.run([exe, "-p", self.project, "-f", str(ROOT / "docker-compose.yml"), *args],
                                  env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False)
        assert done.returncode == 0, f"podman-compose {' '.join(args)} failed; see {self.log}"

    def up(self, services: Sequence[str]) -> None:
        self.compose("up", "-d", *services)

    def container(self, service: str) -> str:
        return f"{self.project}_{service}_1"

    def leftovers(self) -> dict[str, list[str]]:
        """The project's containers, volumes and networks that still exist."""
        label = f"label=io.podman.compose.project={self.project}"
        found = {}
        for kind, listing in (("containers", ["ps", "-a"]), ("volumes", ["volume", "ls"]), ("networks", ["network", "ls"])):
            out = podman(*listing, "--filter", label, "--format", "{{.Names}}" if kind == "containers" else "{{.Name}}").stdout
            found[kind] = out.split()
        return found

    def down(self) -> None:
        """Everything of the project gone: containers, volumes, then its network."""
        try:
            self.compose("down", "-v", timeout=300)
        finally:
            left = self.leftovers()
            for name in left["containers"]:
                podman("rm", "-f", name, check=False)
            for name in left["volumes"]:
                podman("volume", "rm", "-f", name, check=False)
            for name in left["networks"]:
                podman("network", "rm", "-f", name, check=False)


def until(what: str, check: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(1.0)
    raise AssertionError(f"{what}: not within {timeout_s:.0f}s")
