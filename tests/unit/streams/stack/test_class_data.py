"""The broker's class-data archive (streams.stack.class_data): when a broker writes it, when a
start takes it in, and that an archive a JVM cannot run with is never taken. ``java`` here is a
stand-in that exits as a JVM mapping the archive would: 0 when it runs, 1 when it cannot."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from streams.settings import Settings
from streams.stack import class_data


@pytest.fixture
def place(tmp_path: Path) -> tuple[Settings, str, Path]:
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "kafka_2.13-3.9.1.jar").write_bytes(b"jar")
    java = tmp_path / "java"
    java.write_text('#!/bin/sh\n# a JVM that must map the archive: it runs only with one that says "whole"\n'
                    'for a in "$@"; do case "$a" in -XX:SharedArchiveFile=*) grep -q whole "${a#*=}" && exit 0;; esac; done\nexit 1\n')
    java.chmod(0o755)
    settings = replace(Settings(), cache_dir=tmp_path / "cache")
    return settings, str(java), lib


def folder(settings: Settings) -> Path:
    return settings.cache_dir / "kafka-class-data"


def test_with_no_archive_one_broker_writes_it_and_the_next_start_takes_it_in(place: tuple[Settings, str, Path]) -> None:
    settings, java, lib = place
    every, one = class_data.options(settings, java, f"{lib}/*")
    assert every == [] and len(one) == 1 and one[0].startswith("-XX:ArchiveClassesAtExit=")
    assert class_data.options(settings, java, f"{lib}/*") == ([], [])  # one writer at a time
    written = Path(one[0].split("=", 1)[1])
    written.write_text("whole")  # the broker exited cleanly
    every, one = class_data.options(settings, java, f"{lib}/*")
    archive = written.with_suffix(".jsa")
    assert every == [f"-XX:SharedArchiveFile={archive}"] and one == []
    assert archive.read_text() == "whole" and sorted(p.name for p in folder(settings).iterdir()) == [archive.name]


def test_an_archive_cut_short_is_never_taken_and_is_written_again_once_its_writer_is_gone(place: tuple[Settings, str, Path]) -> None:
    settings, java, lib = place
    _, one = class_data.options(settings, java, f"{lib}/*")
    written = Path(one[0].split("=", 1)[1])
    written.write_text("cut")  # the broker was killed while writing it
    assert class_data.options(settings, java, f"{lib}/*") == ([], [])  # its writer may still be at it
    assert written.exists() and not written.with_suffix(".jsa").exists()
    stale = time.time() - class_data.WRITING_S - 1
    os.utime(written.with_suffix(".writing"), (stale, stale))
    every, one = class_data.options(settings, java, f"{lib}/*")
    assert not written.exists()  # dropped, and written again by the broker starting now
    assert every == [] and one == [f"-XX:ArchiveClassesAtExit={written}"]
    assert class_data.options(settings, java, f"{lib}/*") == ([], [])  # by that one broker only


def test_other_jars_or_another_java_have_an_archive_of_their_own(place: tuple[Settings, str, Path]) -> None:
    settings, java, lib = place
    _, first = class_data.options(settings, java, f"{lib}/*")
    (lib / "kafka-clients-3.9.1.jar").write_bytes(b"another jar")
    _, second = class_data.options(settings, java, f"{lib}/*")
    assert first and second and first != second


def test_a_cache_that_cannot_be_written_only_means_no_archive(place: tuple[Settings, str, Path]) -> None:
    settings, java, lib = place
    settings.cache_dir.write_text("a file where the cache folder should be")
    assert class_data.options(settings, java, f"{lib}/*") == ([], [])
