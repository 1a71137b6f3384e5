"""The pipeline spec: what raw events hold, the features, the model, drift checks, training.

Read from TOML with the standard library. A spec that does not parse, or names something
unknown, is refused with the line and the reason (:class:`SpecError`).
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import re
import tomllib
from dataclasses import dataclass, field
from typing import Any, Literal

from schemas.fields import FIELD_TYPES, FieldSpec
from streams.core import plugins
from streams.core.spec_keys import SECTIONS, TOP_LEVEL

Task = Literal["binary", "multiclass", "regression"]
TASKS = ("binary", "multiclass", "regression")
AGGREGATES = ("count", "mean", "std", "min", "max", "time_since_previous")
TRANSFORMS = ("log1p", "sqrt", "square", "abs")
SIGNALS = ("error", "prediction", "feature")
DETECTORS = ("ADWIN", "PageHinkley", "DDM", "HDDM_A", "HDDM_W", "KSWIN", "frequency")
#: the detector a ``[[drift]]`` entry gets when it names none: on the model's errors (a 0/1
#: signal) HDDM_A, one-sided and built for error rates; on anything else ADWIN
DEFAULT_DETECTOR = {"error": "HDDM_A", "prediction": "ADWIN", "feature": "ADWIN"}


class SpecError(ValueError):
    """A spec that cannot be used: the message names the line (when known) and the reason."""


@dataclass(frozen=True)
class TransformSpec:
    name: str
    field: str
    op: str


@dataclass(frozen=True)
class EntityFeatureSpec:
    """An aggregate over the entity's recent events: the last ``last`` events or ``seconds``."""

    name: str
    agg: str
    field: str | None = None
    last: int | None = None
    seconds: float | None = None


@dataclass(frozen=True)
class FunctionSpec:
    """A feature function from a plugin (``[[features.function]]``): its entry-point name, the
    keyword arguments it is given, the names it returns, and whether it keeps entity state."""

    name: str
    params: tuple[tuple[str, Any], ...] = ()
    outputs: tuple[str, ...] = ()
    stateful: bool = False


@dataclass(frozen=True)
class LookupSpec:
    """A reference table each event is enriched from (``[[features.lookup]]``): a compacted topic
    keyed by id, the event field holding the id (``entity_id`` for the event's entity), the
    fields taken (as features named ``prefix`` + field), and what a miss does: ``default`` fills
    the fields from :attr:`default`, ``deadletter`` dead-letters the event (``lookup_miss``)."""

    name: str
    topic: str
    key: str
    fields: tuple[str, ...]
    on_miss: str = "default"
    default: tuple[tuple[str, Any], ...] = ()
    prefix: str = ""


@dataclass(frozen=True)
class ModelSpec:
    estimator: str = "river.tree.HoeffdingTreeClassifier"
    params: tuple[tuple[str, Any], ...] = ()
    scale: bool = False
    one_hot: bool = True


#: the prediction monitor's default wait: a published model trained on this many examples
PREDICTION_AFTER_EXAMPLES = 5000


@dataclass(frozen=True)
class DriftSpec:
    signal: str
    detector: str
    feature: str | None = None
    params: tuple[tuple[str, Any], ...] = ()
    warmup: int = 1000
    cooldown: int = 1000
    #: the prediction signal only: the served model's trained examples before its predictions are
    #: watched (a model still learning moves its own predictions: not drift in the stream)
    after_examples: int = 0


@dataclass(frozen=True)
class TrainingSpec:
    publish_every: int = 2000
    publish_seconds: float = 0.0
    metric: str = "accuracy"
    challenger_on_drift: bool = True
    promotion_min_examples: int = 500
    promotion_margin: float = 0.0
    #: a challenger that has not won after this many examples is retired
    promotion_timeout_examples: int = 5000
    #: what concept drift starts: "sklearn" (a batch model refitted on a sliding window of recent
    #: examples) or "river" (a fresh copy of the spec's online model)
    challenger: str = "sklearn"
    sklearn_estimator: str = ""  # default: streams.core.batch.DEFAULT_ESTIMATORS (decision trees)
    sklearn_window: int = 1000
    sklearn_refit_every: int = 250
    #: also start a scikit-learn challenger every N examples without drift (0: only on drift)
    sklearn_every: int = 20000
    #: after a promotion, roll back when the new champion trails the previous one by more than
    #: ``rollback_threshold`` over ``rollback_examples`` labelled examples
    rollback_examples: int = 500
    rollback_threshold: float = 0.05
    #: share of entities (a stable hash of ``entity_id``) served by the challenger: a canary;
    #: 0 keeps the challenger in shadow only (its prediction rides along in ``challenger``)
    canary_percent: float = 0.0
    #: a ``performance_drop`` alert when the served metric over the last 1,000 labelled examples
    #: falls from its best by more than this (points, or a share where lower is better); 0: never
    performance_drop: float = 0.1


@dataclass(frozen=True)
class PipelineSpec:
    name: str
    task: Task
    fields: tuple[FieldSpec, ...]
    passthrough: tuple[str, ...]
    transforms: tuple[TransformSpec, ...] = ()
    entity: tuple[EntityFeatureSpec, ...] = ()
    functions: tuple[FunctionSpec, ...] = ()
    lookups: tuple[LookupSpec, ...] = ()
    #: an entity idle longer than this (event time) starts afresh, so its state can be forgotten
    entity_ttl: float = 7 * 86400.0
    model: ModelSpec = field(default_factory=ModelSpec)
    drift: tuple[DriftSpec, ...] = ()
    training: TrainingSpec = field(default_factory=TrainingSpec)
    dedup_horizon: float = 3600.0
    #: a ``deadletter_rate`` alert when more than this share of the last ``deadletter_window`` raw
    #: records were dead-lettered
    deadletter_rate: float = 0.05
    deadletter_window: int = 1000
    join_horizon: float = 3600.0
    join_early_grace: float = 60.0
    source_text: str = ""

    @property
    def digest(self) -> str:
        """sha256 of the spec's text: a model's lineage names the spec it was trained under."""
        return hashlib.sha256(self.source_text.encode()).hexdigest()

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The features the spec produces (passthrough fields, transforms, plugin functions'
        outputs, entity aggregates), in the order ``featurize`` writes them."""
        return (*self.passthrough, *(t.name for t in self.transforms), *(n for f in self.functions for n in f.outputs),
                *(e.name for e in self.entity), *(lk.prefix + n for lk in self.lookups for n in lk.fields))

    @property
    def keyed(self) -> bool:
        """Whether features keep per-entity state (aggregates, a stateful function): events are
        then partitioned by entity."""
        return bool(self.entity) or any(f.stateful for f in self.functions)

    def field_named(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)


def _line_of(text: str, needle: str) -> str:
    for number, line in enumerate(text.splitlines(), 1):
        if needle and needle in line:
            return f"line {number}: "
    return ""


def _fail(text: str, needle: str, reason: str) -> SpecError:
    return SpecError(f"{_line_of(text, needle)}{reason}")


def _get(table: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any, text: str, where: str) -> Any:
    value = table.get(key, default)
    if value is not default and not isinstance(value, kind) or isinstance(value, bool) and kind in (int, float, (int, float)):
        raise _fail(text, key, f"{where}.{key} has the wrong type ({type(value).__name__})")
    return value


def _known(table: dict[str, Any], section: str, text: str) -> None:
    """Refuse a key the section does not have (:mod:`streams.core.spec_keys` lists them)."""
    allowed, where = (TOP_LEVEL, "the spec") if section == "" else (SECTIONS[section].names, SECTIONS[section].header)
    for key in table:
        if key not in allowed:
            raise _fail(text, key, f"unknown key {key!r} in {where} (known: {', '.join(sorted(allowed))})")


#: the packages a spec may take an estimator from: a spec is data, and importing a module runs it
ALLOWED_PACKAGES = ("river", "sklearn", "streams")
_DOTTED = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")


def check_importable(path: str) -> type:
    """The class ``package.module.Name`` names, from an allowed package; else SpecError.

    Nothing outside :data:`ALLOWED_PACKAGES` is imported, and only a class is returned:

    >>> check_importable("os.system")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    streams.core.spec.SpecError: 'os.system' is not allowed: an estimator comes from river, sklearn or streams, or an installed plugin ...
    """
    if not isinstance(path, str):
        raise SpecError(f"{path!r} is not a dotted name such as river.linear_model.LogisticRegression, "
                        f"nor an installed plugin{_plugins_named(plugins.ESTIMATORS)}")
    return _importable(path)


@functools.cache
def _importable(path: str) -> type:
    """:func:`check_importable` for a string, once per process (what it finds does not change;
    what it refuses raises, and is not kept)."""
    if plugins.is_installed(plugins.ESTIMATORS, path):
        return _plugin_class(path)
    if not _DOTTED.fullmatch(path):
        raise SpecError(f"{path!r} is not a dotted name such as river.linear_model.LogisticRegression, "
                        f"nor an installed plugin{_plugins_named(plugins.ESTIMATORS)}")
    module, _, name = path.rpartition(".")
    if module.split(".")[0] not in ALLOWED_PACKAGES or name.startswith("_"):
        raise SpecError(f"{path!r} is not allowed: an estimator comes from {', '.join(ALLOWED_PACKAGES[:-1])} "
                        f"or {ALLOWED_PACKAGES[-1]}, or an installed plugin{_plugins_named(plugins.ESTIMATORS)}")
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        raise SpecError(f"cannot import {path!r}") from None
    if not isinstance(found, type):
        raise SpecError(f"{path!r} is not a class")
    return found


def _plugins_named(group: str) -> str:
    names = plugins.installed(group)
    return f" ({group}: {', '.join(names)})" if names else f" (none is installed in {group})"


def _plugin(group: str, name: str) -> Any:
    """The object an installed plugin names; a plugin that does not import is a SpecError."""
    try:
        return plugins.load(group, name)
    except Exception as exc:  # noqa: BLE001 - a broken plugin: whatever its import raises
        raise SpecError(f"the plugin {name!r} ({group}) does not load: {type(exc).__name__}: {exc}") from None


def _plugin_class(name: str) -> type:
    found = _plugin(plugins.ESTIMATORS, name)
    if not isinstance(found, type):
        raise SpecError(f"the plugin {name!r} ({plugins.ESTIMATORS}) is not a class")
    return found


def _functions(feats: dict[str, Any], text: str) -> tuple[FunctionSpec, ...]:
    """``[[features.function]]``: feature functions from installed plugins."""
    import inspect

    out = []
    for f in feats.get("function", []):
        _known(f, "features.function", text)
        name = f.get("name")
        if not isinstance(name, str) or name not in plugins.installed(plugins.FEATURES):
            raise _fail(text, str(name), f"feature function {name!r} is not an installed plugin{_plugins_named(plugins.FEATURES)}")
        fn = _plugin(plugins.FEATURES, name)
        if not callable(fn):
            raise _fail(text, name, f"the plugin {name!r} ({plugins.FEATURES}) is not a function")
        params = f.get("params", {})
        if not isinstance(params, dict):
            raise _fail(text, "params", f"[[features.function]] {name!r}: params must be a table")
        outputs = f.get("outputs", getattr(fn, "outputs", None))
        if not outputs or not isinstance(outputs, list | tuple) or not all(isinstance(o, str) for o in outputs):
            raise _fail(text, name, f"feature function {name!r} names no outputs: declare them with "
                                    "@streams.core.plugins.feature(...) or outputs = [...] in the spec")
        try:
            signature = inspect.signature(fn)
            signature.bind({}, **({"state": {}} if "state" in signature.parameters else {}), **params)
        except TypeError as exc:
            raise _fail(text, name, f"feature function {name!r} does not take these params: {exc}") from None
        except ValueError:
            signature = None
        stateful = signature is not None and "state" in signature.parameters
        out.append(FunctionSpec(name, tuple(sorted(params.items())), tuple(outputs), stateful))
    return tuple(out)


_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")


def _lookups(feats: dict[str, Any], names: set[str], text: str) -> tuple[LookupSpec, ...]:
    """``[[features.lookup]]``: reference tables to enrich each event from."""
    out = []
    for lk in feats.get("lookup", []):
        _known(lk, "features.lookup", text)
        topic = lk.get("topic")
        if not isinstance(topic, str) or not _TOPIC.fullmatch(topic):
            raise _fail(text, "topic", f"[[features.lookup]] topic must be a Kafka topic name, not {topic!r}")
        name = _get(lk, "name", str, topic, text, "[[features.lookup]]")
        key = lk.get("key")
        if key != "entity_id" and key not in names:
            raise _fail(text, str(key), f"lookup {name!r}: key names unknown field {key!r} (a field, or entity_id)")
        fields_ = lk.get("fields")
        if not isinstance(fields_, list) or not fields_ or not all(isinstance(f, str) and f for f in fields_):
            raise _fail(text, name, f"lookup {name!r}: fields must be a list of the reference record's field names")
        on_miss = lk.get("on_miss", "default")
        if on_miss not in ("default", "deadletter"):
            raise _fail(text, "on_miss", f"lookup {name!r}: on_miss must be default or deadletter")
        default = lk.get("default", {})
        if not isinstance(default, dict) or any(k not in fields_ for k in default):
            raise _fail(text, "default", f"lookup {name!r}: default must be a table of its fields' values")
        prefix = _get(lk, "prefix", str, "", text, "[[features.lookup]]")
        out.append(LookupSpec(name, topic, key, tuple(fields_), on_miss, tuple(sorted(default.items())), prefix))
    if len({lk.name for lk in out}) != len(out):
        raise _fail(text, "[[features.lookup]]", "two lookups have one name: give each its own name")
    return tuple(out)


def _needs(cls: type, path: str, methods: tuple[str, ...]) -> None:
    missing = [m for m in methods if not callable(getattr(cls, m, None))]
    if missing:
        raise SpecError(f"{path!r} is not an estimator (it has no {' or '.join(missing)})")


def parse_spec(text: str) -> PipelineSpec:
    """Parse and check a spec's TOML text."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise SpecError(f"line {match.group(1)}: {exc}" if match else str(exc)) from None
    _known(doc, "", text)
    head = doc.get("pipeline", {})
    _known(head, "pipeline", text)
    task = head.get("task", "binary")
    if task not in TASKS:
        raise _fail(text, "task", f"task must be one of {', '.join(TASKS)}, got {task!r}")

    raw_fields = doc.get("fields", [])
    if not raw_fields:
        raise SpecError("the spec declares no [[fields]]")
    fields_: list[FieldSpec] = []
    for f in raw_fields:
        _known(f, "fields", text)
        name = f.get("name")
        if not isinstance(name, str) or not name:
            raise _fail(text, "[[fields]]", "every [[fields]] needs a name")
        if f.get("type") not in FIELD_TYPES:
            raise _fail(text, str(f.get("type")), f"field {name!r}: type must be one of {', '.join(FIELD_TYPES)}")
        cats = f.get("categories")
        try:
            fields_.append(FieldSpec(
                name=name, type=f["type"], required=bool(f.get("required", True)),
                min=f.get("min"), max=f.get("max"),
                categories=frozenset(str(c) for c in cats) if cats is not None else None,
                unseen=f.get("unseen", "allow"),
            ))
        except ValueError as exc:
            raise _fail(text, name, str(exc)) from None
    names = {f.name for f in fields_}

    feats = doc.get("features", {})
    _known(feats, "features", text)
    passthrough = tuple(feats.get("passthrough", [f.name for f in fields_ if f.type != "text"]))
    for name in passthrough:
        if name not in names:
            raise _fail(text, name, f"passthrough names unknown field {name!r}")
    transforms = []
    for t in feats.get("transform", []):
        _known(t, "features.transform", text)
        if t.get("field") not in names:
            raise _fail(text, str(t.get("field")), f"transform {t.get('name')!r} names unknown field {t.get('field')!r}")
        if t.get("op") not in TRANSFORMS:
            raise _fail(text, str(t.get("op")), f"transform op must be one of {', '.join(TRANSFORMS)}")
        transforms.append(TransformSpec(str(t.get("name", f"{t['op']}_{t['field']}")), t["field"], t["op"]))
    entity = []
    for e in feats.get("entity", []):
        _known(e, "features.entity", text)
        agg = e.get("agg")
        if agg not in AGGREGATES:
            raise _fail(text, str(agg), f"entity feature agg must be one of {', '.join(AGGREGATES)}")
        if agg not in ("count", "time_since_previous") and e.get("field") not in names:
            raise _fail(text, str(e.get("field")), f"entity feature {e.get('name')!r} names unknown field {e.get('field')!r}")
        if agg != "time_since_previous" and (e.get("last") is None) == (e.get("seconds") is None):
            raise _fail(text, str(e.get("name")), f"entity feature {e.get('name')!r} needs exactly one of last or seconds")
        entity.append(EntityFeatureSpec(str(e.get("name", agg)), agg, e.get("field"), e.get("last"), e.get("seconds")))

    entity_ttl = feats.get("entity_ttl_seconds", 7 * 86400.0)
    if not isinstance(entity_ttl, int | float) or isinstance(entity_ttl, bool) or entity_ttl <= 0:
        raise _fail(text, "entity_ttl_seconds", "features.entity_ttl_seconds must be a number of seconds above 0")
    entity_ttl = float(entity_ttl)

    model_doc = doc.get("model", {})
    _known(model_doc, "model", text)
    default_estimator = "river.linear_model.LinearRegression" if task == "regression" else ModelSpec.estimator
    model = ModelSpec(
        estimator=model_doc.get("estimator", default_estimator),
        params=tuple(sorted(model_doc.get("params", {}).items())),
        scale=bool(model_doc.get("scale", ModelSpec.scale)),
        one_hot=bool(model_doc.get("one_hot", ModelSpec.one_hot)),
    )
    try:
        _needs(check_importable(model.estimator), model.estimator, ("learn_one", "predict_one"))
    except SpecError as exc:
        raise _fail(text, model.estimator, f"[model] estimator: {exc}") from None

    drifts = []
    for d in doc.get("drift", []):
        _known(d, "drift", text)
        if d.get("signal") not in SIGNALS:
            raise _fail(text, str(d.get("signal")), f"drift signal must be one of {', '.join(SIGNALS)}")
        # HDDM_A reads a 0/1 error; a regression's errors are sizes, for ADWIN
        default = "ADWIN" if task == "regression" else DEFAULT_DETECTOR[d["signal"]]
        detector = d.get("detector", default)
        if detector not in DETECTORS:
            raise _fail(text, str(d.get("detector")), f"drift detector must be one of {', '.join(DETECTORS)}")
        if d["signal"] == "feature" and d.get("feature") not in names:
            raise _fail(text, str(d.get("feature")), f"drift on unknown feature {d.get('feature')!r}")
        drifts.append(DriftSpec(
            d["signal"], detector, d.get("feature"), tuple(sorted(d.get("params", {}).items())),
            int(d.get("warmup", 1000)), int(d.get("cooldown", 1000)),
            int(d.get("after_examples", PREDICTION_AFTER_EXAMPLES if d["signal"] == "prediction" else 0)),
        ))
        if drifts[-1].after_examples and d["signal"] != "prediction":
            raise _fail(text, "after_examples", "after_examples is for the prediction signal only")

    tr = doc.get("training", {})
    _known(tr, "training", text)
    metric = tr.get("metric", "mae" if task == "regression" else "accuracy")
    if metric not in METRICS:
        raise _fail(text, str(metric), f"training metric must be one of {', '.join(METRICS)}")
    training = TrainingSpec(
        publish_every=int(tr.get("publish_every", 2000)), publish_seconds=float(tr.get("publish_seconds", 0.0)),
        metric=metric, challenger_on_drift=bool(tr.get("challenger_on_drift", True)),
        promotion_min_examples=int(tr.get("promotion_min_examples", 500)),
        promotion_margin=float(tr.get("promotion_margin", 0.0)),
        promotion_timeout_examples=int(tr.get("promotion_timeout_examples", 5000)),
        challenger=str(tr.get("challenger", "sklearn")),
        sklearn_estimator=str(tr.get("sklearn_estimator", "")),
        sklearn_window=int(tr.get("sklearn_window", 1000)), sklearn_refit_every=int(tr.get("sklearn_refit_every", 250)),
        sklearn_every=int(tr.get("sklearn_every", 20000)),
        rollback_examples=int(tr.get("rollback_examples", 500)), rollback_threshold=float(tr.get("rollback_threshold", 0.05)),
        canary_percent=float(tr.get("canary_percent", 0.0)),
        performance_drop=float(tr.get("performance_drop", 0.1)),
    )
    if not 0.0 <= training.canary_percent <= 100.0:
        raise _fail(text, "canary_percent", "training.canary_percent must be between 0 and 100")
    if training.performance_drop < 0:
        raise _fail(text, "performance_drop", "training.performance_drop must be 0 (never) or more")
    if training.challenger not in ("sklearn", "river"):
        raise _fail(text, "challenger", "training.challenger must be sklearn or river")
    if training.sklearn_estimator:
        try:
            _needs(check_importable(training.sklearn_estimator), training.sklearn_estimator, ("fit", "predict"))
        except SpecError as exc:
            raise _fail(text, training.sklearn_estimator, f"[training] sklearn_estimator: {exc}") from None
    if training.publish_every < 1:
        raise _fail(text, "publish_every", "training.publish_every must be at least 1")
    join = doc.get("join", {})
    _known(join, "join", text)
    validate = doc.get("validate", {})
    _known(validate, "validate", text)
    deadletter_rate = _get(validate, "deadletter_rate", (int, float), 0.05, text, "[validate]")
    deadletter_window = _get(validate, "deadletter_window", int, 1000, text, "[validate]")
    if not 0 < deadletter_rate <= 1:
        raise _fail(text, "deadletter_rate", "validate.deadletter_rate must be a share above 0 and at most 1")
    if deadletter_window < 1:
        raise _fail(text, "deadletter_window", "validate.deadletter_window must be at least 1 record")
    spec = PipelineSpec(
        name=str(head.get("name", "pipeline")), task=task, fields=tuple(fields_), passthrough=passthrough,
        transforms=tuple(transforms), entity=tuple(entity), functions=_functions(feats, text), lookups=_lookups(feats, names, text),
        entity_ttl=entity_ttl, model=model, drift=tuple(drifts), training=training,
        dedup_horizon=float(validate.get("dedup_horizon_seconds", 3600.0)),
        deadletter_rate=float(deadletter_rate), deadletter_window=deadletter_window,
        join_horizon=float(join.get("horizon_seconds", 3600.0)),
        join_early_grace=float(join.get("early_label_grace_seconds", 60.0)), source_text=text,
    )
    twice = sorted({n for n in spec.feature_names if spec.feature_names.count(n) > 1})
    if twice:
        raise _fail(text, twice[0], f"two features are named {', '.join(twice)}: features need names of their own")
    return spec


#: metric name -> (river.metrics class name, higher is better)
METRICS: dict[str, tuple[str, bool]] = {
    "accuracy": ("Accuracy", True),
    "f1": ("F1", True),
    "logloss": ("LogLoss", False),
    "mae": ("MAE", False),
    "rmse": ("RMSE", False),
    "r2": ("R2", True),
}


def higher_is_better(metric: str) -> bool:
    """Whether a larger value of this metric is better (an unknown name: yes).

    >>> higher_is_better("accuracy"), higher_is_better("mae")
    (True, False)
    """
    return METRICS.get(metric, ("", True))[1]
