"""The worker's Prometheus metrics (all named ``driftline_*``), served at ``/metrics``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter("driftline_events_total", "Records written, by output topic", ["topic"])
DEADLETTERS = Counter("driftline_deadletters_total", "Records dead-lettered, by reason", ["reason"])
PROCESSING = Histogram("driftline_processing_seconds", "Time to process one record, by agent", ["agent"],
                       buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5))
LATENCY = Histogram("driftline_end_to_end_seconds", "Event time to prediction",
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
JOINS = Counter("driftline_join_total", "Join outcomes", ["outcome"])
DRIFT = Counter("driftline_drift_detections_total", "Drift detections, by kind", ["kind"])
VERSIONS = Counter("driftline_model_versions_total", "Model versions published, by status", ["status"])
SERVING = Gauge("driftline_model_version_in_service", "Model version the scorer serves", ["role"])
METRIC = Gauge("driftline_model_metric", "Model metric, by kind (prequential, rolling, served)", ["kind", "metric"])
