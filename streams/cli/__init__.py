"""The `driftline` command: one module per subcommand."""
