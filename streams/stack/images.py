"""The project's container images, built with podman from a Debian base made here (`make images`).

No image registry needs to answer: the base is a Debian bookworm root file system that
``mmdebstrap`` makes from Debian's packages and podman imports; every image builds on it with
``--network host`` (Debian's packages and PyPI are reached during the build):

- ``localhost/driftline:<version>``: the worker, from the repository's ``Dockerfile``;
- ``localhost/driftline-kafka:<kafka version>``: Apache Kafka from the jars the project fetches
  with Maven, on Debian's JRE, configured from ``KAFKA_*`` variables as the apache/kafka image is;
- ``localhost/driftline-redis:7`` and ``localhost/driftline-prometheus:2``: from Debian's packages.

docker-compose.yml names them through ``DRIFTLINE_*_IMAGE`` (defaults: the upstream images
Docker users pull). Podman runs with the project's ``deploy/containers/containers.conf``
(``CONTAINERS_CONF``), never the machine's own configuration. pip in the worker's build gets the
host's CA bundle as a build secret, so a TLS-intercepting proxy is trusted without the bundle
entering any layer.
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from streams import __version__
from streams.errors import EnvironmentProblem
from streams.settings import Settings
from streams.stack.kafka import cached_jars, fetch_jars, jars_dir

ROOT = Path(__file__).resolve().parents[2]
CONTAINERS = ROOT / "deploy" / "containers"
CONTAINERS_CONF = CONTAINERS / "containers.conf"
BASE = "localhost/driftline-base:bookworm"


@dataclass(frozen=True)
class Image:
    name: str  # the tag
    env: str  # the docker-compose.yml variable that names it
    size_bytes: int


def images(settings: Settings) -> dict[str, str]:
    """Each compose service's local image tag, by the variable docker-compose.yml reads it from."""
    return {
        "DRIFTLINE_WORKER_IMAGE": f"localhost/driftline:{__version__}",
        "DRIFTLINE_KAFKA_IMAGE": f"localhost/driftline-kafka:{settings.kafka_version}",
        "DRIFTLINE_REDIS_IMAGE": "localhost/driftline-redis:7",
        "DRIFTLINE_PROMETHEUS_IMAGE": "localhost/driftline-prometheus:2",
    }


def podman_env() -> dict[str, str]:
    """The environment podman runs in: the project's containers.conf."""
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def podman(*args: str, log: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("podman")
    if exe is None:
        raise EnvironmentProblem("podman not found: `make system-deps` installs it (Debian: apt-get install podman)")
    out = log.open("a") if log is not None else subprocess.PIPE
    try:
        done = subprocess.run([exe, *args], env=podman_env(), stdout=out, stderr=subprocess.STDOUT if log else subprocess.PIPE,
                              text=True, check=False)
    finally:
        if log is not None:
            out.close()  # type: ignore[union-attr]
    if check and done.returncode != 0:
        where = f"; see {log}" if log is not None else f": {(done.stderr or done.stdout or '').strip()[-800:]}"
        raise EnvironmentProblem(f"podman {' '.join(args[:2])} failed{where}")
    return done


def exists(name: str) -> bool:
    return podman("image", "exists", name, check=False).returncode == 0


def size(name: str) -> int:
    return int(podman("image", "inspect", "--format", "{{.Size}}", name).stdout.strip())


def base_image(log: Path) -> str:
    """The Debian bookworm base, made with mmdebstrap and imported once per machine."""
    if exists(BASE):
        return BASE
    mmdebstrap = shutil.which("mmdebstrap")
    if mmdebstrap is None:
        raise EnvironmentProblem("mmdebstrap not found: `make system-deps` installs it (Debian: apt-get install mmdebstrap)")
    with tempfile.TemporaryDirectory(prefix="driftline-base-") as tmp:
        tar = Path(tmp) / "rootfs.tar"
        with log.open("a") as out:
            made = subprocess.run([mmdebstrap, "--variant=minbase", "--include=ca-certificates", "bookworm", str(tar)],
                                  stdout=out, stderr=subprocess.STDOUT, check=False)
        if made.returncode != 0:
            raise EnvironmentProblem(f"mmdebstrap could not make the Debian base; see {log}")
        podman("import", str(tar), BASE, log=log)
    return BASE


def ca_bundle() -> Path | None:
    """The host's CA bundle, handed to pip in the worker's build (None: the build's own)."""
    for candidate in (os.environ.get("SSL_CERT_FILE"), ssl.get_default_verify_paths().cafile,
                      "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def build(name: str, context: Path, containerfile: Path, base: str, log: Path, secret: Path | None = None) -> None:
    args = ["build", "--format", "docker", "--network", "host", "--build-arg", f"BASE={base}",
            "-f", str(containerfile), "-t", name]
    if secret is not None:
        args += ["--secret", f"id=cabundle,src={secret}"]
    podman(*args, str(context), log=log)


def build_all(settings: Settings, log: Path, only: Sequence[str] = ()) -> list[Image]:
    """Build the images (``only``: those of these compose variables); return each with its size."""
    log.parent.mkdir(parents=True, exist_ok=True)
    names = images(settings)
    wanted = [env for env in names if not only or env in only]
    base = base_image(log)
    out = []
    for env in wanted:
        name = names[env]
        if env == "DRIFTLINE_WORKER_IMAGE":
            build(name, ROOT, ROOT / "Dockerfile", base, log, secret=ca_bundle())
        elif env == "DRIFTLINE_KAFKA_IMAGE":
            if cached_jars(settings) is None:
                fetch_jars(settings, log)
            with tempfile.TemporaryDirectory(prefix="driftline-kafka-image-") as tmp:
                context = Path(tmp)
                for item in ("Containerfile", "run", "kafka-broker-api-versions.sh"):
                    shutil.copy2(CONTAINERS / "kafka" / item, context / item)
                shutil.copytree(jars_dir(settings), context / "libs")
                build(name, context, context / "Containerfile", base, log)
        else:
            folder = CONTAINERS / env.removeprefix("DRIFTLINE_").removesuffix("_IMAGE").lower()
            build(name, folder, folder / "Containerfile", base, log)
        out.append(Image(name, env, size(name)))
    return out


def main(argv: Sequence[str] = ()) -> int:
    settings = Settings.from_env()
    log = settings.state_dir / "logs" / "images.log"
    try:
        built = build_all(settings, log, only=list(argv))
    except EnvironmentProblem as exc:
        print(f"driftline images: {exc}", file=sys.stderr)
        return 1
    for image in built:
        print(f"{image.name:<40} {image.size_bytes / 1e6:8.0f} MB   {image.env}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
