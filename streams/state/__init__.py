"""State that outlives a process, kept in Redis or rebuilt from topics."""
