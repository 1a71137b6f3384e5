"""Backtests: recorded streams run through the core again, live or fast, with their reports."""
