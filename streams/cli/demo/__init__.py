"""`driftline demo`: the run, what it watches, how its outcome is judged."""
