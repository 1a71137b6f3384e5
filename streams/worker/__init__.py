"""The `driftline worker` process: the Faust app and its transport, metrics, web pages."""
