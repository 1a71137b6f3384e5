"""The worker's Prometheus metrics (all named ``driftline_*``), served at ``/metrics``.

docs/metrics.md describes each one; the Grafana dashboard and the Prometheus rules in deploy/
query only these names and labels (tests/unit/test_observability.py checks it).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter("driftline_events_total", "Records written, by output topic", ["topic"])
DEADLETTERS = Counter("driftline_deadletters_total", "Records dead-lettered, by reason", ["reason"])
PROCESSING = Histogram("driftline_processing_seconds", "Time to process one record, by agent", ["agent"],
                       buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5))
LATENCY = Histogram("driftline_end_to_end_seconds", "Event time to prediction",
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
GC_PAUSE = Histogram("driftline_gc_pause_seconds", "Time Python's garbage collector held the worker, by generation",
                     ["generation"], buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1))
ENTITIES_EXPIRED = Counter("driftline_entities_expired_total",
                           "Entities dropped from the scorer's state after the spec's entity TTL")
DUPLICATES = Counter("driftline_duplicates_total",
                     "Records read again after a restart and not processed twice, by stage", ["stage"])
JOINS = Counter("driftline_join_total", "Join outcomes", ["outcome"])
DRIFT = Counter("driftline_drift_detections_total", "Drift detections, by kind", ["kind"])
DRIFT_MERGED = Counter("driftline_drift_merged_total", "Drift detections within a cool-down, merged into the next alert, by kind",
                       ["kind"])
REFERENCE_RECORDS = Counter("driftline_reference_records_total", "Reference records read into the lookup tables, by topic", ["topic"])
REFERENCE_SKIPPED = Counter("driftline_reference_skipped_total",
                            "Reference records left out of the lookup tables (no key, not a JSON object), by topic and why",
                            ["topic", "why"])
VERSIONS = Counter("driftline_model_versions_total", "Model versions published, by status", ["status"])
SERVING = Gauge("driftline_model_version_in_service", "Model version the scorer serves", ["role"])
METRIC = Gauge("driftline_model_metric", "Model metric, by kind (prequential, rolling, served)", ["kind", "metric"])
ALERTS = Counter("driftline_alerts_total", "Alerts raised by this worker, by kind and severity", ["kind", "severity"])
REKEYED = Counter("driftline_rekeyed_total",
                  "Raw events sent on to the rekeyed topic: unkeyed, or keyed otherwise than by their entity id")
LABELS_REKEYED = Counter("driftline_labels_rekeyed_total",
                         "Users' feedback records sent on to the labels topic, keyed by event id, to meet their event's partition")
STATE_STORE_UP = Gauge("driftline_state_store_up",
                       "1 while Redis answers the scorer (its memory of event ids), 0 while it does not")
BROKER_DISK_FREE = Gauge("driftline_broker_disk_free_ratio",
                         "Share of a broker log directory's disk still usable, as the broker says", ["broker", "log_dir"])
SUBSCRIBER_LAG = Gauge("driftline_subscriber_lag",
                       "Records of an output topic a consumer group outside the pipeline has not read yet",
                       ["group", "topic"])
CONSUMED = Counter("driftline_consumed_total", "Records the agents read, by source topic", ["topic"])
LAG = Gauge("driftline_consumer_lag",
            "Records in a source partition this worker has not processed yet (end offset minus committed offset)",
            ["topic", "partition"])


def count_alert(alert: dict[str, Any]) -> None:
    """An alert listener (``Runtime.alert_listeners``): one more in ``driftline_alerts_total``."""
    ALERTS.labels(str(alert.get("kind", "")), str(alert.get("severity", ""))).inc()



def observe_batch(histogram: Any, seconds: float, records: int) -> None:
    """``records`` observations of ``seconds`` each in a histogram child: a batch's time per
    record, counted once per record as ``observe`` in a loop counts it, in two increments
    (the loop cost a microsecond per record on the hot path). Falls back to the loop where the
    client library keeps its buckets otherwise.

    >>> ours, loop = (Histogram(n, "x", ["agent"], buckets=(0.001, 0.01), registry=None).labels("a") for n in ("a_s", "b_s"))
    >>> for seconds, records in ((0.005, 3), (0.0001, 2), (0.5, 1)):
    ...     observe_batch(ours, seconds, records)
    ...     for _ in range(records):
    ...         loop.observe(seconds)
    >>> [(s.name, s.labels, s.value) for s in ours._samples()][:5] == [(s.name, s.labels, s.value) for s in loop._samples()][:5]
    True
    """
    buckets, total, bounds = getattr(histogram, "_buckets", None), getattr(histogram, "_sum", None), getattr(histogram, "_upper_bounds", None)
    if buckets is None or total is None or bounds is None or records <= 0:
        for _ in range(records):
            histogram.observe(seconds)
        return
    total.inc(seconds * records)
    for i, bound in enumerate(bounds):
        if seconds <= bound:
            buckets[i].inc(records)
            break

