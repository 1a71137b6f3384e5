"""ACME's own model and feature code, used by its notebooks and, through driftline's entry
points, by the live pipeline: one definition of each feature for training and serving."""
