"""Experiments: a durable record of every backtest (`driftline replay`), to list, show, compare
and report on later (`driftline experiments`)."""
