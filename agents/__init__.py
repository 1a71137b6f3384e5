"""driftline's Faust agents: thin wiring that decodes, calls the pure core, sends, acks.

``validate`` (raw → features, predictions, dead letters), ``feedback`` (labels re-keyed by event),
``join`` (features + labels → examples), ``train`` (examples → versions, alerts), ``models``
(every worker takes new versions into service), ``webhook`` (alerts to an HTTP endpoint);
:mod:`agents.runtime` is what they share in one worker.
"""
