"""driftline's infrastructure: settings, topics, the Faust app, the local stack and the CLI."""

__version__ = "0.1.0"
