import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from streams.kafka import admin
from streams.kafka.topics import topic_specs
from streams.settings import Settings
from tests.support.pipeline import Worker

LOG_TAIL = 40  # lines of each worker's log shown when a test fails, after its warnings and errors


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def worker(stack_settings: Settings, tmp_path: Path) -> Iterator[Worker]:
    """A running `driftline worker` on its own topic prefix (so its own topics and registry)."""
    settings = replace(stack_settings, topic_prefix=f"pipe{uuid.uuid4().hex[:8]}")
    admin.ensure_topics(settings, topic_specs(settings))
    w = Worker(settings, tmp_path)
    w.start()
    yield w
    w.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test shows what its workers logged (their warnings and errors, then the end):
    their folders are gone by the time anyone reads a CI log."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    tmp = getattr(item, "funcargs", {}).get("tmp_path")
    if report.when != "call" or not report.failed or tmp is None:
        return
    for log in sorted(Path(tmp).rglob("*.log")):
        lines = [line for line in log.read_text(errors="replace").splitlines()
                 if line.strip() and not line.startswith(("|", "+", "┌", "│", "└", "├"))]
        loud = [line for line in lines if any(w in line for w in ("WARNING", "ERROR", "CRITICAL", "Traceback", "error:"))]
        report.sections.append((f"{log.relative_to(tmp)}: warnings and errors, then its last {LOG_TAIL} lines",
                                "\n".join([*loud[-100:], "...", *lines[-LOG_TAIL:]])))
