"""Every command the docs show in a fenced ``console`` block, as one a reader would type, exists:
a `make` target the Makefile has, or a `driftline` command whose arguments its parser accepts.
A renamed option or target fails here before a reader meets it."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from streams.cli.main import build_parser
from streams.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]
SHELL_OPERATORS = {"&", "&&", "||", "|", ";", ">", ">>", "<", "2>&1"}
BLOCK = re.compile(r"^```console\n(.*?)^```", re.S | re.M)


def console_commands(text: str) -> list[str]:
    """The `make` and `driftline` command lines of ``text``'s console blocks, without their comments
    or a leading `$ ` prompt; environment assignments before the command are dropped.

    >>> console_commands("```console\\nexport A=1 \\\\\\n  B=2\\nX=1 make demo \\\\\\n  DEMO_ARGS=--keep\\n```\\n")
    ['make demo DEMO_ARGS=--keep']
    >>> console_commands("```console\\ndriftline worker &   # all\\ndriftline spec init a.csv > a.toml\\n```\\n")
    ['driftline worker', 'driftline spec init a.csv']
    """
    out = []
    for block in BLOCK.findall(text):
        for line in block.replace("\\\n", " ").splitlines():  # a line continued with a backslash, as a shell joins it
            words = shlex.split(line.removeprefix("$ "), comments=True)
            cut = next((i for i, w in enumerate(words) if w in SHELL_OPERATORS), len(words))
            words = words[:cut]  # what the shell hands the command: not `&`, a pipe or a redirection
            while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
                words.pop(0)
            if words and words[0] in ("make", "driftline", ".venv/bin/driftline"):
                out.append(shlex.join(words))
    return out


def make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][a-z0-9-]*):", (ROOT / "Makefile").read_text(), re.M))


def problem(command: str) -> str | None:
    """Why ``command`` would not run as written, or None."""
    words = shlex.split(command)
    if words[0] == "make":
        missing = [w for w in words[1:] if "=" not in w and w not in make_targets()]
        return f"no make target {', '.join(missing)}" if missing else None
    try:
        build_parser().parse_args(words[1:])
    except (SystemExit, UsageError):  # driftline's parser says bad usage with UsageError
        return f"driftline's parser refuses {' '.join(words[1:])!r}"
    return None


PAGES = sorted((ROOT / "docs").rglob("*.md"))
COMMANDS = [(page.relative_to(ROOT), c) for page in PAGES for c in console_commands(page.read_text())]


def test_the_docs_show_commands_to_check() -> None:
    assert ("docs/index.md", "make demo") in [(str(p), c) for p, c in COMMANDS]


@pytest.mark.parametrize(("page", "command"), COMMANDS, ids=[f"{p}: {c}" for p, c in COMMANDS])
def test_each_command_the_docs_show_exists(page: Path, command: str) -> None:
    assert problem(command) is None, f"{page}: `{command}`: {problem(command)}"


def test_the_check_catches_a_renamed_option_and_a_missing_target() -> None:
    text = "```console\n$ driftline replay topic --as-live   # fine\nDRIFTLINE_WEB_PORT=6067 driftline worker --agnets validate\n" \
           "make demo\nmake docs-serv\n```\n"
    commands = console_commands(text)
    assert commands == ["driftline replay topic --as-live", "driftline worker --agnets validate", "make demo", "make docs-serv"]
    assert [problem(c) is None for c in commands] == [True, False, True, False]
