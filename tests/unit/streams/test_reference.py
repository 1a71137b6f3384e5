"""The docs' reference pages are generated from the code: a setting declared in the settings
object is on the settings page, with its variable, default and meaning, and none lacks help."""

from __future__ import annotations

from dataclasses import dataclass, fields

import pytest

from streams.reference import MissingHelp, settings_page
from streams.settings import Settings, _var


def test_every_setting_is_on_the_page_with_its_help() -> None:
    page = settings_page()
    for f in fields(Settings):
        assert f"| `{f.metadata['env']}` |" in page
        assert f.metadata["help"].split(".")[0].replace("|", "&#124;") in page


def test_a_setting_added_to_the_code_appears_on_the_page_with_no_hand_edit() -> None:
    @dataclass(frozen=True)
    class Grown(Settings):
        fetch_wait_ms: int = _var("DRIFTLINE_FETCH_WAIT_MS", 25, "How long a fetch waits at the broker for records.")
        spill_dir: str = _var("DRIFTLINE_SPILL_DIR", "", "Where overflow goes.", shown="the state directory")

    page = settings_page(Grown)
    assert "| `DRIFTLINE_FETCH_WAIT_MS` | `25` | How long a fetch waits at the broker for records. |" in page
    assert "| `DRIFTLINE_SPILL_DIR` | the state directory | Where overflow goes. |" in page
    assert "DRIFTLINE_FETCH_WAIT_MS" not in settings_page()


def test_a_setting_without_help_fails_the_page_naming_it() -> None:
    @dataclass(frozen=True)
    class Silent(Settings):
        mystery: int = _var("DRIFTLINE_MYSTERY", 1, " ")

    with pytest.raises(MissingHelp, match="DRIFTLINE_MYSTERY"):
        settings_page(Silent)
