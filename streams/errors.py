"""Errors that reach the user as one clear line and an exit code (see the contract)."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1  # the work or the environment failed
EXIT_USAGE = 2  # bad usage or bad input


class DriftlineError(Exception):
    """A failure with a message meant for the user and the exit code it deserves."""

    exit_code: int = EXIT_FAILED

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(DriftlineError):
    """Bad usage or bad input: exit code 2."""

    exit_code = EXIT_USAGE


class EnvironmentProblem(DriftlineError):
    """Something outside driftline is missing or in the way (Java, a port, a broker): exit 1."""

    exit_code = EXIT_FAILED
