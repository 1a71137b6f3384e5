"""Pipeline specs on disk: the built-in demo pipeline, and reading a spec file."""
