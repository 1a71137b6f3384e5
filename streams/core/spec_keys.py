"""The pipeline spec's sections and keys, with what each means: the one list the spec loader
accepts keys from (:func:`streams.core.spec.parse_spec` refuses any other key) and the docs
site's spec reference is generated from (:func:`streams.reference.spec_page`). A key added to the
loader is added here, with its help, or the loader refuses it.

>>> sorted(SECTIONS["join"].names)
['early_label_grace_seconds', 'horizon_seconds']
>>> sorted(TOP_LEVEL)[:3]
['drift', 'features', 'fields']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: a key a table must have: no default
REQUIRED = object()


@dataclass(frozen=True)
class Key:
    """One key of a section: its TOML type, its default (:data:`REQUIRED` when it has none, None
    when unset means something the help says), and what it means."""

    name: str
    type: str
    default: Any
    help: str
    #: the default as the reference shows it, when the value alone would mislead
    shown: str = ""


@dataclass(frozen=True)
class Section:
    """A table (``[model]``) or an array of tables (``[[drift]]``) of the spec."""

    path: str
    array: bool
    help: str
    keys: tuple[Key, ...]

    @property
    def header(self) -> str:
        return f"[[{self.path}]]" if self.array else f"[{self.path}]"

    @property
    def names(self) -> frozenset[str]:
        """Every key the loader accepts in this section, the sub-tables below it included."""
        below = {s.path.split(".")[-1] for s in _SECTIONS if s.path.startswith(self.path + ".")}
        return frozenset({k.name for k in self.keys} | below)


_SECTIONS = (
    Section("pipeline", False, "What the pipeline is called and what it predicts.", (
        Key("name", "string", "pipeline", "The pipeline's name: in reports, experiments and each model version's lineage."),
        Key("task", "`binary`, `multiclass` or `regression`", "binary",
            "What a label is: a class of two, a class of several, or a number. It picks the default model, metric "
            "and drift detector on the errors, and which labels the feedback agent accepts."),
    )),
    Section("fields", True, "One raw field of an event's `data`: its type and what values it may take. An event that "
            "breaks a field's rule is dead-lettered with the reason (`missing_field`, `wrong_type`, `out_of_range`, "
            "`unknown_category`). At least one field is needed.", (
        Key("name", "string", REQUIRED, "The key in the event's `data`."),
        Key("type", "`number`, `integer`, `category`, `boolean` or `text`", REQUIRED,
            "What the value must be. A category is a string or an integer; text is carried, not featurized by default."),
        Key("required", "boolean", True, "Whether an event without the field is dead-lettered (`missing_field`)."),
        Key("min", "number", None, "The least value a number or integer may take (inclusive); none when unset."),
        Key("max", "number", None, "The greatest value a number or integer may take (inclusive); none when unset."),
        Key("categories", "array of strings", None, "A category's known values; any value when unset."),
        Key("unseen", "`allow` or `deadletter`", "allow",
            "What a category outside `categories` does: passes to the featurizer, or is dead-lettered (`unknown_category`)."),
    )),
    Section("features", False, "The features the model is given, in the order they are written: the passthrough fields, "
            "then transforms, plugin functions, entity aggregates and lookups.", (
        Key("passthrough", "array of field names", None, "The raw fields that are features as they are.",
            shown="every field but text"),
        Key("entity_ttl_seconds", "number", 604800.0,
            "An entity idle longer than this (event time) starts afresh, and its state is dropped from memory.",
            shown="`604800` (a week)"),
    )),
    Section("features.transform", True, "A feature computed from one field.", (
        Key("name", "string", None, "The feature's name.", shown="`<op>_<field>`"),
        Key("field", "field name", REQUIRED, "The raw field it reads."),
        Key("op", "`log1p`, `sqrt`, `square` or `abs`", REQUIRED, "What it computes."),
    )),
    Section("features.entity", True, "A running aggregate over the entity's recent events (`entity_id`), kept in a "
            "changelogged table partitioned by entity: over the last `last` events, or the last `seconds` of event time "
            "(60 buckets: an event leaves with its bucket, up to 1/60 of the window late).", (
        Key("name", "string", None, "The feature's name.", shown="the aggregate"),
        Key("agg", "`count`, `mean`, `std`, `min`, `max` or `time_since_previous`", REQUIRED, "What it computes."),
        Key("field", "field name", None, "The raw field it aggregates; not for `count` and `time_since_previous`."),
        Key("last", "integer", None, "Over the entity's last N events. Exactly one of `last` and `seconds`."),
        Key("seconds", "number", None, "Over the last this many seconds of event time. Exactly one of `last` and `seconds`."),
    )),
    Section("features.function", True, "A feature function from an installed plugin (entry point group "
            "`driftline.features`). It takes the event, and its entity's own state when it has a `state` parameter, "
            "and returns named values; an event it raises on is dead-lettered (`feature_failed`).", (
        Key("name", "string", REQUIRED, "The plugin's entry-point name."),
        Key("params", "table", None, "Keyword arguments it is called with, checked against its signature.", shown="none"),
        Key("outputs", "array of strings", None, "The names it returns.",
            shown="what `@streams.core.plugins.feature` declares"),
    )),
    Section("features.lookup", True, "Reference data each event is enriched from: a compacted topic keyed by id whose "
            "values are JSON objects. An event sees the latest version valid at its own time (the value's `ts`, else "
            "the record's time), live and in replay.", (
        Key("name", "string", None, "The lookup's name, unique in the spec.", shown="the topic"),
        Key("topic", "Kafka topic name", REQUIRED, "The compacted reference topic (not prefixed)."),
        Key("key", "`entity_id` or a field name", REQUIRED, "The event field holding the id to look up."),
        Key("fields", "array of strings", REQUIRED, "The reference record's fields taken as features."),
        Key("on_miss", "`default` or `deadletter`", "default",
            "What an id the topic lacks does: the `default` values, or a dead letter (`lookup_miss`)."),
        Key("default", "table", None, "The fields' values on a miss.", shown="none"),
        Key("prefix", "string", "", "Put before each field's name to make its feature's name."),
    )),
    Section("model", False, "The online model that scores every event and learns from every label.", (
        Key("estimator", "dotted class name or plugin name", "river.tree.HoeffdingTreeClassifier",
            "A class from `river`, `sklearn` or `streams` with `learn_one` and `predict_one`, or an installed "
            "plugin (entry point group `driftline.estimators`). Nothing else a spec names is imported.",
            shown="`river.tree.HoeffdingTreeClassifier` (`river.linear_model.LinearRegression` for regression)"),
        Key("params", "table", None, "Keyword arguments the estimator is made with.", shown="none"),
        Key("scale", "boolean", False, "Standard-scale numeric features before the estimator."),
        Key("one_hot", "boolean", True, "One-hot encode categories before the estimator."),
    )),
    Section("drift", True, "A drift monitor. Each alert carries its detector, parameters, the statistic before and "
            "after, and a sentence.", (
        Key("signal", "`error`, `prediction` or `feature`", REQUIRED,
            "What it watches: the model's errors (concept drift, in the trainer), its predictions, or a raw "
            "feature (data drift, in the scorer)."),
        Key("detector", "`ADWIN`, `PageHinkley`, `DDM`, `HDDM_A`, `HDDM_W`, `KSWIN` or `frequency`", None,
            "River's detector (or `frequency`, for a category's shares).",
            shown="`HDDM_A` on the errors (`ADWIN` for regression), else `ADWIN`"),
        Key("feature", "field name", None, "The field the `feature` signal watches."),
        Key("params", "table", None, "The detector's parameters.", shown="River's defaults"),
        Key("warmup", "integer", 1000, "Values seen before it may alert."),
        Key("cooldown", "integer", 1000, "Values after an alert during which further detections are merged into it."),
        Key("after_examples", "integer", None,
            "The `prediction` signal only: watch predictions once the model serving was trained on this many "
            "examples, and then that model's, pinned (a model still learning moves its own predictions).",
            shown="`5000` for the prediction signal, else none"),
    )),
    Section("training", False, "How the trainer learns, publishes versions, runs a challenger and deploys it.", (
        Key("publish_every", "integer", 2000, "Publish a model version every N labelled examples learned (at least 1)."),
        Key("publish_seconds", "number", 0.0, "Also publish once this much event time has passed since the last version (0: never)."),
        Key("metric", "`accuracy`, `f1`, `logloss`, `mae`, `rmse` or `r2`", "accuracy",
            "The prequential metric, the gate's and the rollback's.", shown="`accuracy` (`mae` for regression)"),
        Key("challenger_on_drift", "boolean", True, "Start a challenger when concept drift is detected."),
        Key("challenger", "`sklearn` or `river`", "sklearn",
            "What concept drift starts: a scikit-learn model refitted on a sliding window of recent examples, or a "
            "fresh copy of the online model."),
        Key("sklearn_estimator", "dotted class name", "", "The scikit-learn challenger's estimator.",
            shown="`sklearn.tree.DecisionTreeClassifier` (`…Regressor` for regression), `min_samples_leaf=5`"),
        Key("sklearn_window", "integer", 1000, "The scikit-learn challenger's window of recent examples."),
        Key("sklearn_refit_every", "integer", 250, "Refit the scikit-learn challenger every N examples."),
        Key("sklearn_every", "integer", 20000, "Also start a scikit-learn challenger every N examples without drift (0: only on drift)."),
        Key("promotion_min_examples", "integer", 500, "Labelled examples the gate scores a challenger on before it may be promoted."),
        Key("promotion_margin", "number", 0.0, "How far the challenger must lead the champion on those examples to be promoted."),
        Key("promotion_timeout_examples", "integer", 5000, "A challenger not promoted after this many examples is retired."),
        Key("rollback_examples", "integer", 500, "After a promotion, examples over which the new champion is watched against the one before."),
        Key("rollback_threshold", "number", 0.05, "Roll back when the new champion trails the one before by more than this."),
        Key("canary_percent", "number", 0.0,
            "Share of entities (a stable hash of `entity_id`) the challenger serves, 0 to 100; 0 keeps it in shadow only."),
        Key("performance_drop", "number", 0.1,
            "A `performance_drop` alert when the served metric over the last 1,000 labelled examples falls from its best "
            "by more than this: points where higher is better (accuracy), a share of the best where lower is (MAE). "
            "`performance_recovered` once it is back within half of it; 0: never."),
    )),
    Section("join", False, "How labels meet their scored events.", (
        Key("horizon_seconds", "number", 3600.0, "How long a scored event waits for its label; a later label is `unknown_event`."),
        Key("early_label_grace_seconds", "number", 60.0, "How long a label that came before its event waits for it."),
    )),
    Section("validate", False, "Checks on raw events beyond their fields.", (
        Key("dedup_horizon_seconds", "number", 3600.0,
            "How long an event id is remembered to catch a duplicate (`duplicate_event`): wall clock live, event time in replay."),
        Key("deadletter_rate", "number", 0.05,
            "A `deadletter_rate` alert when more than this share of the last `deadletter_window` raw records a worker "
            "read were dead-lettered; `deadletter_rate_recovered` once it is back at half of it."),
        Key("deadletter_window", "integer", 1000, "The raw records the dead-letter rate is taken over."),
    )),
)

#: each section by its path (``"features.entity"``)
SECTIONS: dict[str, Section] = {s.path: s for s in _SECTIONS}
#: the spec's top-level tables
TOP_LEVEL: frozenset[str] = frozenset(s.path for s in _SECTIONS if "." not in s.path)
