"""The console commands print their tables on: a terminal's own width; piped output (a script, a
log, `| grep`) wide enough that no cell is cut, where rich would otherwise assume 80 columns and
shorten "champion" to "champi…"."""

from __future__ import annotations

import sys

from rich.console import Console

PIPED_WIDTH = 200


def output_console() -> Console:
    """A console for standard output."""
    return Console() if sys.stdout.isatty() else Console(width=PIPED_WIDTH)
