"""Helpers for the tests and benchmarks: worker subprocesses, topic readers, a steady feed."""
