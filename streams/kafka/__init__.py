"""Talking to the broker: topics, admin, readers, producers, built-in sources."""
