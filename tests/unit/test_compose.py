"""docker-compose.yml, the Dockerfile and deploy/ agree with driftline's defaults and the local stack.

Static only: nothing here needs a Docker engine. The expected values come from
``Settings.from_env({})`` (the contract's defaults) and from the local stack's own code, so the
compose file cannot drift from what `driftline stack up` runs without one of these failing.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from dataclasses import fields, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from streams.settings import Settings, kafka_address

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
DEFAULTS = Settings.from_env({})
ENV_NAMES = {f.metadata["env"] for f in fields(Settings)}
LOOPBACK = DEFAULTS.kafka_host_port[0]  # the local stack listens on the loopback interface only


# ---------------------------------------------------------------- helpers


#: what a Docker user sets before `docker compose up`
USER_ENV = {"DRIFTLINE_MODEL_KEY": "ab" * 32, "DRIFTLINE_REDIS_PASSWORD": "cd" * 24}


def interpolated(value: str) -> str:
    """``${NAME}``, ``${NAME:?message}`` and ``${NAME:-default}`` as compose fills them in from
    ``USER_ENV``; ``$$`` is a ``$``."""
    def fill(m: re.Match[str]) -> str:
        name, op, rest = m[1], m[2] or "", m[3] or ""
        if name in USER_ENV:
            return USER_ENV[name]
        assert not op.endswith("?"), f"compose would refuse to start without {name}: {rest}"
        return rest if op.endswith("-") else ""
    return re.sub(r"\$\{(\w+)(:?[?-])?([^}]*)\}", fill, value).replace("$$", "$")


def env_of(service: str) -> dict[str, str]:
    """A service's environment as strings, from either the mapping or the list form, filled in
    as compose does."""
    env = SERVICES[service].get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): "" if v is None else interpolated(str(v)) for k, v in env.items()}


def redis_argv() -> list[str]:
    """The redis-server command line of the redis service (after its ``sh -c`` feeding it the
    password on stdin, when it has one)."""
    argv = as_argv(SERVICES["redis"]["command"])
    if argv[:2] == ["sh", "-c"]:
        feed, _, server = argv[2].partition("|")
        assert "requirepass" in feed, argv
        argv = shlex.split(server.strip().removeprefix("exec "))
    return argv


def published(service: str) -> list[tuple[str, int, int]]:
    """(host ip, host port, container port) for each port a service publishes."""
    out = []
    for entry in SERVICES[service].get("ports", []):
        entry = entry if isinstance(entry, dict) else interpolated(str(entry))
        if isinstance(entry, dict):  # long syntax
            out.append((str(entry.get("host_ip", "")), int(entry["published"]), int(entry["target"])))
            continue
        parts = str(entry).split("/")[0].split(":")
        if len(parts) != 3:
            pytest.fail(f"{service} publishes {entry!r} without a host ip: it would listen on every interface")
        out.append((parts[0], int(parts[1]), int(parts[2])))
    return out


def listeners(value: str) -> dict[str, tuple[str, int]]:
    """``NAME://host:port,...`` as {name: (host, port)}; an empty host stays empty."""
    out = {}
    for item in value.split(","):
        name, sep, address = item.strip().partition("://")
        assert sep, f"not a listener: {item!r}"
        host, _, port = address.rpartition(":")
        out[name] = (host.strip("[]"), int(port))
    return out


def kafka_properties(env: dict[str, str]) -> dict[str, str]:
    """The server.properties the apache/kafka image renders from its ``KAFKA_*`` variables."""
    props = {}
    for key, value in env.items():
        if not key.startswith("KAFKA_"):
            continue
        name = key[len("KAFKA_") :].lower().replace("___", "-").replace("__", "\0").replace("_", ".")
        props[name.replace("\0", "_")] = value
    return props


def command_options(argv: list[str]) -> dict[str, str]:
    """``--name value`` pairs of a command line."""
    return {arg: argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg.startswith("--")}


def as_argv(command: str | list[Any]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(a) for a in command]


def bind_mounts() -> list[tuple[str, str, str]]:
    """(service, host path, container path) for every bind mount in the compose file."""
    out = []
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            if isinstance(volume, dict):
                if volume.get("type") == "bind":
                    out.append((name, str(volume["source"]), str(volume["target"])))
                continue
            source, _, rest = str(volume).partition(":")
            if source.startswith((".", "/", "~")):
                out.append((name, source, rest.split(":")[0]))
    return out


def mount_source(service: str, target: str) -> Path:
    """The repository path bind-mounted at ``target`` in ``service`` (the deepest covering mount)."""
    covering = [(s, t) for n, s, t in bind_mounts() if n == service and (target == t or target.startswith(t.rstrip("/") + "/"))]
    assert covering, f"{service} mounts nothing at {target}"
    source, mounted_at = max(covering, key=lambda st: len(st[1]))
    return ROOT / source / target[len(mounted_at) :].lstrip("/")


def local_redis_argv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The redis-server command line the local stack runs, captured without starting anything."""
    from streams.stack import redis as local_redis

    class Captured(Exception):
        pass

    seen: list[list[str]] = []

    def fake_popen(cmd: list[str], *args: Any, **kwargs: Any) -> None:
        seen.append([str(a) for a in cmd])
        raise Captured

    # patch the module's own names only: nothing else sees a fake subprocess
    monkeypatch.setattr(local_redis, "shutil", SimpleNamespace(which=lambda name: f"/usr/bin/{name}"))
    monkeypatch.setattr(local_redis, "subprocess", SimpleNamespace(Popen=fake_popen, DEVNULL=subprocess.DEVNULL))
    with pytest.raises(Captured):
        local_redis.start(replace(DEFAULTS, state_dir=tmp_path / "state"), tmp_path / "redis.log")
    return seen[0]


# ---------------------------------------------------------------- the compose file itself


def test_compose_file_is_the_compose_spec_with_the_five_services() -> None:
    assert "version" not in COMPOSE, "the Compose spec has no `version:` key"
    assert {"kafka", "redis", "worker", "prometheus", "grafana"} <= set(SERVICES)


def test_every_published_port_is_on_the_loopback_interface() -> None:
    for name in SERVICES:
        for host_ip, _, _ in published(name):
            assert host_ip == LOOPBACK, f"{name} publishes on {host_ip or 'every interface'}, not {LOOPBACK}"


# ---------------------------------------------------------------- Kafka


def test_kafka_is_published_on_the_default_bootstrap_host_and_port() -> None:
    host, port = DEFAULTS.kafka_host_port
    ports = published("kafka")
    assert [(h, p) for h, p, _ in ports] == [(host, port)]
    # and the container port behind it is the listener advertised to the host
    kafka = env_of("kafka")
    host_listener = listeners(kafka["KAFKA_LISTENERS"])["PLAINTEXT_HOST"]
    assert ports[0][2] == host_listener[1]
    assert host_listener[0] in ("", "0.0.0.0"), "the host listener must accept the port-forwarded connections"


def test_kafka_advertises_the_default_bootstrap_address_to_the_host() -> None:
    advertised = listeners(env_of("kafka")["KAFKA_ADVERTISED_LISTENERS"])
    host, port = advertised["PLAINTEXT_HOST"]
    assert f"{host}:{port}" == DEFAULTS.kafka_bootstrap


def test_kafka_image_is_the_version_the_local_stack_runs() -> None:
    assert interpolated(SERVICES["kafka"]["image"]) == f"apache/kafka:{DEFAULTS.kafka_version}"


def test_kafka_is_a_one_node_kraft_broker_and_controller() -> None:
    kafka = env_of("kafka")
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller"
    node = kafka["KAFKA_NODE_ID"]
    controller = listeners(kafka["KAFKA_LISTENERS"])["CONTROLLER"]
    assert kafka["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{node}@kafka:{controller[1]}"
    assert kafka["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER"
    assert kafka["KAFKA_INTER_BROKER_LISTENER_NAME"] in listeners(kafka["KAFKA_ADVERTISED_LISTENERS"])
    protocols = dict(item.split(":") for item in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert set(listeners(kafka["KAFKA_LISTENERS"])) <= set(protocols)
    assert controller[1] not in {c for _, _, c in published("kafka")}, "the controller port stays private"
    assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]{21}", kafka.get("CLUSTER_ID", "")), "a fixed 22-char cluster id"


def test_kafka_broker_settings_are_the_local_stacks(tmp_path: Path) -> None:
    from streams.stack.kafka import controller_ports, nodes, write_config

    s = replace(DEFAULTS, state_dir=tmp_path)
    server, _ = write_config(s, nodes(s)[0], controller_ports(s, nodes(s)))
    local = dict(line.split("=", 1) for line in server.read_text().splitlines() if line)
    docker = kafka_properties(env_of("kafka"))
    # where the two must differ: addresses, the node's own paths
    differs = {"listeners", "advertised.listeners", "listener.security.protocol.map",
               "controller.quorum.voters", "log.dirs"}
    for key, value in local.items():
        if key not in differs:
            assert docker.get(key) == value, f"{key}: local stack {value!r}, compose {docker.get(key)!r}"
    assert docker["num.partitions"] == str(DEFAULTS.partitions)
    assert env_of("kafka")["KAFKA_HEAP_OPTS"] == DEFAULTS.kafka_heap_opts


def test_kafka_data_lives_on_a_named_volume() -> None:
    log_dirs = env_of("kafka")["KAFKA_LOG_DIRS"]
    named = {str(v).split(":")[1] for v in SERVICES["kafka"].get("volumes", [])
             if isinstance(v, str) and str(v).split(":")[0] in (COMPOSE.get("volumes") or {})}
    assert log_dirs in named, f"KAFKA_LOG_DIRS={log_dirs} is not on a volume"


def test_kafka_health_is_checked_against_its_own_listener() -> None:
    check = " ".join(as_argv(SERVICES["kafka"]["healthcheck"]["test"]))
    assert "kafka-broker-api-versions.sh" in check
    bootstrap = re.search(r"--bootstrap-server\s+(\S+)", check)
    assert bootstrap, check
    _, port = kafka_address(bootstrap.group(1))
    assert port in {p for _, p in listeners(env_of("kafka")["KAFKA_LISTENERS"]).values()}


# ---------------------------------------------------------------- Redis


def test_redis_is_published_on_the_default_url_host_and_port() -> None:
    host, port = DEFAULTS.redis_host_port
    assert [(h, p) for h, p, _ in published("redis")] == [(host, port)]


def test_redis_persists_like_the_local_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    argv = redis_argv()
    assert argv[0] == "redis-server"
    docker = command_options(argv)
    local_argv = local_redis_argv(tmp_path, monkeypatch)  # redis-server <its owner-only config file>
    local = {f"--{name}": value.strip('"') for name, _, value in
             (line.partition(" ") for line in Path(local_argv[1]).read_text().splitlines() if line)}
    for option in ("--appendonly", "--appendfsync"):
        assert docker.get(option) == local.get(option), f"{option}: local {local.get(option)!r}, compose {docker.get(option)!r}"
    assert docker["--appendonly"] == "yes" and docker["--appendfsync"] == "everysec"
    assert len(local["--requirepass"]) >= 24  # the local stack's generated password, in the file only
    assert not any(local["--requirepass"] in arg for arg in local_argv)
    assert any(str(v).split(":")[1] == "/data" for v in SERVICES["redis"]["volumes"]), "the AOF lives on a volume"


# ---------------------------------------------------------------- the worker


def test_worker_is_published_on_the_default_web_port() -> None:
    assert published("worker") == [(LOOPBACK, DEFAULTS.web_port, DEFAULTS.web_port)]
    assert env_of("worker")["DRIFTLINE_WEB_PORT"] == str(DEFAULTS.web_port)


def test_worker_environment_names_are_driftline_settings() -> None:
    env = env_of("worker")
    unknown = {k for k in env if k.startswith("DRIFTLINE_")} - ENV_NAMES
    assert not unknown, f"not Settings variables: {sorted(unknown)}"
    worker = Settings.from_env(env)  # valid settings, or SettingsError
    assert worker.topic_prefix == DEFAULTS.topic_prefix


def test_worker_reaches_kafka_on_a_listener_kafka_declares() -> None:
    host, port = Settings.from_env(env_of("worker")).kafka_host_port
    assert host == "kafka" and host in SERVICES
    kafka = env_of("kafka")
    declared = {name: address for name, address in listeners(kafka["KAFKA_LISTENERS"]).items() if address[1] == port}
    assert declared, f"kafka declares no listener on port {port}: {kafka['KAFKA_LISTENERS']}"
    # after bootstrap the client follows the advertised address: it must be the same one
    (name,) = declared
    assert listeners(kafka["KAFKA_ADVERTISED_LISTENERS"]).get(name) == (host, port)
    assert declared[name][0] in ("", "0.0.0.0", host)


def test_worker_reaches_redis_on_the_port_redis_listens_on() -> None:
    host, port = Settings.from_env(env_of("worker")).redis_host_port
    assert host == "redis" and host in SERVICES
    redis_port = command_options(redis_argv()).get("--port")
    listening = {int(redis_port)} if redis_port else {c for _, _, c in published("redis")}
    assert port in listening


def test_redis_asks_for_the_users_password_kept_off_command_lines_and_the_worker_sends_it() -> None:
    argv = as_argv(SERVICES["redis"]["command"])
    assert argv[:2] == ["sh", "-c"] and redis_argv()[:2] == ["redis-server", "-"]  # its config on stdin
    assert "$$REDIS_PASSWORD" in argv[2] and USER_ENV["DRIFTLINE_REDIS_PASSWORD"] not in argv[2]
    redis_env = env_of("redis")
    assert redis_env["REDIS_PASSWORD"] == USER_ENV["DRIFTLINE_REDIS_PASSWORD"]
    assert redis_env["REDISCLI_AUTH"] == redis_env["REDIS_PASSWORD"]  # the health check's redis-cli logs in
    worker = Settings.from_env(env_of("worker"))
    assert urlsplit(worker.redis_url).password == USER_ENV["DRIFTLINE_REDIS_PASSWORD"]
    assert USER_ENV["DRIFTLINE_REDIS_PASSWORD"] not in worker.redis_url_shown
    # without the password set, compose refuses to start rather than run an open Redis
    raw = SERVICES["redis"]["environment"]["REDIS_PASSWORD"]
    assert raw.startswith("${DRIFTLINE_REDIS_PASSWORD:?")


def test_worker_starts_after_healthy_kafka_and_redis() -> None:
    depends = SERVICES["worker"]["depends_on"]
    for service in ("kafka", "redis"):
        assert depends[service]["condition"] == "service_healthy"
        assert "healthcheck" in SERVICES[service]


def test_worker_is_built_from_the_dockerfile_and_runs_the_worker_command() -> None:
    build = SERVICES["worker"]["build"]
    context = build if isinstance(build, str) else build.get("context", ".")
    dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
    assert (ROOT / context / dockerfile).resolve() == (ROOT / "Dockerfile").resolve()
    assert as_argv(SERVICES["worker"]["command"]) == ["worker"]


def test_every_image_but_grafanas_can_be_named_by_a_variable_and_defaults_to_upstreams() -> None:
    from streams.stack.images import images

    named = {service: re.fullmatch(r"\$\{(\w+):-([^}]+)\}", str(SERVICES[service].get("image", "")))
             for service in ("kafka", "redis", "prometheus", "worker")}
    assert all(named.values()), {k: SERVICES[k].get("image") for k, v in named.items() if not v}
    variables = {m[1] for m in named.values() if m}
    assert variables == set(images(DEFAULTS)), "make images names what compose reads"
    assert "${" not in str(SERVICES["grafana"]["image"])  # no local Grafana: it stays upstream's


# ---------------------------------------------------------------- the Dockerfile


DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instructions(name: str) -> list[str]:
    """The arguments of every ``name`` instruction, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    return [m.group(1).strip() for m in re.finditer(rf"^\s*{name}\s+(.*)$", text, re.M | re.I)]


def test_dockerfile_exposes_the_default_web_port() -> None:
    exposed = {int(p.split("/")[0]) for line in instructions("EXPOSE") for p in line.split()}
    assert DEFAULTS.web_port in exposed


def test_dockerfile_health_check_asks_the_worker_health_page_with_python() -> None:
    (check,) = instructions("HEALTHCHECK")
    urls = re.findall(r"https?://[^'\"\s)]+", check)
    assert urls == [f"http://127.0.0.1:{DEFAULTS.web_port}/health"], urls
    assert "urllib" in check and "curl" not in check


def test_dockerfile_runs_driftline_as_a_non_root_user() -> None:
    assert instructions("FROM")[0] == "${BASE}" and instructions("ARG")[0] == "BASE=python:3.11-slim"
    # compose builds on the same default, which make images overrides with its local Debian base
    assert interpolated(SERVICES["worker"]["build"]["args"]["BASE"]) == "python:3.11-slim"
    users = instructions("USER")
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert instructions("ENTRYPOINT") == ['["driftline"]']
    assert instructions("CMD")[-1] == '["worker"]'


def test_dockerfile_copies_only_what_exists_and_is_not_ignored() -> None:
    ignored = {line.strip().rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".venv", ".git"} <= ignored
    for line in instructions("COPY"):
        if line.startswith("--from"):
            continue
        *sources, _ = line.split()
        for source in (s for s in sources if not s.startswith("--")):
            assert (ROOT / source).exists(), f"COPY {source}: no such file"
            assert source.rstrip("/") not in ignored, f"COPY {source}, but .dockerignore drops it"


# ---------------------------------------------------------------- Prometheus and Grafana


def test_every_bind_mounted_path_exists_in_the_repository() -> None:
    mounts = bind_mounts()
    assert mounts
    for service, source, _ in mounts:
        assert (ROOT / source).exists(), f"{service} mounts {source}, which is not in the repository"


def test_named_volumes_are_declared() -> None:
    declared = set(COMPOSE.get("volumes") or {})
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = str(volume).split(":")[0] if not isinstance(volume, dict) else str(volume.get("source"))
            if not source.startswith((".", "/", "~")):
                assert source in declared, f"{name} uses undeclared volume {source}"


def test_prometheus_scrapes_the_worker_metrics_page() -> None:
    config = yaml.safe_load(mount_source("prometheus", "/etc/prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    job = jobs["driftline"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    targets = [t for static in job["static_configs"] for t in static["targets"]]
    assert targets == [f"worker:{DEFAULTS.web_port}"]
    assert job.get("scrape_interval", config.get("global", {}).get("scrape_interval")) == "5s"


def test_prometheus_rule_files_are_mounted_and_valid() -> None:
    config = yaml.safe_load(mount_source("prometheus", "/etc/prometheus/prometheus.yml").read_text())
    found = []
    for pattern in config.get("rule_files", []):
        folder, _, glob = pattern.rpartition("/")
        found += sorted(mount_source("prometheus", folder).glob(glob))
    assert found, "no rule file matches prometheus.yml's rule_files"
    for path in found:
        rules = yaml.safe_load(path.read_text())
        assert isinstance(rules.get("groups"), list), f"{path}: needs a `groups:` list"


def test_grafana_reads_prometheus_and_the_mounted_dashboards() -> None:
    provisioning = "/etc/grafana/provisioning"
    datasources = yaml.safe_load(mount_source("grafana", f"{provisioning}/datasources/prometheus.yml").read_text())
    (source,) = [d for d in datasources["datasources"] if d["type"] == "prometheus"]
    url = urlsplit(source["url"])
    assert url.hostname == "prometheus" and url.hostname in SERVICES
    assert url.port in {c for _, _, c in published("prometheus")}
    providers = yaml.safe_load(mount_source("grafana", f"{provisioning}/dashboards/driftline.yml").read_text())
    paths = {p["options"]["path"] for p in providers["providers"]}
    for path in paths:
        assert mount_source("grafana", path).is_dir()
    assert env_of("grafana").get("GF_AUTH_ANONYMOUS_ENABLED") == "true"
    assert env_of("grafana").get("GF_AUTH_ANONYMOUS_ORG_ROLE") == "Viewer"
