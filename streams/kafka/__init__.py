"""Talking to the broker: topics, admin, reading and producing records, built-in sources."""
