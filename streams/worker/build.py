"""`driftline worker`: one Faust worker running the chosen agents over the pure core."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Sequence
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams.errors import UsageError
from streams.kafka import admin
from streams.kafka.topics import topic_specs
from streams.settings import Settings
from streams.specs.load import load_spec
from streams.stack.ports import ensure_bindable
from streams.worker import pauses
from streams.worker.app import changelog_specs, create_app

AGENTS = ("validate", "feedback", "join", "train", "models")
LAG_WAIT_S = 3.0  # how long a /metrics scrape waits for a fresh lag (Prometheus waits 10 s by default)
#: the first source topic of each agent, in the order the broker watch picks its speaker by
SOURCES = (("validate", "raw"), ("feedback", "feedback"), ("join", "features"), ("train", "examples"))
#: agents that serve or learn the registry's versions: the models follower runs beside them
FOLLOW_MODELS = ("validate", "train")


def chosen(agents: Sequence[str]) -> list[str]:
    """The agents to run: those chosen, and the models follower where one of them needs it (a
    scorer without it would serve its first model forever).

    >>> chosen(["validate"]), chosen(["feedback", "join"]), chosen(["train", "models"])
    (['validate', 'models'], ['feedback', 'join'], ['train', 'models'])
    """
    unknown = set(agents) - set(AGENTS)
    if unknown:
        raise UsageError(f"unknown agent(s) {', '.join(sorted(unknown))}: choose from {', '.join(AGENTS)}")
    out = list(dict.fromkeys(agents))
    if "models" not in out and any(a in FOLLOW_MODELS for a in out):
        out.append("models")
    return out


def build(settings: Settings, agents: Sequence[str] = AGENTS):  # type: ignore[no-untyped-def]
    """The Faust app with the chosen agents registered on it."""
    from agents import feedback, join, models, train, validate, webhook
    from agents.runtime import Runtime
    from streams.core.watch import Finding
    from streams.worker import broker_watch, dashboard, lag, metrics, orphan

    agents = chosen(agents)
    spec = load_spec(settings.pipeline)
    app = create_app(settings)
    pauses.watch_gc()
    rt = Runtime.build(settings, spec, app)
    modules = {"validate": validate, "feedback": feedback, "join": join, "train": train, "models": models}
    for name in agents:
        if name == "join":  # it reads the users' feedback itself when the feedback agent runs here
            join.register(rt, feedback="feedback" in agents)
        elif not (name == "feedback" and "join" in agents):
            modules[name].register(rt)
    webhook.register(rt)  # alerts also to DRIFTLINE_ALERT_WEBHOOK, when set
    rt.alert_listeners.append(metrics.count_alert)  # alerts counted by kind, whatever agents run
    measure_lag = lag.register(rt.app, rt.settings.topic_prefix)  # records consumed and consumer lag
    dashboard.register(app, rt)  # the live dashboard at / and its JSON under /api/
    # the broker's disks and the outputs' outside subscribers, said once by the first source's p0 holder
    first = next((settings.topic(t) for a, t in SOURCES if a in agents), None)

    async def raise_finding(found: Finding) -> None:
        await rt.alert(found.kind, found.severity, found.subject, found.message, **found.detail)

    broker_watch.register(app, settings, first, raise_finding)
    orphan.register(app, settings)  # a worker another driftline process started ends with it
    pauses.freeze_startup(app)  # what start-up made is not walked by every full collection after it

    @app.page("/metrics")
    async def metrics_page(web, request):  # type: ignore[no-untyped-def]
        # the lag as it is now, not as of the last tick; a consumer busy with a backlog may be slow
        # to say where it stands: then the page shows the last lag measured, and this measurement
        # goes on for the next scrape
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(measure_lag()), LAG_WAIT_S)
        return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    @app.page("/health")
    async def health(web, request):  # type: ignore[no-untyped-def]
        watching = {subject: {"from_scored": n, "model_version": v, "trained_examples": t}
                    for subject, (n, v, t) in rt.scorer.watching_since.items()}
        return web.json({"status": "ok", "agents": list(agents), "model_version": rt.scorer.champion.version,
                         "following_models": rt.following, "watching_predictions_since": watching,
                         "assigned_partitions": _assigned(app), "training": _holds(app, settings.topic("examples"))})

    return app, rt


def _assigned(app: Any) -> int:
    """How many topic partitions the group gave this worker (0 before its first assignment)."""
    try:
        return len(app.consumer.assignment())
    except Exception:  # noqa: BLE001 - no consumer yet, or one that is being rebuilt
        return 0


def _holds(app: Any, topic: str) -> bool:
    """Whether the group gave this worker a partition of ``topic`` (the trainer's role: ``examples``)."""
    try:
        return any(tp.topic == topic for tp in app.consumer.assignment())
    except Exception:  # noqa: BLE001 - no consumer yet, or one that is being rebuilt
        return False


def _quiet_worker():  # type: ignore[no-untyped-def]
    from faust.worker import Worker

    class QuietWorker(Worker):  # type: ignore[misc]
        """Faust's worker without its terminal spinner. The spinner's handler sets the root
        logger to DEBUG, so every ``log.debug`` in aiokafka's per-record send path built a
        record: about a tenth of the worker's time under load."""

        def on_setup_root_logger(self, logger, level):  # type: ignore[no-untyped-def]
            self.spinner = None

    return QuietWorker


def _check_redis_credentials(settings: Settings) -> None:
    """A Redis that answers but refuses the credentials is a setting to mend, said in one line
    (the worker crashed with a traceback). One that does not answer yet is not: the worker
    scores from its cached models meanwhile and says so."""
    from streams.state.redis_trouble import answers

    answers(settings)


def run(settings: Settings, agents: Sequence[str], loglevel: str = "WARNING") -> int:
    QuietWorker = _quiet_worker()
    admin.require_broker(settings)
    _check_redis_credentials(settings)
    if settings.web_port:
        ensure_bindable(settings.web_bind, settings.web_port, "the worker's web server", "DRIFTLINE_WEB_PORT")
    app, _ = build(settings, agents)
    admin.ensure_topics(settings, topic_specs(settings) + changelog_specs(app))
    # the worker's few kafka-python clients (the join's rebuild, the models log) raise what
    # matters to us; kafka-python 3 also logs its own socket closes at ERROR, with tracebacks
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    sys.argv = sys.argv[:1]
    pauses.share_gil()
    QuietWorker(app, loglevel=loglevel, quiet=True).execute_from_commandline()
    return 0
