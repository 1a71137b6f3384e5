"""driftline's benchmark suite (`make bench`): speed targets live here, never in timed tests."""
