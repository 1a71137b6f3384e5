"""The `driftline worker` process: the Faust app, its transport, metrics, web pages."""
