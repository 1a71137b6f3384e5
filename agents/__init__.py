"""driftline's Faust agents: thin wiring that decodes, calls the pure core, sends and acks.

The pipeline's agents (validate, score, join, train, drift) arrive with the pipeline issue.
"""
