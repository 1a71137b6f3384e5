"""Java's class-data sharing (AppCDS) for the local Kafka broker: its classes, archived once per
machine, Java and set of jars, are mapped ready-parsed at each start instead of being read from
the jars and verified. Here a broker took 4.5 s of CPU to answer and 2.9 s with the archive; its
storage format 1.5 s and 1.0 s. The test suite starts about fifty.

A broker that stops while no archive exists writes one as it exits (``-XX:ArchiveClassesAtExit``;
one broker at a time). The next start tries it in a JVM that must use it (``-Xshare:on``) before
taking it in with a rename: an archive cut short (a broker killed while writing it) would crash
every JVM that maps it. A JVM that cannot use a taken archive (another Java) starts without it.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from pathlib import Path

from streams.settings import Settings

#: a broker writing the archive holds this long; past it, another may (the first was killed)
WRITING_S = 600.0


def _key(java: str, classpath: str) -> str:
    """What an archive is valid for: this Java, this class path and the jars on it, as they are."""
    binary = Path(java).resolve()
    parts = [str(binary), str(binary.stat().st_mtime_ns), classpath]
    folder = Path(classpath.removesuffix("*"))
    if folder.is_dir():
        parts += [f"{jar.name} {jar.stat().st_size} {jar.stat().st_mtime_ns}" for jar in sorted(folder.glob("*.jar"))]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _works(java: str, classpath: str, archive: Path) -> bool:
    """Whether a JVM that must map ``archive`` runs one of Kafka's tools to its end."""
    try:
        ran = subprocess.run([java, "-Xshare:on", f"-XX:SharedArchiveFile={archive}", "-cp", classpath,
                              "kafka.tools.StorageTool", "random-uuid"], capture_output=True, timeout=60, check=False)
    except subprocess.TimeoutExpired:
        return False
    return ran.returncode == 0


def options(settings: Settings, java: str, classpath: str) -> tuple[list[str], list[str]]:
    """The JVM options for every JVM (the archive, when there is one) and for one broker (to
    write the archive as it exits, when there is none and no other broker is writing it). A
    cache that cannot be written only means a broker without the archive."""
    try:
        return _options(settings, java, classpath)
    except OSError:
        return [], []


def _options(settings: Settings, java: str, classpath: str) -> tuple[list[str], list[str]]:
    folder = settings.cache_dir / "kafka-class-data"
    key = _key(java, classpath)
    archive, written, writing = folder / f"{key}.jsa", folder / f"{key}.written", folder / f"{key}.writing"
    if not archive.exists() and written.exists():
        if _works(java, classpath, written):
            os.replace(written, archive)
            writing.unlink(missing_ok=True)
        elif not _young(writing):  # cut short, and no broker is at it any more
            written.unlink(missing_ok=True)
    if archive.exists():
        return [f"-XX:SharedArchiveFile={archive}"], []
    if written.exists():  # being written, or tried at the next start
        return [], []
    folder.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(writing, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        if _young(writing):
            return [], []
        writing.touch()
    return [], [f"-XX:ArchiveClassesAtExit={written}"]


def _young(path: Path) -> bool:
    try:
        return time.time() - path.stat().st_mtime < WRITING_S
    except FileNotFoundError:
        return False
